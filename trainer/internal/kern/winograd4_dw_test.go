package kern

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// wino4DWShapes: winoDWShapes and wino4Shapes together (planes with every
// remainder mod 4, 1 to several images per batch and groups), plus one
// shape of several F(3×3,4×4) batches per group, the last short.
func wino4DWShapes(short bool) []ConvShape {
	s := append(winoDWShapes(short), wino4Shapes(short)...)
	return append(s, ConvShape{N: 37, Cin: 16, H: 9, W: 11, Cout: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1})
}

// TestWino4WeightGrad checks the F(3×3,4×4) weight gradient
// (Conv2dBackwardWeights, and Conv2dBackward's and Conv2dBackwardBN's dw)
// against the float64 reference and against im2col, on every tier, with
// guard bands, and that the AVX2 and AVX-512 tiers agree bit for bit.
//
// Tolerances: against the float64 reference, the element-wise bound of
// TestWinogradWeightGrad, |got − want| ≤ 2·(K+2)·2⁻²⁴·Σ|terms| (K =
// N·H·W), which is no guarantee for Winograd (see there) but holds on
// normal data by a wide margin (go test -v logs max |err|/bound); against
// im2col ‖wino4 − im2col‖∞ ≤ 5e-5·‖im2col‖∞, F(4×4,3×3)'s bound (see the
// package doc's Tolerance for what is measured).
func TestWino4WeightGrad(t *testing.T) {
	defer func(v, m int) { winoMinPlane, wino4Mode = v, m }(winoMinPlane, wino4Mode)
	winoMinPlane = 0
	defer SetWinograd(SetWinograd(true))
	shapes := wino4DWShapes(testing.Short())
	perTier := map[cpu.Tier][][]float32{}
	forEachTier(t, func(t *testing.T) {
		for i, s := range shapes {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				if !useWinograd(s) {
					t.Fatalf("%+v: useWinograd is false", s)
				}
				r := rand.New(rand.NewPCG(uint64(i), 93))
				x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
				ref := referenceConv(s, x, w, dy)
				tol := gemmTol(s.N * s.H * s.W)
				SetWinograd(false)
				dwIm := make([]float32, s.WeightLen())
				Conv2dBackwardWeights(s, x, dy, dwIm)
				SetWinograd(true)
				wino4Mode = -1
				dw2 := make([]float32, s.WeightLen())
				Conv2dBackwardWeights(s, x, dy, dw2)
				wino4Mode = 1

				dw, checkDW := guarded(s.WeightLen())
				Conv2dBackwardWeights(s, x, dy, dw)
				checkDW(t, "dw")
				checkClose(t, "dw", dw, ref.dw, ref.dwAbs, tol)
				checkRel(t, "dw vs im2col", dw, dwIm, 5e-5)
				t.Logf("%dx%d %d→%d N %d: max |err|/bound dw %.4f (F(3,2) %.4f, im2col %.4f); ‖·−im2col‖/‖im2col‖ %.2g (F(3,2) %.2g)",
					s.H, s.W, s.Cin, s.Cout, s.N,
					boundRatio(dw, ref.dw, ref.dwAbs, tol), boundRatio(dw2, ref.dw, ref.dwAbs, tol), boundRatio(dwIm, ref.dw, ref.dwAbs, tol),
					relDiff(dw, dwIm), relDiff(dw2, dwIm))

				// The fused passes (with and without dx) compute the same dw.
				for _, withDX := range []bool{true, false} {
					dw3, checkDW3 := guarded(s.WeightLen())
					var dx []float32
					if withDX {
						dx = make([]float32, s.InLen())
					}
					Conv2dBackward(s, x, dy, w, dw3, dx)
					checkDW3(t, "Conv2dBackward dw")
					if j := bitsEqual(dw, dw3); j >= 0 {
						t.Fatalf("Conv2dBackward (dx %v) dw[%d] = %g, Conv2dBackwardWeights %g", withDX, j, dw3[j], dw[j])
					}
				}
				perTier[Tier()] = append(perTier[Tier()], dw)
			})
		}
	})
	a, b := perTier[cpu.AVX2], perTier[cpu.AVX512]
	if a == nil || b == nil {
		t.Logf("AVX2 and AVX-512 not both run here: bit identity not compared")
		return
	}
	for i := range a {
		if j := bitsEqual(a[i], b[i]); j >= 0 {
			t.Fatalf("shape %d: dw[%d] differs between AVX2 and AVX-512", i, j)
		}
	}
}

// TestWino4BackwardBN: Conv2dBackwardBN's dw and dx with the weight
// gradient on F(3×3,4×4) are bit-identical to BatchNormBackward followed
// by Conv2dBackward, for 1 and 3 threads.
func TestWino4BackwardBN(t *testing.T) {
	defer func(m int) { wino4Mode = m }(wino4Mode)
	wino4Mode = 1
	checkBackwardBN(t, ConvShape{N: 11, Cin: 16, H: 9, W: 7, Cout: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 51)
}

// TestWino4DWDeterministicThreads: the F(3×3,4×4) weight gradient is
// bit-identical for 1, 2, 3 and 8 threads, with several image groups of
// several batches each (the last short), and a 256→256 layer whose partial
// sums winoDWPartsMax limits to 7 groups.
func TestWino4DWDeterministicThreads(t *testing.T) {
	defer func(m, c int) { wino4Mode, wino4DWCols = m, c }(wino4Mode, wino4DWCols)
	wino4Mode, wino4DWCols = 1, 18 // batches of 2 images on 9×11 planes
	shapes := []ConvShape{{N: 37, Cin: 16, H: 9, W: 11, Cout: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}}
	if !testing.Short() {
		shapes = append(shapes, ConvShape{N: 9, Cin: 256, H: 8, W: 8, Cout: 256, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1})
	}
	for _, s := range shapes {
		if s.Cin == 256 {
			if ng := wino4DWMaxGroups(s); ng != 7 {
				t.Fatalf("256→256: groups = %d, want 7", ng)
			}
		}
		r := rand.New(rand.NewPCG(8, 10))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		forEachTier(t, func(t *testing.T) {
			var first [2][]float32
			for _, th := range []int{1, 2, 3, 8} {
				dw, dw2 := make([]float32, s.WeightLen()), make([]float32, s.WeightLen())
				withThreads(th, func() {
					Conv2dBackwardWeights(s, x, dy, dw)
					Conv2dBackward(s, x, dy, w, dw2, make([]float32, s.InLen()))
				})
				for i, got := range [2][]float32{dw, dw2} {
					if first[i] == nil {
						first[i] = got
					} else if j := bitsEqual(first[i], got); j >= 0 {
						t.Fatalf("%d→%d output %d: %d threads differ from 1 thread at %d", s.Cin, s.Cout, i, th, j)
					}
				}
			}
		})
	}
}

// TestWino4GradOutTiers: wino4GradOutCols (both bodies on AVX-512) is
// bit-identical to its Go reference for 1..40 tiles, and writes nothing
// past the next multiple of 16 tiles in any row.
func TestWino4GradOutTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 45))
	forEachTier(t, func(t *testing.T) {
		bodies := []bool{true}
		if Tier() >= cpu.AVX512 {
			bodies = []bool{true, false}
		}
		for _, zmm := range bodies {
			zmm0 := setWino4ZMM(zmm)
			for n := 1; n <= 40; n++ {
				n16 := (n + 15) &^ 15
				gs, xs := n16+r.IntN(5), n16+3+r.IntN(5)
				g := randSlice(r, 16*gs)
				want := make([]float32, 36*xs)
				wino4GradOutColsGo(g, gs, n, want, xs)
				got, check := guarded(36 * xs)
				wino4GradOutCols(Tier(), g, gs, n, got, xs)
				check(t, fmt.Sprintf("wino4GradOutCols n=%d", n))
				checkCols(t, fmt.Sprintf("wino4GradOutCols n=%d zmm=%v", n, zmm), want, got, 36, xs, n)
			}
			setWino4ZMM(zmm0)
		}
	})
}

// TestWino4GatherOutTiers: wino4GatherOut writes exactly the plane's 4×4
// tiles (zero outside the plane) on every tier (on AVX-512
// wino4GatherOutAVX512: 8 tiles at a time, the rest masked), for planes of
// 1..13 × 1..40, and nothing outside the th·tw tiles of each row of d,
// with the padded plane's slack NaN.
func TestWino4GatherOutTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 23))
	forEachTier(t, func(t *testing.T) {
		for h := 1; h <= 13; h++ {
			for w := 1; w <= 40; w++ {
				th, tw := (h+3)/4, (w+3)/4
				src := randSlice(r, h*w)
				ds := th*tw + r.IntN(9)
				pad := make([]float32, wino4PadLen(h, w))
				pw := wino4RowLen(w)
				for i := (4*th + 2) * pw; i < len(pad); i++ {
					pad[i] = sentinel
				}
				got, check := guarded(16 * ds)
				for i := range got {
					got[i] = sentinel
				}
				wino4GatherOut(Tier(), src, h, w, pad, got, ds)
				check(t, fmt.Sprintf("wino4GatherOut %dx%d", h, w))
				for k := 0; k < 16; k++ {
					row := got[k*ds : (k+1)*ds]
					for ty := 0; ty < th; ty++ {
						for tx := 0; tx < tw; tx++ {
							var want float32
							if y, x := 4*ty+k/4, 4*tx+k%4; y < h && x < w {
								want = src[y*w+x]
							}
							if g := row[ty*tw+tx]; !bitsSame(g, want) {
								t.Fatalf("wino4GatherOut %dx%d: element %d of tile (%d,%d) = %g, want %g", h, w, k, ty, tx, g, want)
							}
						}
					}
					for j := th * tw; j < ds; j++ {
						if !isSentinel(row[j]) {
							t.Fatalf("wino4GatherOut %dx%d: element %d wrote tile %d past the last", h, w, k, j)
						}
					}
				}
			}
		}
	})
}

// bitsSame reports whether a and b have the same bits.
func bitsSame(a, b float32) bool { return bitsEqual([]float32{a}, []float32{b}) < 0 }

// TestWino4GradTransformsExact: on small integers the F(3×3,4×4)
// transforms compose to the direct correlation exactly:
// Gᵀ·[(A·e·Aᵀ) ⊙ (Bᵀ·d·B)]·G = Σ_ab e[a][b]·d[a+i][b+j] for a 4×4 output
// gradient e and a 6×6 input window d (the products, up to 1800·800, are
// exact in float32; the final transform runs in float64 and rounds once).
func TestWino4GradTransformsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 18))
	for trial := 0; trial < 50; trial++ {
		d, e := make([]float32, 36), make([]float32, 16)
		for i := range d {
			d[i] = float32(r.IntN(17) - 8)
		}
		for i := range e {
			e[i] = float32(r.IntN(17) - 8)
		}
		v, et := make([]float32, 36), make([]float32, 36)
		wino4InColsGo(d, 1, 1, v, 1)
		wino4GradOutColsGo(e, 1, 1, et, 1)
		m := make([]float32, 36)
		for i := range m {
			m[i] = et[i] * v[i]
		}
		dw := make([]float32, 9)
		wino4GradFilter(m, 1, 1, 1, dw)
		for i := range 3 {
			for j := range 3 {
				var want float32
				for a := range 4 {
					for b := range 4 {
						want += e[4*a+b] * d[(a+i)*6+b+j]
					}
				}
				if got := dw[3*i+j]; got != want {
					t.Fatalf("trial %d: dw[%d][%d] = %g, want %g", trial, i, j, got, want)
				}
			}
		}
	}
}

// TestUseWino4DWRule: the weight gradient follows useWino4 (and runs on
// F(3×3,4×4) on the 4×4 planes useWinograd admits), wino4Mode and
// wino4DWMode (which takes precedence), and SetWinograd(false) still turns
// every Winograd path off.
func TestUseWino4DWRule(t *testing.T) {
	defer func(m, d int) { wino4Mode, wino4DWMode = m, d }(wino4Mode, wino4DWMode)
	c := func(cin, cout, h int) ConvShape {
		return ConvShape{N: 128, Cin: cin, H: h, W: h, Cout: cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	for _, s := range []ConvShape{c(64, 64, 32), c(128, 128, 16), c(256, 256, 8), c(32, 64, 14), c(512, 512, 4)} {
		wino4Mode, wino4DWMode = 0, 0
		for _, tc := range []struct {
			mode, dwMode int
			want         bool
		}{
			{0, 0, useWino4(s) || s.H*s.W <= 16}, {1, 0, true}, {-1, 0, false},
			{0, 1, true}, {-1, 1, true}, {0, -1, false}, {1, -1, false},
		} {
			wino4Mode, wino4DWMode = tc.mode, tc.dwMode
			if got := useWino4DW(s); got != tc.want {
				t.Errorf("wino4Mode %d, wino4DWMode %d: useWino4DW(%d→%d, %dx%d) = %v, want %v", tc.mode, tc.dwMode, s.Cin, s.Cout, s.H, s.W, got, tc.want)
			}
		}
	}
	wino4Mode, wino4DWMode = 0, 0
	if !useWino4DW(c(64, 64, 32)) || !useWino4DW(c(512, 512, 4)) || useWino4DW(c(32, 64, 14)) || useWino4DW(c(64, 128, 8)) {
		t.Error("rule: want F(3×3,4×4) for 64→64 at 32×32 and 512→512 at 4×4, not for 32→64 at 14×14 nor 64→128 at 8×8")
	}
	wino4DWMode = 1
	defer SetWinograd(SetWinograd(false))
	if useWinograd(c(64, 64, 32)) {
		t.Error("useWinograd true with SetWinograd(false)")
	}
}

// TestWino4WeightGradLargeLayer: resnet18's layer4 shape in a trainbench
// step (512→512 at 4×4 on 128 images: one tile a plane, one image group,
// whose GEMMs then split over the threads) on F(3×3,4×4) agrees with
// im2col within 5e-5 of the largest element and gives bit-identical dw for
// 1 and 2 threads. (Against a float64 reference this shape measured
// 9.5e-6 of the largest element, F(3×3,2×2) 2.4e-7, im2col 1.4e-7: the
// largest F(3×3,4×4) error of the shapes measured, see the package doc.)
func TestWino4WeightGradLargeLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("a 512×512 layer on 128 images")
	}
	s := ConvShape{N: 128, Cin: 512, H: 4, W: 4, Cout: 512, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	if !useWinograd(s) || !useWino4DW(s) {
		t.Fatalf("%+v: want the weight gradient on F(3×3,4×4)", s)
	}
	if ng := wino4DWMaxGroups(s); ng != 1 {
		t.Fatalf("groups = %d, want 1", ng)
	}
	r := rand.New(rand.NewPCG(21, 23))
	x, dy := randSlice(r, s.InLen()), randSlice(r, s.OutLen())
	old := SetWinograd(false)
	dwIm := make([]float32, s.WeightLen())
	Conv2dBackwardWeights(s, x, dy, dwIm)
	SetWinograd(true)
	defer SetWinograd(old)
	var first []float32
	for _, th := range []int{1, 2} {
		dw, check := guarded(s.WeightLen())
		withThreads(th, func() { Conv2dBackwardWeights(s, x, dy, dw) })
		check(t, "dw")
		checkRel(t, "dw vs im2col", dw, dwIm, 5e-5)
		if first == nil {
			first = dw
			t.Logf("‖wino4 − im2col‖∞/‖im2col‖∞ %.2g", relDiff(dw, dwIm))
		} else if j := bitsEqual(first, dw); j >= 0 {
			t.Fatalf("%d threads: dw[%d] = %g, 1 thread %g", th, j, dw[j], first[j])
		}
	}
}
