package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// gemmTol states the SGEMM tolerance: for each element,
//
//	|got − want| ≤ 2·(k+2)·2⁻²⁴·(|alpha|·Σ_p |a_ip·b_pj| + |beta·c_ij|)
//
// where want is computed in float64: the classical bound for a float32 sum
// of k products, with a factor 2 to spare.
func gemmTol(k int) float64 { return 2 * float64(k+2) * eps32 }

type gemmCase struct {
	tA, tB      bool
	m, n, k     int
	alpha, beta float32
}

func (g gemmCase) String() string {
	tr := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s_m%d_n%d_k%d_a%g_b%g", tr(g.tA), tr(g.tB), g.m, g.n, g.k, g.alpha, g.beta)
}

// runGemm runs Sgemm on guarded operands with padded leading dimensions and
// checks the result against a float64 reference and the guard bands.
func runGemm(t *testing.T, g gemmCase, seed uint64) []float32 {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	ar, ac := g.m, g.k
	if g.tA {
		ar, ac = g.k, g.m
	}
	br, bc := g.k, g.n
	if g.tB {
		br, bc = g.n, g.k
	}
	lda, ldb, ldc := ac+3, bc+1, g.n+5
	a, checkA := matrix(r, ar, ac, lda)
	b, checkB := matrix(r, br, bc, ldb)
	c, checkC := matrix(r, g.m, g.n, ldc)
	c0 := append([]float32(nil), c...)
	if g.beta == 0 {
		// C must not be read when beta is 0: poison it.
		for i := 0; i < g.m; i++ {
			for j := 0; j < g.n; j++ {
				c[i*ldc+j] = float32(math.Inf(1))
			}
		}
	}
	Sgemm(g.tA, g.tB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta, c, ldc)
	checkA(t, "A")
	checkB(t, "B")
	checkC(t, "C")
	checkGaps(t, "C", c, g.m, g.n, ldc)
	tol := gemmTol(g.k)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var s, sa float64
			for p := 0; p < g.k; p++ {
				var av, bv float32
				if g.tA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if g.tB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			want := float64(g.alpha) * s
			scale := math.Abs(float64(g.alpha)) * sa
			if g.beta != 0 {
				want += float64(g.beta) * float64(c0[i*ldc+j])
				scale += math.Abs(float64(g.beta) * float64(c0[i*ldc+j]))
			}
			got := float64(c[i*ldc+j])
			if !(math.Abs(got-want) <= tol*scale+1e-30) {
				t.Fatalf("%v: C[%d][%d] = %g, want %g (tolerance %g)", g, i, j, got, want, tol*scale)
			}
		}
	}
	return c
}

func gemmCases(short bool) []gemmCase {
	dims := []int{1, 7, 17, 33, 255}
	if short {
		dims = []int{1, 7, 17, 33}
	}
	var cs []gemmCase
	ab := [][2]float32{{1, 0}, {-0.5, 1}, {2, 0.25}}
	i := 0
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			for _, m := range dims {
				for _, n := range dims {
					for _, k := range dims {
						x := ab[i%len(ab)]
						i++
						cs = append(cs, gemmCase{tA, tB, m, n, k, x[0], x[1]})
					}
				}
			}
		}
	}
	// Block boundaries: k across kcBlock, m across mcBlock, n across ncBlock.
	for _, tA := range []bool{false, true} {
		for _, tB := range []bool{false, true} {
			cs = append(cs,
				gemmCase{tA, tB, 13, 50, kcBlock + 1, 1, 0},
				gemmCase{tA, tB, 144 + 7, 70, 40, 1, 1},  // past the AVX2 plan's M block
				gemmCase{tA, tB, 168 + 15, 77, 40, 1, 1}, // past the AVX-512 plan's
				gemmCase{tA, tB, 29, 33, 9, 1, 0},        // AVX-512 tile edges: 2×14+1 rows, 32+1 columns
				gemmCase{tA, tB, 8, 49, 2*kcBlock + 5, 0.5, -1},
				gemmCase{tA, tB, 7, 17, 16*kcBlock + 9, 1, 0.5}, // K split in chunks
			)
			if !short {
				cs = append(cs, gemmCase{tA, tB, 9, 3072 + 21, 20, 1, 0.5}) // past the N block
			}
		}
	}
	return cs
}

func TestSgemm(t *testing.T) {
	cases := gemmCases(testing.Short())
	forEachTier(t, func(t *testing.T) {
		for _, pol := range []int{packAuto, packAlways, packNever} {
			packPolicy = pol
			for i, g := range cases {
				if pol != packAuto && g.m*g.n*g.k > 1<<20 {
					continue
				}
				runGemm(t, g, uint64(i))
			}
		}
		packPolicy = packAuto
	})
}

func TestSgemmZeroShapes(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		// k == 0 scales C by beta; alpha == 0 too, without reading A or B.
		c := []float32{1, 2, 3, 4}
		Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 3, c, 2)
		if c[0] != 3 || c[3] != 12 {
			t.Fatalf("k=0: got %v", c)
		}
		a := []float32{float32(math.NaN()), 1}
		Sgemm(false, false, 2, 2, 1, 0, a, 1, []float32{1, 1}, 2, 0, c, 2)
		if c[0] != 0 || c[3] != 0 {
			t.Fatalf("alpha=0 beta=0: got %v", c)
		}
		Sgemm(false, false, 0, 5, 5, 1, nil, 5, make([]float32, 25), 5, 0, nil, 5)
	})
}

func TestSgemmPanicsOnShortSlices(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a short C")
		}
	}()
	Sgemm(false, false, 4, 4, 4, 1, make([]float32, 16), 4, make([]float32, 16), 4, 0, make([]float32, 15), 4)
}

// TestSgemmDeterministicThreads checks that, for a fixed tier, the result is
// bit-identical whatever the thread count.
func TestSgemmDeterministicThreads(t *testing.T) {
	shapes := []gemmCase{
		{false, false, 301, 97, 530, 1, 0},
		{true, false, 64, 300, 290, 1, 1},
		{false, true, 27, 32, 3000, 1, 0},
		{true, true, 200, 33, 257, -1, 0.5},
		{false, false, 9, 20, 40*kcBlock + 3, 1, 0}, // split over K
		{true, true, 5, 3, 17 * kcBlock, 0.5, 2},    // split over K, transposed
	}
	forEachTier(t, func(t *testing.T) {
		for i, g := range shapes {
			var first []float32
			for _, th := range []int{1, 2, 3, 8} {
				var c []float32
				withThreads(th, func() { c = runGemm(t, g, uint64(100+i)) })
				if first == nil {
					first = c
				} else if j := bitsEqual(first, c); j >= 0 {
					t.Fatalf("%v: %d threads differ from 1 thread at %d: %g vs %g", g, th, j, c[j], first[j])
				}
			}
		}
	})
}

// TestMicroKernelMatchesGo drives the register-tile kernel of the current
// tier's plan directly, on every edge shape h×w, against microKernelGo
// (within rounding: plain Go does not fuse) and, for the SIMD plans,
// bit-for-bit against microKernelFMA.
func TestMicroKernelMatchesGo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	forEachTier(t, func(t *testing.T) {
		for _, pl := range planTiles(planFor(tier)) {
			testMicroKernel(t, r, pl)
		}
	})
}

// planTiles returns pl and the plans of its other tiles.
func planTiles(pl *gemmPlan) []*gemmPlan {
	if pl.alt != nil {
		return []*gemmPlan{pl, pl.alt}
	}
	return []*gemmPlan{pl}
}

func testMicroKernel(t *testing.T, r *rand.Rand, pl *gemmPlan) {
	mr, nr := pl.mr, pl.nr
	t.Logf("plan %s", pl.name)
	// kc 36, 37 and 70 take kernels with a late C prefetch through both of
	// their loops; bStep nr+5 is B read in place (kernelB where the plan
	// has one).
	for _, kc := range []int{1, 3, 4, 5, 17, 36, 37, 70} {
		for _, bStep := range []int{nr, nr + 5} {
			a := randSlice(r, mr*kc)
			b := randSlice(r, bStep*kc)
			for h := 1; h <= mr; h++ {
				for w := 1; w <= nr; w++ {
					for _, load := range []bool{false, true} {
						ldc := nr + 3
						want := randSlice(r, mr*ldc)
						got, check := guarded(len(want))
						copy(got, want)
						fused := slices.Clone(want)
						microKernelGo(mr, nr, kc, a, 1, mr, b, bStep, want, ldc, h, w, 1.5, -0.5, load)
						microKernelFMA(mr, nr, kc, a, 1, mr, b, bStep, fused, ldc, h, w, 1.5, -0.5, load)
						pl.microKernel(kc, a, 1, mr, b, bStep, got, ldc, h, w, 1.5, -0.5, load)
						check(t, "C")
						for i := range got {
							if d := math.Abs(float64(got[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
								t.Fatalf("kc=%d bStep=%d h=%d w=%d load=%v: element %d = %g, want %g", kc, bStep, h, w, load, i, got[i], want[i])
							}
						}
						if pl.kernel != nil {
							if i := bitsEqual(fused, got); i >= 0 {
								t.Fatalf("%s kc=%d bStep=%d h=%d w=%d load=%v: element %d = %g, fused reference %g", pl.name, kc, bStep, h, w, load, i, got[i], fused[i])
							}
						}
					}
				}
			}
		}
	}
}

// microKernelFMA is microKernelGo with the SIMD kernels' rounding: each
// product added by a fused multiply-add in index order, and
// c = fma(beta, c, alpha·acc). Every SIMD plan's kernel must match it
// bit for bit, which is what makes the tiers agree bit for bit.
func microKernelFMA(mr, nr, kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
	acc := make([]float32, mr*nr)
	for p := 0; p < kc; p++ {
		for i := 0; i < mr; i++ {
			av := a[i*aRow+p*aStep]
			for j := 0; j < nr; j++ {
				acc[i*nr+j] = fma32(av, b[p*bStep+j], acc[i*nr+j])
			}
		}
	}
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			t := alpha * acc[i*nr+j]
			if load {
				t = fma32(beta, c[i*ldc+j], t)
			}
			c[i*ldc+j] = t
		}
	}
}

// fma32 is the float32 fused multiply-add x·y+z, rounded once. The
// product of two float32s is exact in float64, and so is the error e of
// the float64 sum s (TwoSum); rounding s to float32 is then correct unless
// s fell exactly on a float32 midpoint while e ≠ 0, where s is nudged one
// float64 ulp towards the exact value first (normal float32 results).
func fma32(x, y, z float32) float32 {
	p, q := float64(x)*float64(y), float64(z)
	s := p + q
	bb := s - p
	e := (p - (s - bb)) + (q - bb)
	if e != 0 && math.Float64bits(s)&(1<<29-1) == 1<<28 {
		s = math.Nextafter(s, math.Copysign(math.Inf(1), e))
	}
	return float32(s)
}

// TestPackingTiers checks that each tier's plan packs A and B blocks
// exactly as the plain-Go loops of the same plan do (packing only copies:
// bit-identical), including the SIMD path's spill, which must stay inside
// packSlack.
func TestPackingTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	const lda = 301
	a := randSlice(r, 300*lda)
	forEachTier(t, func(t *testing.T) {
		for _, pl := range planTiles(planFor(tier)) {
			testPacking(t, pl, a, lda)
		}
	})
}

func testPacking(t *testing.T, pl *gemmPlan, a []float32, lda int) {
	ref := pl.ref()
	mr, nr := pl.mr, pl.nr
	for _, tr := range []bool{false, true} {
		for _, mc := range []int{1, 6, 9, 12, 13, 14, 17, 28, 33, 64} {
			for _, kc := range []int{1, 7, 8, 9, 16, 33, kcBlock} {
				size := (mc+mr-1)/mr*mr*kc + packSlack
				want, got := make([]float32, size), make([]float32, size)
				ref.packABlock(want, tr, a, lda, 2, mc, 3, kc)
				all, check := guarded(size)
				pl.packABlock(all, tr, a, lda, 2, mc, 3, kc)
				check(t, "packed A")
				copy(got, all)
				n := size - packSlack
				if i := bitsEqual(want[:n], got[:n]); i >= 0 {
					t.Fatalf("%s transA=%v mc=%d kc=%d: packed A differs at %d", pl.name, tr, mc, kc, i)
				}
				wb := make([]float32, (mc+nr-1)/nr*nr*kc)
				gb, checkB := guarded(len(wb))
				ref.packBBlock(wb, tr, a, lda, 1, kc, 4, mc)
				pl.packBBlock(gb, tr, a, lda, 1, kc, 4, mc)
				checkB(t, "packed B")
				if i := bitsEqual(wb, gb); i >= 0 {
					t.Fatalf("%s transB=%v nc=%d kc=%d: packed B differs at %d", pl.name, tr, mc, kc, i)
				}
			}
		}
	}
}

// TestSgemmBitIdenticalAcrossTiers checks the promise of the plans: every
// SIMD tier reduces each element in the same order (K blocks by kcStep, a
// chain of FMAs in index order), so Sgemm's results are bit-identical
// across tiers, whatever the tile, the packing and the thread count.
func TestSgemmBitIdenticalAcrossTiers(t *testing.T) {
	simd := simdTiers(t)
	cases := gemmCases(testing.Short())
	cases = append(cases,
		gemmCase{false, false, 301, 97, 530, 1, 0},
		gemmCase{true, false, 64, 300, 290, 1, 1},
		gemmCase{false, true, 27, 32, 3000, 1, 0},
		gemmCase{true, false, 100, 300, 500, 1, 0.5}, // A transposed: packed by the auto policy
	)
	defer func(p int) { packPolicy = p }(packPolicy)
	defer func(p int) { tileChoice = p }(tileChoice)
	defer func(s cpu.Tier) { tier = s }(tier)
	for _, pol := range []int{packAuto, packAlways, packNever, -tileMain, -tileAlt} {
		// A negative policy forces one tile of each plan (packing auto).
		packPolicy, tileChoice = pol, tileAuto
		if pol < 0 {
			packPolicy, tileChoice = packAuto, -pol
		}
		for i, g := range cases {
			if pol != packAuto && g.m*g.n*g.k > 1<<20 {
				continue
			}
			var first []float32
			for _, tr := range simd {
				for _, th := range []int{1, 2} {
					tier = tr
					var c []float32
					withThreads(th, func() { c = runGemm(t, g, uint64(i)) })
					if first == nil {
						first = c
					} else if j := bitsEqual(first, c); j >= 0 {
						t.Fatalf("policy %d %+v: %v on %d threads differs from %v at %d: %g vs %g", pol, g, tr, th, simd[0], j, c[j], first[j])
					}
				}
			}
		}
	}
}
