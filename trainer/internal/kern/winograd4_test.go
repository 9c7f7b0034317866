package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// wino4Shapes: winoShapes plus planes whose sides leave every remainder
// mod 4 (a last row or column of tiles with 1, 2 or 3 of its 4 outputs
// inside the plane), and resnet18's 16×16 and 8×8 planes.
func wino4Shapes(short bool) []ConvShape {
	c3 := func(n, cin, cout, h, w int) ConvShape {
		return ConvShape{N: n, Cin: cin, H: h, W: w, Cout: cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	s := append(winoShapes(short), c3(2, 16, 18, 6, 11), c3(1, 17, 16, 10, 3), c3(3, 16, 16, 8, 8), c3(2, 16, 16, 3, 5))
	if !short {
		s = append(s, c3(3, 128, 128, 16, 16), c3(4, 256, 256, 8, 8), c3(2, 64, 64, 32, 32))
	}
	return s
}

// TestWinograd4Conv checks the F(4×4,3×3) forward pass and input gradient
// (Conv2dBackwardInput, and Conv2dBackward's dx) against the float64
// reference and against im2col, on every tier, with guard bands around the
// outputs, and that the AVX2 and AVX-512 tiers agree bit for bit.
//
// Tolerances: against the float64 reference, every element satisfies the
// bound TestConv2d holds im2col to, |got − want| ≤ 2·(k+2)·2⁻²⁴·Σ|terms|
// (k = Cin·9 forward, Cout·9 for dx). As for F(2×2,3×3) this is not a
// guarantee (the transforms mix the 36 inputs of a window, with factors up
// to 5 in Bᵀ and 8 in Aᵀ), but on normal data F(4×4,3×3) stays inside it
// by a factor of 3.5 or more (max |err|/bound 0.28 over the shapes and
// tiers here, on a 4×4 plane; ≤ 0.15 elsewhere; go test -v logs them).
// Against im2col the bound is looser than F(2×2,3×3)'s 1e-5:
// ‖wino4 − im2col‖∞ ≤ 5e-5·‖im2col‖∞ (measured ≤ 1.4e-5 at 256 channels;
// F(2×2,3×3) ≤ 6.4e-7 on the same data): its error grows about 20×.
func TestWinograd4Conv(t *testing.T) {
	defer func(v, m int) { winoMinPlane, wino4Mode = v, m }(winoMinPlane, wino4Mode)
	winoMinPlane = 0
	defer SetWinograd(SetWinograd(true))
	shapes := wino4Shapes(testing.Short())
	type outs struct{ y, dx []float32 }
	perTier := map[cpu.Tier][]outs{}
	forEachTier(t, func(t *testing.T) {
		for i, s := range shapes {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				if !useWinograd(s) {
					t.Fatalf("%+v: useWinograd is false", s)
				}
				r := rand.New(rand.NewPCG(uint64(i), 78))
				x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
				ref := referenceConv(s, x, w, dy)
				SetWinograd(false)
				yIm, dxIm := make([]float32, s.OutLen()), make([]float32, s.InLen())
				Conv2d(s, x, w, yIm)
				Conv2dBackwardInput(s, dy, w, dxIm)
				SetWinograd(true)
				wino4Mode = -1
				y2, dx2 := make([]float32, s.OutLen()), make([]float32, s.InLen())
				Conv2d(s, x, w, y2)
				Conv2dBackwardInput(s, dy, w, dx2)
				wino4Mode = 1

				y, checkY := guarded(s.OutLen())
				Conv2d(s, x, w, y)
				checkY(t, "y")
				tolY, tolDX := gemmTol(s.Cin*9), gemmTol(s.Cout*9)
				checkClose(t, "y", y, ref.y, ref.yAbs, tolY)
				checkRel(t, "y vs im2col", y, yIm, 5e-5)
				dx, checkDX := guarded(s.InLen())
				Conv2dBackwardInput(s, dy, w, dx)
				checkDX(t, "dx")
				checkClose(t, "dx", dx, ref.dx, ref.dxAbs, tolDX)
				checkRel(t, "dx vs im2col", dx, dxIm, 5e-5)
				t.Logf("%dx%d %d→%d: max |err|/bound y %.3f dx %.3f (F(2,3) %.3f %.3f); ‖·−im2col‖/‖im2col‖ y %.2g dx %.2g (F(2,3) %.2g %.2g)",
					s.H, s.W, s.Cin, s.Cout,
					boundRatio(y, ref.y, ref.yAbs, tolY), boundRatio(dx, ref.dx, ref.dxAbs, tolDX),
					boundRatio(y2, ref.y, ref.yAbs, tolY), boundRatio(dx2, ref.dx, ref.dxAbs, tolDX),
					relDiff(y, yIm), relDiff(dx, dxIm), relDiff(y2, yIm), relDiff(dx2, dxIm))

				dx3, checkDX3 := guarded(s.InLen())
				Conv2dBackward(s, x, dy, w, make([]float32, s.WeightLen()), dx3)
				checkDX3(t, "Conv2dBackward dx")
				if j := bitsEqual(dx, dx3); j >= 0 {
					t.Fatalf("Conv2dBackward dx[%d] = %g, Conv2dBackwardInput %g", j, dx3[j], dx[j])
				}
				perTier[Tier()] = append(perTier[Tier()], outs{y, dx})
			})
		}
	})
	// The SIMD tiers agree bit for bit (the transforms do the same
	// operations on every tier, the GEMMs keep each element's order).
	a, b := perTier[cpu.AVX2], perTier[cpu.AVX512]
	if a == nil || b == nil {
		t.Logf("AVX2 and AVX-512 not both run here: bit identity not compared")
		return
	}
	for i := range a {
		if j := bitsEqual(a[i].y, b[i].y); j >= 0 {
			t.Fatalf("shape %d: y[%d] differs between AVX2 and AVX-512", i, j)
		}
		if j := bitsEqual(a[i].dx, b[i].dx); j >= 0 {
			t.Fatalf("shape %d: dx[%d] differs between AVX2 and AVX-512", i, j)
		}
	}
}

// TestWino4TransformTiers: wino4InCols and wino4OutCols (both bodies on
// AVX-512) are bit-identical to their Go references for 1..40 tiles, and
// write nothing past the next multiple of 16 tiles in any row.
func TestWino4TransformTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 44))
	forEachTier(t, func(t *testing.T) {
		bodies := []bool{true}
		if Tier() >= cpu.AVX512 {
			bodies = []bool{true, false}
		}
		for _, zmm := range bodies {
			zmm0 := setWino4ZMM(zmm)
			for n := 1; n <= 40; n++ {
				n16 := (n + 15) &^ 15
				ds, xs := n16+r.IntN(5), n16+3+r.IntN(5)
				d := randSlice(r, 36*ds)
				want := make([]float32, 36*xs)
				wino4InColsGo(d, ds, n, want, xs)
				got, check := guarded(36 * xs)
				wino4InCols(Tier(), d, ds, n, got, xs)
				check(t, fmt.Sprintf("wino4InCols n=%d", n))
				checkCols(t, fmt.Sprintf("wino4InCols n=%d zmm=%v", n, zmm), want, got, 36, xs, n)

				ms, ys := n16+r.IntN(5), n16+2+r.IntN(5)
				m := randSlice(r, 36*ms)
				wantY := make([]float32, 16*ys)
				wino4OutColsGo(m, ms, n, wantY, ys)
				gotY, checkY := guarded(16 * ys)
				wino4OutCols(Tier(), append([]float32(nil), m...), ms, n, gotY, ys)
				checkY(t, fmt.Sprintf("wino4OutCols n=%d", n))
				checkCols(t, fmt.Sprintf("wino4OutCols n=%d zmm=%v", n, zmm), wantY, gotY, 16, ys, n)
			}
			setWino4ZMM(zmm0)
		}
	})
}

// TestWino4Transforms: the Go transforms against float64 matrix products
// with Bᵀ and Aᵀ (relative error of a few float32 roundings), and the
// filter transform against G·g·Gᵀ in float64 (computed in float64 and
// rounded once, so within an ulp).
func TestWino4Transforms(t *testing.T) {
	bT := [6][6]float64{
		{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
		{0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1},
	}
	aT := [4][6]float64{{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}}
	g6 := [6][3]float64{{1. / 4, 0, 0}, {-1. / 6, -1. / 6, -1. / 6}, {-1. / 6, 1. / 6, -1. / 6}, {1. / 24, 1. / 12, 1. / 6}, {1. / 24, -1. / 12, 1. / 6}, {0, 0, 1}}
	r := rand.New(rand.NewPCG(12, 13))
	near := func(what string, got float32, want, scale float64) {
		t.Helper()
		if d := float64(got) - want; d > 1e-6*scale || d < -1e-6*scale {
			t.Fatalf("%s = %g, want %g (scale %g)", what, got, want, scale)
		}
	}
	for trial := 0; trial < 20; trial++ {
		d := randSlice(r, 36)
		v := make([]float32, 36)
		wino4InColsGo(d, 1, 1, v, 1)
		for i := range 6 {
			for j := range 6 {
				var s float64
				for a := range 6 {
					for b := range 6 {
						s += bT[i][a] * float64(d[6*a+b]) * bT[j][b]
					}
				}
				near(fmt.Sprintf("V[%d][%d]", i, j), v[6*i+j], s, 100)
			}
		}
		m := randSlice(r, 36)
		y := make([]float32, 16)
		wino4OutColsGo(m, 1, 1, y, 1)
		for i := range 4 {
			for j := range 4 {
				var s float64
				for a := range 6 {
					for b := range 6 {
						s += aT[i][a] * float64(m[6*a+b]) * aT[j][b]
					}
				}
				near(fmt.Sprintf("Y[%d][%d]", i, j), y[4*i+j], s, 300)
			}
		}
		g := randSlice(r, 9)
		u := make([]float32, 36)
		wino4Filter(g, 1, 1, false, u)
		for i := range 6 {
			for j := range 6 {
				var s float64
				for a := range 3 {
					for b := range 3 {
						s += g6[i][a] * float64(g[3*a+b]) * g6[j][b]
					}
				}
				// float64, rounded once: within an ulp of float32(s).
				near(fmt.Sprintf("U[%d][%d]", i, j), u[6*i+j], s, 0.25*math.Abs(s)+1e-30)
			}
		}
	}
}

// TestWino4DeterministicThreads: F(4×4,3×3)'s outputs are bit-identical for
// 1, 2, 3 and 8 threads (several image batches, the last one short).
func TestWino4DeterministicThreads(t *testing.T) {
	defer func(m, c int) { wino4Mode, wino4Cols = m, c }(wino4Mode, wino4Cols)
	wino4Mode, wino4Cols = 1, 40 // batches of 2 images on 13×13 planes
	s := ConvShape{N: 29, Cin: 16, H: 13, W: 13, Cout: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	r := rand.New(rand.NewPCG(8, 9))
	x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
	forEachTier(t, func(t *testing.T) {
		var first [3][]float32
		for _, th := range []int{1, 2, 3, 8} {
			y, dx, dx2 := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.InLen())
			withThreads(th, func() {
				Conv2d(s, x, w, y)
				Conv2dBackwardInput(s, dy, w, dx)
				Conv2dBackward(s, x, dy, w, make([]float32, s.WeightLen()), dx2)
			})
			got := [3][]float32{y, dx, dx2}
			for i := range got {
				if first[i] == nil {
					first[i] = got[i]
				} else if j := bitsEqual(first[i], got[i]); j >= 0 {
					t.Fatalf("output %d: %d threads differ from 1 thread at %d", i, th, j)
				}
			}
		}
		// The batch size does not matter either.
		wino4Cols = 1000
		y := make([]float32, s.OutLen())
		Conv2d(s, x, w, y)
		wino4Cols = 40
		if j := bitsEqual(first[0], y); j >= 0 {
			t.Fatalf("one batch vs batches of 2 images: y differs at %d", j)
		}
	})
}

// TestUseWino4Rule: which Winograd shapes run on F(4×4,3×3).
func TestUseWino4Rule(t *testing.T) {
	c := func(cin, cout, h int) ConvShape {
		return ConvShape{N: 128, Cin: cin, H: h, W: h, Cout: cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	for _, tc := range []struct {
		s    ConvShape
		want bool
	}{
		{c(64, 64, 32), true}, {c(128, 128, 16), true}, {c(256, 256, 8), true}, {c(128, 256, 8), true},
		{c(64, 128, 16), true},
		{c(32, 64, 14), false}, {c(32, 64, 16), false}, {c(64, 128, 7), false}, {c(64, 128, 8), false},
		{c(16, 16, 32), false}, {c(512, 512, 4), false},
		{ConvShape{N: 7, Cin: 256, H: 8, W: 8, Cout: 256, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, false}, // 28 tiles
	} {
		if got := useWino4(tc.s); got != tc.want {
			t.Errorf("useWino4(%d→%d, %dx%d) = %v, want %v", tc.s.Cin, tc.s.Cout, tc.s.H, tc.s.W, got, tc.want)
		}
	}
}

// TestWino4GatherTiers: wino4Gather writes the same window matrix on every
// tier (on AVX-512 wino4GatherAVX512: 8 tiles at a time, the rest masked),
// for planes of 1..13 × 1..40, and nothing outside the th·tw tiles of each
// row of d.
func TestWino4GatherTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	forEachTier(t, func(t *testing.T) {
		for h := 1; h <= 13; h++ {
			for w := 1; w <= 40; w++ {
				th, tw := (h+3)/4, (w+3)/4
				src := randSlice(r, h*w)
				ds := th*tw + r.IntN(9)
				want := make([]float32, 36*ds)
				pad := make([]float32, wino4PadLen(h, w))
				wino4Gather(cpu.Generic, src, h, w, pad, want, ds)
				got, check := guarded(36 * ds)
				for i := range got {
					got[i] = sentinel
				}
				for i := range pad {
					pad[i] = 0
				}
				wino4Gather(Tier(), src, h, w, pad, got, ds)
				check(t, fmt.Sprintf("wino4Gather %dx%d", h, w))
				for k := 0; k < 36; k++ {
					row := got[k*ds : (k+1)*ds]
					if j := bitsEqual(want[k*ds:k*ds+th*tw], row[:th*tw]); j >= 0 {
						t.Fatalf("wino4Gather %dx%d: window element %d, tile %d = %g, want %g", h, w, k, j, row[j], want[k*ds+j])
					}
					for j := th * tw; j < ds; j++ {
						if !isSentinel(row[j]) {
							t.Fatalf("wino4Gather %dx%d: element %d wrote tile %d past the last", h, w, k, j)
						}
					}
				}
			}
		}
	})
}

// checkCols fails t unless rows [0, rows) of got (stride xs) equal want's
// first n tiles bit for bit, and every tile from the next multiple of 16
// tiles up to xs still holds guarded's sentinel (a transform in whole
// vectors may write up to that multiple, no further).
func checkCols(t *testing.T, what string, want, got []float32, rows, xs, n int) {
	t.Helper()
	n16 := (n + 15) &^ 15
	for k := 0; k < rows; k++ {
		row := got[k*xs : (k+1)*xs]
		if j := bitsEqual(want[k*xs:k*xs+n], row[:n]); j >= 0 {
			t.Fatalf("%s: row %d tile %d = %g, want %g", what, k, j, row[j], want[k*xs+j])
		}
		for j := n16; j < xs; j++ {
			if !isSentinel(row[j]) {
				t.Fatalf("%s: row %d wrote tile %d", what, k, j)
			}
		}
	}
}
