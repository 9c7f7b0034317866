// Command _generate writes trainer/internal/kern's generated amd64
// assembly (gen_amd64.s, declared in gen_decl_amd64.go) with avo, the AVX2
// and AVX-512 bodies of each kernel from one description: the SGEMM
// register-tile kernels and packers of every tier's plan (tile, gemm.go and
// pack.go), the elementwise layer kernels and the momentum step
// (elementwise, vec.go), the float64 reductions (reduction, reduce.go), the
// Winograd transforms (wino.go, wino4.go) and the max-pooling rows (pool.go). It is
// its own module so that avo never enters pairflow's go.mod. Run it through
// go generate in trainer/internal/kern (CI regenerates and fails on a
// diff).
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

// The plans' tiles. The AVX-512 plan runs 8×32 tiles (16 accumulators),
// and 14×32 ones (28 of the 32 zmm registers) where those pad fewer rows of
// C (fewerPaddedRows in gemm.go); chosen by gemmbench measurements (see
// docs/benchmarks-avx512.md).
var (
	avx2Tile        = tile{mr: 6, nv: 2, zmm: false}
	avx512Tile      = tile{mr: 14, nv: 2, zmm: true}
	avx512SmallTile = tile{mr: 8, nv: 2, zmm: true}
	// The 8×32 kernel the AVX-512 plan runs where it reads B in place
	// (gemmPlan.kernelB, packRulePrefetchB): it prefetches the next B panel
	// and the C tile again near the end.
	avx512InPlaceBTile = tile{mr: 8, nv: 2, zmm: true, prefetchB: true, lateC: 32, variant: "PrefetchB"}
)

func main() {
	ConstraintExpr("amd64,!purego,!noasm")
	maskTable()

	kernel(avx2Tile)
	packA6()
	packAEdge(avx2Tile.mr, "AVX2")
	packB(avx2Tile)
	packBT(avx2Tile.nr(), "AVX2")

	kernel(avx512Tile)
	packAT(avx512Tile.mr, "AVX2")
	packAEdge(avx512Tile.mr, "AVX2")
	packB(avx512Tile)
	packBT(avx512Tile.nr(), "AVX2")

	kernel(avx512SmallTile)
	kernel(avx512InPlaceBTile)
	packAT(avx512SmallTile.mr, "AVX2")
	packAEdge(avx512SmallTile.mr, "AVX2")

	vecKernels()
	reduceKernels()
	winoKernels()
	wino4Kernels()
	poolKernels()

	Generate()
}
