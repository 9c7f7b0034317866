//go:build amd64 && !purego && !noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

//go:generate sh -c "cd _generate && go run . -out ../gen_amd64.s -stubs ../gen_decl_amd64.go -pkg kern"

// The SIMD plans. Their kernels and packers are generated (gen_amd64.s,
// declared in gen_decl_amd64.go) from one description in _generate.
func init() {
	plans[cpu.AVX2] = &gemmPlan{
		name: "avx2 6×16", mr: 6, nr: 16, mc: 144, nc: 3072,
		kernel:   kernelAsm(sgemmKernel6x16AVX2),
		packA:    packAAsm(6, packA6AVX2),
		packAE:   packAEdgeAsm(6, packAEdge6AVX2),
		packB:    packBAsm(16, packB16AVX2),
		packBT:   packBTAsm(16, packB16TAVX2),
		packRule: packRuleAVX2,
	}
	// The AVX-512 plan runs 8×32 tiles, and 14×32 ones where those pad
	// fewer rows. On Zen 4, 8×32 measured as fast as or faster than 14×32
	// on 35 of gemmbench's 43 shapes (up to 1.23× where K ≤ 128 or
	// M ≤ 128; 1.04× at 1024²), within noise on six, and slower only for
	// M = 27 (0.87–0.93×), which the rule keeps on 14×32; see
	// docs/benchmarks-avx512.md.
	plans[cpu.AVX512] = &gemmPlan{
		name: "avx512 8×32", mr: 8, nr: 32, mc: 168, nc: 3072,
		kernel:   kernelAsm(sgemmKernel8x32AVX512),
		kernelB:  kernelAsm(sgemmKernel8x32AVX512PrefetchB),
		packA:    packAAsm(8, packA8AVX2),
		packAE:   packAEdgeAsm(8, packAEdge8AVX2),
		packB:    packBAsm(32, packB32AVX512),
		packBT:   packBTAsm(32, packB32TAVX2),
		packRule: packRulePrefetchB,
		alt: &gemmPlan{
			name: "avx512 14×32", mr: 14, nr: 32, mc: 168, nc: 3072,
			kernel:   kernelAsm(sgemmKernel14x32AVX512),
			packA:    packAAsm(14, packA14AVX2),
			packAE:   packAEdgeAsm(14, packAEdge14AVX2),
			packB:    packBAsm(32, packB32AVX512),
			packBT:   packBTAsm(32, packB32TAVX2),
			packRule: packRuleAVX512,
		},
	}
}

type asmKernel func(kc int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc, h, w int, alpha, beta float32, load int)

// kernelAsm adapts a generated kernel to gemmPlan.kernel.
func kernelAsm(k asmKernel) microKernelFunc {
	return func(kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
		l := 0
		if load {
			l = 1
		}
		k(kc, &a[0], aRow, aStep, &b[0], bStep, &c[0], ldc, h, w, alpha, beta, l)
	}
}

// packAAsm adapts a generated A packer of mr rows: it packs the first
// multiple of 8 columns and returns how many (0 when kc < 8).
func packAAsm(mr int, f func(kc8 int, a *float32, lda int, dst *float32)) func(int, []float32, int, []float32) int {
	return func(kc int, a []float32, lda int, dst []float32) int {
		kc8 := kc &^ 7
		if kc8 == 0 {
			return 0
		}
		_ = a[(mr-1)*lda+kc8-1]     // bounds: mr rows of kc8 columns
		_ = dst[mr*kc8+packSlack-1] // bounds: the packed columns and a spill
		f(kc8, &a[0], lda, &dst[0])
		return kc8
	}
}

// packAEdgeAsm adapts a generated edge-panel packer of mr-float columns
// (mr 6..8 or 14..16: a row block's stores spill at most packSlack floats
// past a column) to gemmPlan.packAE: it packs the first multiple of 8 columns of
// the h < mr rows, row block 8..h-1 first, then rows 0..7, whose stores
// overwrite the floats the first block spilled into the next column.
func packAEdgeAsm(mr int, f func(kc8 int, a *float32, lda, rows int, dst *float32)) func(int, []float32, int, int, []float32) int {
	if mr < 6 || mr > 8 && mr < 14 || mr > 16 {
		panic("kern: packAEdgeAsm: spill not bounded for this mr")
	}
	return func(kc int, a []float32, lda, h int, dst []float32) int {
		kc8 := kc &^ 7
		if kc8 == 0 || h <= 0 || h >= mr {
			return 0
		}
		_ = a[(h-1)*lda+kc8-1]      // bounds: h rows of kc8 columns
		_ = dst[mr*kc8+packSlack-1] // bounds: the packed columns and a spill
		if h > 8 {
			f(kc8, &a[8*lda], lda, h-8, &dst[8])
		}
		f(kc8, &a[0], lda, min(h, 8), &dst[0])
		return kc8
	}
}

// packBAsm adapts a generated packer of a full nr-column panel of B.
func packBAsm(nr int, f func(kc int, b *float32, ldb int, dst *float32)) func(int, []float32, int, []float32) bool {
	return func(kc int, b []float32, ldb int, dst []float32) bool {
		if kc == 0 {
			return false
		}
		_ = b[(kc-1)*ldb+nr-1]
		_ = dst[kc*nr-1]
		f(kc, &b[0], ldb, &dst[0])
		return true
	}
}

// packBTAsm adapts a generated packer of a full nr-column panel of a
// transposed B: it packs the first multiple of 8 rows and returns how many.
func packBTAsm(nr int, f func(kc8 int, b *float32, ldb int, dst *float32)) func(int, []float32, int, []float32) int {
	return func(kc int, b []float32, ldb int, dst []float32) int {
		kc8 := kc &^ 7
		if kc8 == 0 {
			return 0
		}
		_ = b[(nr-1)*ldb+kc8-1]
		_ = dst[kc8*nr-1]
		f(kc8, &b[0], ldb, &dst[0])
		return kc8
	}
}
