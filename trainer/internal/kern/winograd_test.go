package kern

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

var winogradFlag = flag.String("winograd", "", "on or off: run 3×3 convolutions on Winograd F(2×2,3×3) or im2col (default: useWinograd's rule), so that any benchmark can compare the paths")

func TestMain(m *testing.M) {
	flag.Parse()
	switch *winogradFlag {
	case "":
	case "on", "off":
		SetWinograd(*winogradFlag == "on")
	default:
		fmt.Fprintf(os.Stderr, "-winograd=%q: want on or off\n", *winogradFlag)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// winoShapes are 3×3 stride-1 padding-1 shapes that useWinograd accepts:
// odd sides (a partial last row or column of tiles: 7, 5, 13, 1), one and
// many images (several Winograd batches, the last one short), channel
// counts that are not multiples of the register tile, and smallcnn's.
func winoShapes(short bool) []ConvShape {
	c3 := func(n, cin, cout, h, w int) ConvShape {
		return ConvShape{N: n, Cin: cin, H: h, W: w, Cout: cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	s := []ConvShape{
		c3(1, 16, 16, 7, 7),
		c3(2, 17, 19, 5, 9),
		c3(3, 16, 20, 1, 1),
		c3(2, 16, 16, 1, 6),
		c3(1, 18, 16, 13, 2),
		c3(40, 16, 17, 4, 4),
	}
	if !short {
		s = append(s, c3(5, 32, 64, 14, 14), c3(37, 64, 128, 7, 7), c3(2, 32, 64, 16, 16))
	}
	return s
}

// TestWinogradConv checks the Winograd forward pass and input gradient
// (Conv2dBackwardInput, and Conv2dBackward's and Conv2dBackwardBN's dx)
// against the float64 reference and against im2col, on every tier, with
// guard bands around the outputs.
//
// Tolerances: against the float64 reference, every element satisfies the
// bound TestConv2d holds im2col to, |got − want| ≤ 2·(k+2)·2⁻²⁴·Σ|terms|
// (k = Cin·9 forward, Cout·9 for dx). Winograd has no such element-wise
// guarantee (its transforms mix the 16 inputs of a tile, and an error from
// an input outside an element's 3×3 window does not scale with that
// element's terms), but on normal data it stays two orders of magnitude
// inside it (max |err|/bound 0.015 over the shapes and tiers here, im2col
// 0.012; go test -v logs them).
// Against im2col: ‖wino − im2col‖∞ ≤ 1e-5·‖im2col‖∞ (measured ≤ 1e-6).
func TestWinogradConv(t *testing.T) {
	defer func(v int) { winoMinPlane = v }(winoMinPlane)
	winoMinPlane = 0 // cover planes of one tile row or column too
	forEachTier(t, func(t *testing.T) {
		for i, s := range winoShapes(testing.Short()) {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				if !useWinograd(s) {
					t.Fatalf("%+v: useWinograd is false", s)
				}
				r := rand.New(rand.NewPCG(uint64(i), 77))
				x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
				ref := referenceConv(s, x, w, dy)

				old := SetWinograd(false)
				yIm, dxIm := make([]float32, s.OutLen()), make([]float32, s.InLen())
				Conv2d(s, x, w, yIm)
				Conv2dBackwardInput(s, dy, w, dxIm)
				SetWinograd(true)
				defer SetWinograd(old)

				y, checkY := guarded(s.OutLen())
				Conv2d(s, x, w, y)
				checkY(t, "y")
				checkClose(t, "y", y, ref.y, ref.yAbs, gemmTol(s.Cin*9))
				t.Logf("max |err|/bound: y %.4f (im2col %.4f)", boundRatio(y, ref.y, ref.yAbs, gemmTol(s.Cin*9)), boundRatio(yIm, ref.y, ref.yAbs, gemmTol(s.Cin*9)))
				checkRel(t, "y vs im2col", y, yIm, 1e-5)

				dx, checkDX := guarded(s.InLen())
				Conv2dBackwardInput(s, dy, w, dx)
				checkDX(t, "dx")
				checkClose(t, "dx", dx, ref.dx, ref.dxAbs, gemmTol(s.Cout*9))
				t.Logf("max |err|/bound: dx %.4f (im2col %.4f)", boundRatio(dx, ref.dx, ref.dxAbs, gemmTol(s.Cout*9)), boundRatio(dxIm, ref.dx, ref.dxAbs, gemmTol(s.Cout*9)))
				checkRel(t, "dx vs im2col", dx, dxIm, 1e-5)

				dx2, checkDX2 := guarded(s.InLen())
				dw2 := make([]float32, s.WeightLen())
				Conv2dBackward(s, x, dy, w, dw2, dx2)
				checkDX2(t, "Conv2dBackward dx")
				checkClose(t, "Conv2dBackward dw", dw2, ref.dw, ref.dwAbs, gemmTol(s.N*s.H*s.W))
				// Every element is computed the same way whatever batch of
				// images it falls in: the fused pass's dx is Conv2dBackwardInput's.
				if j := bitsEqual(dx, dx2); j >= 0 {
					t.Fatalf("Conv2dBackward dx[%d] = %g, Conv2dBackwardInput %g", j, dx2[j], dx[j])
				}
			})
		}
	})
}

// TestUseWinogradRule: which shapes run on Winograd.
func TestUseWinogradRule(t *testing.T) {
	c := func(cin, cout, h, k, stride, pad int) ConvShape {
		return ConvShape{N: 2, Cin: cin, H: h, W: h, Cout: cout, KH: k, KW: k, StrideH: stride, StrideW: stride, PadH: pad, PadW: pad}
	}
	for _, tc := range []struct {
		s    ConvShape
		want bool
	}{
		{c(32, 64, 14, 3, 1, 1), true}, {c(64, 128, 7, 3, 1, 1), true}, {c(16, 16, 5, 3, 1, 1), true},
		{c(512, 512, 4, 3, 1, 1), false}, // 4×4 plane
		{c(1, 32, 28, 3, 1, 1), false}, {c(3, 32, 32, 3, 1, 1), false}, {c(32, 8, 14, 3, 1, 1), false},
		{c(32, 64, 14, 3, 2, 1), false}, {c(32, 64, 14, 3, 1, 0), false}, {c(32, 64, 14, 5, 1, 1), false},
		{c(32, 64, 14, 1, 1, 0), false},
	} {
		if got := useWinograd(tc.s); got != tc.want {
			t.Errorf("useWinograd(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
	defer SetWinograd(SetWinograd(false))
	if useWinograd(c(32, 64, 14, 3, 1, 1)) {
		t.Error("useWinograd is true with SetWinograd(false)")
	}
}

// boundRatio is max |got−want| / (tol·abs) over the elements.
func boundRatio(got []float32, want, abs []float64, tol float64) float64 {
	var m float64
	for i := range want {
		m = math.Max(m, math.Abs(float64(got[i])-want[i])/(tol*abs[i]+1e-30))
	}
	return m
}

// checkRel asserts ‖got − want‖∞ ≤ tol·‖want‖∞.
func checkRel(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	if !(d <= tol*m) {
		t.Fatalf("%s: max |diff| %g > %g·max|want| (%g)", what, d, tol, m)
	}
}

// TestWinogradBackwardBN: Conv2dBackwardBN's dx on Winograd is
// bit-identical to BatchNormBackward followed by Conv2dBackward, for 1 and
// 3 threads.
func TestWinogradBackwardBN(t *testing.T) {
	s := ConvShape{N: 11, Cin: 16, H: 7, W: 7, Cout: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 50))
		x, w := randSlice(r, s.InLen()), randSlice(r, s.WeightLen())
		n, c, hw := s.N, s.Cout, s.H*s.W
		y, dyBN, gamma := randSlice(r, s.OutLen()), randSlice(r, s.OutLen()), randSlice(r, c)
		mean, variance := make([]float32, c), make([]float32, c)
		BatchNormStats(mean, variance, y, n, c, hw)
		dyConv := make([]float32, s.OutLen())
		BatchNormBackward(dyConv, make([]float32, c), make([]float32, c), dyBN, y, mean, variance, gamma, 1e-5, n, c, hw)
		wantDW, wantDX := make([]float32, s.WeightLen()), make([]float32, s.InLen())
		Conv2dBackward(s, x, dyConv, w, wantDW, wantDX)
		for _, th := range []int{1, 3} {
			var g BatchNormGrad
			dw, dx := make([]float32, s.WeightLen()), make([]float32, s.InLen())
			withThreads(th, func() {
				BatchNormBackwardCoeffs(&g, make([]float32, c), make([]float32, c), dyBN, y, mean, variance, gamma, 1e-5, n, c, hw)
				Conv2dBackwardBN(s, x, &g, w, dw, dx)
			})
			if j := bitsEqual(wantDX, dx); j >= 0 {
				t.Fatalf("%d threads: dx[%d] = %g, want %g", th, j, dx[j], wantDX[j])
			}
			if j := bitsEqual(wantDW, dw); j >= 0 {
				t.Fatalf("%d threads: dw[%d] = %g, want %g", th, j, dw[j], wantDW[j])
			}
		}
	})
}

// TestWinogradDeterministicThreads: the Winograd outputs are bit-identical
// for 1, 2, 3 and 8 threads.
func TestWinogradDeterministicThreads(t *testing.T) {
	s := ConvShape{N: 29, Cin: 16, H: 14, W: 14, Cout: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	r := rand.New(rand.NewPCG(8, 8))
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
	})
}

// TestWinogradTransformTiers: winoInTile and winoOutTile on every tier are
// bit-identical to their Go references, for grids of 1..17 tiles per row
// (partial and whole vectors of 8), and write nothing outside what they
// document: for the input transform, the tiles plus up to 7 elements past
// each row's end; for the output transform, 2·⌈tw/8⌉·8 columns of each
// output row. The padded plane's slack after its last row is NaN, which may
// reach only lanes nobody keeps.
func TestWinogradTransformTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forEachTier(t, func(t *testing.T) {
		for h := 1; h <= 9; h++ {
			for w := 1; w <= 34; w++ {
				th, tw := (h+1)/2, (w+1)/2
				src := randSlice(r, h*w)
				pad := make([]float32, winoPadLen(h, w))
				for i := range pad {
					pad[i] = sentinel
				}
				pw := winoPad(src, h, w, pad)
				xs := th*tw + 8 + r.IntN(5)
				want := make([]float32, 16*xs)
				winoInTileGo(pad, pw, th, tw, want, xs)
				got, check := guarded(16 * xs)
				winoInTile(Tier(), pad, pw, th, tw, got, xs)
				check(t, fmt.Sprintf("winoInTile %dx%d", h, w))
				for xi := 0; xi < 16; xi++ {
					row := got[xi*xs : xi*xs+xs]
					if j := bitsEqual(want[xi*xs:xi*xs+th*tw], row[:th*tw]); j >= 0 {
						t.Fatalf("winoInTile %dx%d: ξ %d tile %d = %g, want %g", h, w, xi, j, row[j], want[xi*xs+j])
					}
					for j := th*tw + 7; j < xs; j++ {
						if !isSentinel(row[j]) {
							t.Fatalf("winoInTile %dx%d: ξ %d wrote element %d, %d past the last tile", h, w, xi, j, j-th*tw)
						}
					}
				}
			}
		}
		for th := 1; th <= 5; th++ {
			for tw := 1; tw <= 17; tw++ {
				ms := th*tw + 7 + r.IntN(5)
				m := randSlice(r, 16*ms)
				yw := winoRowLen(2 * tw)
				r8 := (tw + 7) &^ 7
				want := make([]float32, 2*th*yw)
				winoOutTileGo(m, ms, th, tw, want, yw)
				got, check := guarded(2 * th * yw)
				winoOutTile(Tier(), m, ms, th, tw, got, yw)
				check(t, fmt.Sprintf("winoOutTile %dx%d tiles", th, tw))
				for oy := 0; oy < 2*th; oy++ {
					row := got[oy*yw : (oy+1)*yw]
					if j := bitsEqual(want[oy*yw:oy*yw+2*tw], row[:2*tw]); j >= 0 {
						t.Fatalf("winoOutTile %dx%d tiles: y[%d][%d] = %g, want %g", th, tw, oy, j, row[j], want[oy*yw+j])
					}
					for j := 2 * r8; j < yw; j++ {
						if !isSentinel(row[j]) {
							t.Fatalf("winoOutTile %dx%d tiles: wrote y[%d][%d]", th, tw, oy, j)
						}
					}
				}
			}
		}
	})
}

// TestWinogradOutputPlanes: winoOutput writes the same plane on every
// tier (on AVX2 planes of up to 8 tiles per row take the dense path, whose
// stores spill onto rows written later), and nothing outside it.
func TestWinogradOutputPlanes(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for h := 1; h <= 18; h++ {
		for w := 1; w <= 20; w++ {
			th, tw := (h+1)/2, (w+1)/2
			ms := th*tw + 7 + r.IntN(3)
			m := randSlice(r, 16*ms)
			want := make([]float32, h*w)
			winoOutput(cpu.Generic, m, ms, h, w, make([]float32, 2*th*winoRowLen(w)), want)
			got, check := guarded(h * w)
			winoOutput(Tier(), m, ms, h, w, make([]float32, 2*th*winoRowLen(w)), got)
			check(t, fmt.Sprintf("winoOutput %dx%d", h, w))
			if j := bitsEqual(want, got); j >= 0 {
				t.Fatalf("winoOutput %dx%d: element %d = %g, want %g", h, w, j, got[j], want[j])
			}
		}
	}
}

// TestWinogradTransformsExact: on small integers (exact in float32) the
// transforms and their composition are the direct convolution exactly:
// Aᵀ·((G·g·Gᵀ) ⊙ (Bᵀ·d·B))·A = conv(d, g) on a 4×4 window.
func TestWinogradTransformsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 6))
	for trial := 0; trial < 50; trial++ {
		var d [16]float32
		var g [9]float32
		for i := range d {
			d[i] = float32(r.IntN(17) - 8)
		}
		for i := range g {
			g[i] = float32(2 * (r.IntN(9) - 4)) // even: G·g·Gᵀ stays in halves, exact
		}
		for _, flip := range []bool{false, true} {
			u := make([]float32, 16)
			winoFilter(g[:], 1, 1, flip, u)
			gg := g
			if flip {
				for i := range 9 {
					gg[i] = g[8-i]
				}
			}
			v := tileInput(d)
			var m [16]float32
			for i := range m {
				m[i] = u[i] * v[i]
			}
			y := make([]float32, 4)
			winoOutTileGo(m[:], 1, 1, 1, y, 2)
			for oy := 0; oy < 2; oy++ {
				for ox := 0; ox < 2; ox++ {
					var want float32
					for ky := 0; ky < 3; ky++ {
						for kx := 0; kx < 3; kx++ {
							want += d[(oy+ky)*4+ox+kx] * gg[ky*3+kx]
						}
					}
					if got := y[oy*2+ox]; got != want {
						t.Fatalf("flip %v: y[%d][%d] = %g, want %g", flip, oy, ox, got, want)
					}
				}
			}
		}
	}
}

// tileInput is Bᵀ·d·B of one 4×4 window through winoInTileGo, d as a
// padded plane of one tile.
func tileInput(d [16]float32) [16]float32 {
	var v [16]float32
	winoInTileGo(d[:], 4, 1, 1, v[:], 1)
	return v
}
