package kern

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// TestVecTiers drives each vector helper on lengths 0..41 (the AVX-512
// bodies' masked tails and the AVX2 bodies' Go tails) at unaligned offsets,
// with a NaN, ±0 and guard bands, on every tier, against the plain-Go tier:
// the float32 helpers must agree bit for bit, the float64 sums within 2⁻⁴⁰
// of the magnitude.
func TestVecTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 12))
	x, dy := randSlice(r, 64), randSlice(r, 64)
	x[5], x[9] = 0, float32(math.Copysign(0, -1))
	// xn adds a NaN for the float32 helpers (which must keep or drop it as
	// the Go loops do); the float64 sums read x.
	xn := append([]float32(nil), x...)
	xn[20] = float32(math.NaN())
	forEachTier(t, func(t *testing.T) {
		for n := 0; n <= 41; n++ {
			for _, off := range []int{0, 1, 3} {
				xs, gs := x[off:off+n], dy[off:off+n]
				xf := xn[off : off+n]
				type f32op func(tr cpu.Tier, dst []float32)
				ops := map[string]f32op{
					"relu":       func(tr cpu.Tier, d []float32) { vecReLU(tr, d, xf) },
					"reluGrad":   func(tr cpu.Tier, d []float32) { vecReLUGrad(tr, d, gs, xf) },
					"affine":     func(tr cpu.Tier, d []float32) { vecAffine(tr, d, xf, 0.3, -1.7, 2.5) },
					"affineReLU": func(tr cpu.Tier, d []float32) { vecAffineReLU(tr, d, xf, 0.3, -1.7, 2.5) },
					"addConst":   func(tr cpu.Tier, d []float32) { copy(d, xf); vecAddConst(tr, d, -0.625) },
					"add":        func(tr cpu.Tier, d []float32) { copy(d, xf); vecAdd(tr, d, gs) },
					"bnBack":     func(tr cpu.Tier, d []float32) { vecBNBack(tr, d, gs, xf, 0.1, 1.5, -0.25, 0.125) },
				}
				for name, op := range ops {
					want := make([]float32, n)
					op(cpu.Generic, want)
					got, check := guarded(n)
					op(tier, got)
					check(t, name)
					if i := bitsEqual(want, got); i >= 0 {
						t.Fatalf("%s n=%d off=%d: element %d = %g, want %g", name, n, off, i, got[i], want[i])
					}
				}
				var mag float64
				for i := range xs {
					mag += math.Abs(float64(xs[i])) * (1 + math.Abs(float64(gs[i])))
				}
				tol := mag*math.Ldexp(1, -40) + 1e-300
				sums := []struct {
					name      string
					want, got float64
				}{
					{"sum64", sum64(cpu.Generic, xs), sum64(tier, xs)},
					{"sqDev64", sqDev64(cpu.Generic, xs, 0.2), sqDev64(tier, xs, 0.2)},
				}
				wa, wb := dotDev64(cpu.Generic, gs, xs, -0.3)
				ga, gb := dotDev64(tier, gs, xs, -0.3)
				sums = append(sums, struct {
					name      string
					want, got float64
				}{"dotDev64 sdy", wa, ga}, struct {
					name      string
					want, got float64
				}{"dotDev64 sdx", wb, gb})
				for _, s := range sums {
					if math.Abs(s.want-s.got) > 4*tol {
						t.Fatalf("%s n=%d off=%d: %g, want %g", s.name, n, off, s.got, s.want)
					}
				}
			}
		}
	})
}

// TestMaxPool2Tiers feeds MaxPool2 ties, NaNs, infinities and signed zeros
// and demands the same outputs and window indices, bit for bit, on every
// tier. The widths cover rows of whole SIMD blocks, rows with a tail (done
// again with an overlapping block), rows of 4 to 7 outputs (one block
// spilling into the next row), rows of 16 outputs or more (the AVX-512
// bodies, with and without a masked tail) and odd heights and widths.
func TestMaxPool2Tiers(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 14))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, 1, float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, sh := range [][4]int{{2, 3, 6, 37}, {2, 3, 14, 14}, {1, 2, 28, 28}, {2, 2, 7, 15}, {1, 3, 8, 8},
		{3, 1, 9, 9}, {1, 2, 6, 10}, {1, 2, 4, 16}, {2, 1, 5, 17}, {1, 2, 3, 8}, {1, 1, 2, 14}, {2, 2, 12, 7},
		{1, 2, 4, 70}, {1, 1, 6, 66}, {2, 1, 4, 64}} {
		n, c, h, w := sh[0], sh[1], sh[2], sh[3]
		x := make([]float32, n*c*h*w)
		for i := range x {
			x[i] = special[r.IntN(len(special))]
			if r.IntN(3) == 0 {
				x[i] = float32(r.NormFloat64())
			}
		}
		y0, a0 := make([]float32, n*c*(h/2)*(w/2)), make([]uint8, n*c*(h/2)*(w/2))
		prev, _ := SetTier(cpu.Generic)
		MaxPool2(y0, a0, x, n, c, h, w)
		SetTier(prev)
		forEachTier(t, func(t *testing.T) {
			y, checkY := guarded(len(y0))
			a := make([]uint8, len(a0))
			MaxPool2(y, a, x, n, c, h, w)
			checkY(t, "y")
			if i := bitsEqual(y0, y); i >= 0 {
				t.Fatalf("%v: y[%d] = %g, want %g", sh, i, y[i], y0[i])
			}
			for i := range a {
				if a[i] != a0[i] {
					t.Fatalf("%v: arg[%d] = %d, want %d", sh, i, a[i], a0[i])
				}
			}
			y2 := make([]float32, len(y0))
			MaxPool2(y2, nil, x, n, c, h, w) // no arg
			if i := bitsEqual(y0, y2); i >= 0 {
				t.Fatalf("%v: without arg: y[%d] = %g, want %g", sh, i, y2[i], y0[i])
			}
		})
	}
}

// TestMomentumStepTiers: MomentumStep on every tier, for lengths 0..41 at
// unaligned offsets (the AVX2 bodies' Go tails, the AVX-512 bodies' masked
// tails), with and without weight decay, ±0, infinities and a NaN among
// the weights, must give bit for bit the weights and momentum of the plain
// loop written out below, and write nothing outside w and v.
func TestMomentumStepTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 21))
	w0, g0, v0 := randSlice(r, 48), randSlice(r, 48), randSlice(r, 48)
	w0[4], w0[7], w0[11], w0[30] = 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.NaN())
	g0[9] = float32(math.Inf(-1))
	defer func(z bool) { momentumZMM = z }(momentumZMM)
	forEachTier(t, func(t *testing.T) {
		for _, momentumZMM = range []bool{false, true} {
			testMomentumStep(t, w0, g0, v0)
		}
	})
}

// testMomentumStep is one pass of TestMomentumStepTiers on the current tier.
func testMomentumStep(t *testing.T, w0, g0, v0 []float32) {
	{
		for _, wd := range []float32{0, 1e-4} {
			for n := 0; n <= 41; n++ {
				for _, off := range []int{0, 1, 3} {
					const mu, cg, cv = 0.9, 0.75, 0.05
					wantW := append([]float32(nil), w0[off:off+n]...)
					wantV := append([]float32(nil), v0[off:off+n]...)
					for i := range wantW {
						g := g0[off+i]
						if wd != 0 {
							g += float32(wd * wantW[i])
						}
						wantV[i] = float32(mu*wantV[i]) + float32(cg*g)
						wantW[i] -= float32(cv * wantV[i])
					}
					w, checkW := guarded(n)
					v, checkV := guarded(n)
					copy(w, w0[off:])
					copy(v, v0[off:])
					MomentumStep(w, g0[off:off+n], v, wd, mu, cg, cv)
					checkW(t, "w")
					checkV(t, "v")
					if i := bitsEqual(wantW, w); i >= 0 {
						t.Fatalf("zmm %v wd=%g n=%d off=%d: w[%d] = %g, want %g", momentumZMM, wd, n, off, i, w[i], wantW[i])
					}
					if i := bitsEqual(wantV, v); i >= 0 {
						t.Fatalf("zmm %v wd=%g n=%d off=%d: v[%d] = %g, want %g", momentumZMM, wd, n, off, i, v[i], wantV[i])
					}
				}
			}
		}
	}
}
