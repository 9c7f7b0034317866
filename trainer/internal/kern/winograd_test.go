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
		{c(512, 512, 4, 3, 1, 1), false}, // 4×4 plane, 2 images
		{c(1, 32, 28, 3, 1, 1), false}, {c(3, 32, 32, 3, 1, 1), false}, {c(32, 8, 14, 3, 1, 1), false},
		{c(32, 64, 14, 3, 2, 1), false}, {c(32, 64, 14, 3, 1, 0), false}, {c(32, 64, 14, 5, 1, 1), false},
		{c(32, 64, 14, 1, 1, 0), false},
	} {
		if got := useWinograd(tc.s); got != tc.want {
			t.Errorf("useWinograd(%+v) = %v, want %v", tc.s, got, tc.want)
		}
	}
	// 4×4 planes with ≥ 512 channels on ≥ 128 images (winoPlaneOK).
	big := func(cin, cout, n int) ConvShape {
		s := c(cin, cout, 4, 3, 1, 1)
		s.N = n
		return s
	}
	if !useWinograd(big(512, 512, 128)) || useWinograd(big(512, 512, 127)) || useWinograd(big(256, 512, 512)) {
		t.Error("4×4 planes: want Winograd for 512→512 on 128 images, not on 127, not for 256→512")
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
	checkBackwardBN(t, ConvShape{N: 11, Cin: 16, H: 7, W: 7, Cout: 24, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, 50)
}

// checkBackwardBN checks, on every tier, that Conv2dBackwardBN's dw and dx
// for shape s (one useWinograd accepts) are bit-identical to
// BatchNormBackward followed by Conv2dBackward, for 1 and 3 threads
// (random data from seed), with the whole output gradient kept in scratch,
// in g.Into, and in g.Into aliasing g.X (which must then hold exactly what
// BatchNormBackward wrote).
func checkBackwardBN(t *testing.T, s ConvShape, seed uint64) {
	if !useWinograd(s) {
		t.Fatalf("%+v: not a Winograd shape", s)
	}
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, seed))
		x, w := randSlice(r, s.InLen()), randSlice(r, s.WeightLen())
		n, c, hw := s.N, s.Cout, s.H*s.W
		y, dyBN, gamma := randSlice(r, s.OutLen()), randSlice(r, s.OutLen()), randSlice(r, c)
		mean, variance := make([]float32, c), make([]float32, c)
		BatchNormStats(mean, variance, y, n, c, hw)
		dyConv := make([]float32, s.OutLen())
		BatchNormBackward(dyConv, make([]float32, c), make([]float32, c), dyBN, y, mean, variance, gamma, 1e-5, n, c, hw)
		wantDW, wantDX := make([]float32, s.WeightLen()), make([]float32, s.InLen())
		Conv2dBackward(s, x, dyConv, w, wantDW, wantDX)
		for _, into := range []string{"scratch", "Into", "Into = X"} {
			for _, th := range []int{1, 3} {
				var g BatchNormGrad
				dw, dx := make([]float32, s.WeightLen()), make([]float32, s.InLen())
				bnX := y
				if into == "Into = X" {
					bnX = append([]float32(nil), y...)
				}
				withThreads(th, func() {
					BatchNormBackwardCoeffs(&g, make([]float32, c), make([]float32, c), dyBN, bnX, mean, variance, gamma, 1e-5, n, c, hw)
					switch into {
					case "Into":
						g.Into = make([]float32, s.OutLen())
					case "Into = X":
						g.Into = bnX
					}
					Conv2dBackwardBN(s, x, &g, w, dw, dx)
				})
				if j := bitsEqual(wantDX, dx); j >= 0 {
					t.Fatalf("%s, %d threads: dx[%d] = %g, want %g", into, th, j, dx[j], wantDX[j])
				}
				if j := bitsEqual(wantDW, dw); j >= 0 {
					t.Fatalf("%s, %d threads: dw[%d] = %g, want %g", into, th, j, dw[j], wantDW[j])
				}
				if g.Into != nil {
					if j := bitsEqual(dyConv, g.Into); j >= 0 {
						t.Fatalf("%s, %d threads: Into[%d] = %g, want BatchNormBackward's %g", into, th, j, g.Into[j], dyConv[j])
					}
				}
			}
		}
	})
}

// TestWinogradDeterministicThreads: the Winograd outputs, weight gradients
// included, are bit-identical for 1, 2, 3 and 8 threads: on 14×14 (one
// weight-gradient batch per image group) and 24×24 (two per group).
func TestWinogradDeterministicThreads(t *testing.T) {
	for _, s := range []ConvShape{
		{N: 29, Cin: 16, H: 14, W: 14, Cout: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 29, Cin: 16, H: 24, W: 24, Cout: 16, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	} {
		r := rand.New(rand.NewPCG(8, 8))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		forEachTier(t, func(t *testing.T) {
			var first [5][]float32
			for _, th := range []int{1, 2, 3, 8} {
				y, dx, dx2 := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.InLen())
				dw, dw2 := make([]float32, s.WeightLen()), make([]float32, s.WeightLen())
				withThreads(th, func() {
					Conv2d(s, x, w, y)
					Conv2dBackwardInput(s, dy, w, dx)
					Conv2dBackward(s, x, dy, w, dw2, dx2)
					Conv2dBackwardWeights(s, x, dy, dw)
				})
				got := [5][]float32{y, dx, dx2, dw, dw2}
				for i := range got {
					if first[i] == nil {
						first[i] = got[i]
					} else if j := bitsEqual(first[i], got[i]); j >= 0 {
						t.Fatalf("%dx%d output %d: %d threads differ from 1 thread at %d", s.H, s.W, i, th, j)
					}
				}
			}
		})
	}
}

// TestWinogradTransformTiers: winoInTile and winoOutTile on every tier are
// bit-identical to their Go references, for grids of 1..35 tiles per row
// (1..40 for the output transform: partial and whole vectors of 8 and 16),
// and write nothing outside what they document: for the input transform,
// the tiles plus up to 7 elements past each row's end (on AVX-512, for rows
// of more than 8 tiles, nothing past them); for the output transform,
// 2·⌈tw/8⌉·8 columns of each output row (on AVX-512, for rows of 16 tiles
// or more, exactly 2·tw). The padded plane's slack after its last row is
// NaN, which may reach only lanes nobody keeps.
func TestWinogradTransformTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	forEachTier(t, func(t *testing.T) {
		for h := 1; h <= 9; h++ {
			for w := 1; w <= 70; w++ {
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
				past := 7 // elements a row may write past the last tile
				if Tier() >= cpu.AVX512 && tw > 8 {
					past = 0
				}
				for xi := 0; xi < 16; xi++ {
					row := got[xi*xs : xi*xs+xs]
					if j := bitsEqual(want[xi*xs:xi*xs+th*tw], row[:th*tw]); j >= 0 {
						t.Fatalf("winoInTile %dx%d: ξ %d tile %d = %g, want %g", h, w, xi, j, row[j], want[xi*xs+j])
					}
					for j := th*tw + past; j < xs; j++ {
						if !isSentinel(row[j]) {
							t.Fatalf("winoInTile %dx%d: ξ %d wrote element %d, %d past the last tile", h, w, xi, j, j-th*tw)
						}
					}
				}
			}
		}
		for th := 1; th <= 5; th++ {
			for tw := 1; tw <= 40; tw++ {
				ms := th*tw + 7 + r.IntN(5)
				m := randSlice(r, 16*ms)
				yw := winoRowLen(2 * tw)
				r8 := (tw + 7) &^ 7
				if Tier() >= cpu.AVX512 && tw >= 16 {
					r8 = tw // masked tail: nothing past the last tile
				}
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

// winoDWShapes are the weight-gradient shapes: odd and even planes (7×7,
// 5×5 and 13×13 have a partial last row and column of tiles; 14×14, 32×32
// and 6×10 none), 16 to 128 channels (some not multiples of the GEMM's
// register tile), and batches of 1 image to several groups (imageGroups) of
// several weight-gradient batches (winoDWImages) each, the last short.
func winoDWShapes(short bool) []ConvShape {
	c3 := func(n, cin, cout, h, w int) ConvShape {
		return ConvShape{N: n, Cin: cin, H: h, W: w, Cout: cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	}
	s := []ConvShape{
		c3(1, 16, 16, 7, 7),
		c3(3, 16, 24, 5, 5),
		c3(2, 17, 19, 6, 10),
		c3(11, 16, 16, 14, 14),
		c3(9, 16, 16, 32, 32), // one image per batch, two batches per group
		c3(40, 16, 17, 4, 5),
	}
	if !short {
		s = append(s, c3(9, 32, 64, 14, 14), c3(37, 64, 128, 7, 7), c3(3, 128, 64, 13, 13), c3(4, 32, 16, 32, 32))
	}
	return s
}

// TestWinogradWeightGrad checks the Winograd weight gradient
// (Conv2dBackwardWeights, and Conv2dBackward's and Conv2dBackwardBN's dw)
// against the float64 reference and against im2col, on every tier.
//
// Tolerances. Against the float64 reference: the element-wise bound im2col
// is held to, |got − want| ≤ 2·(K+2)·2⁻²⁴·Σ|terms| with K = N·H·W, the
// length of each element's sum. As for the forward pass, Winograd has no
// such element-wise guarantee: the final transform G'ᵀ·M·G' combines up
// to 9 of the 16 sums M[ξ] with weights 1 and ½, each M[ξ] a sum over the
// tiles of products of transformed values (each a ± sum of up to 4 output
// gradients times a ± sum of up to 4 inputs), so an element's error scales
// with Σ_tiles |E[ξ]|·|V[ξ]| rather than with its own terms. On normal
// data it stays far inside (max |err|/bound 0.033 over the shapes and
// tiers here, im2col 0.026; go test -v logs them), while a real mistake (a
// wrong sign, a lost tile, a misplaced partial tile) is an error of the
// order of the terms themselves and fails by orders of magnitude.
// Against im2col: ‖wino − im2col‖∞ ≤ 1e-5·‖im2col‖∞: both are sums of
// K = N·H·W products whose rounding errors stay near √K·2⁻²⁴ of the
// largest element (measured ≤ 7.7e-7 here, so 1e-5 leaves a margin of 13).
func TestWinogradWeightGrad(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		for i, s := range winoDWShapes(testing.Short()) {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				if !useWinograd(s) {
					t.Fatalf("%+v: useWinograd is false", s)
				}
				r := rand.New(rand.NewPCG(uint64(i), 91))
				x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
				ref := referenceConv(s, x, w, dy)
				tol := gemmTol(s.N * s.H * s.W)

				old := SetWinograd(false)
				dwIm := make([]float32, s.WeightLen())
				Conv2dBackwardWeights(s, x, dy, dwIm)
				SetWinograd(true)
				defer SetWinograd(old)

				dw, checkDW := guarded(s.WeightLen())
				Conv2dBackwardWeights(s, x, dy, dw)
				checkDW(t, "dw")
				checkClose(t, "dw", dw, ref.dw, ref.dwAbs, tol)
				t.Logf("%+v: max |err|/bound: dw %.4f (im2col %.4f); ‖wino − im2col‖∞/‖im2col‖∞ %.2g", s,
					boundRatio(dw, ref.dw, ref.dwAbs, tol), boundRatio(dwIm, ref.dw, ref.dwAbs, tol), relDiff(dw, dwIm))
				checkRel(t, "dw vs im2col", dw, dwIm, 1e-5)

				// The fused pass (with and without dx) computes the same dw.
				for _, withDX := range []bool{true, false} {
					dw2, checkDW2 := guarded(s.WeightLen())
					var dx []float32
					if withDX {
						dx = make([]float32, s.InLen())
					}
					Conv2dBackward(s, x, dy, w, dw2, dx)
					checkDW2(t, "Conv2dBackward dw")
					if j := bitsEqual(dw, dw2); j >= 0 {
						t.Fatalf("Conv2dBackward (dx %v) dw[%d] = %g, Conv2dBackwardWeights %g", withDX, j, dw2[j], dw[j])
					}
				}
			})
		}
	})
}

// relDiff is ‖got − want‖∞ / ‖want‖∞.
func relDiff(got, want []float32) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(float64(got[i])-float64(want[i])))
		m = math.Max(m, math.Abs(float64(want[i])))
	}
	return d / m
}

// TestWinogradGradOutTiers: winoGradOutTile on every tier is bit-identical
// to winoGradOutTileGo for 1..40 tiles (partial and whole vectors of 8) and
// writes nothing past the 7 elements after the last tile that it
// documents; the row streams' elements past the last tile are NaN, which
// may reach only those lanes.
func TestWinogradGradOutTiers(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 13))
	defer func(z bool) { gradOutZMM = z }(gradOutZMM)
	forEachTier(t, func(t *testing.T) {
		for _, zmm := range []bool{false, true} {
			gradOutZMM = zmm
			testGradOutTile(t, r)
		}
	})
}

// testGradOutTile is one pass of TestWinogradGradOutTiers on the current
// tier; on AVX-512 with gradOutZMM nothing may be written past the last tile.
func testGradOutTile(t *testing.T, r *rand.Rand) {
	{
		for n := 1; n <= 40; n++ {
			rl := winoGradRowLen(n)
			r0, r1 := make([]float32, rl), make([]float32, rl)
			for i := range r0 {
				r0[i], r1[i] = sentinel, sentinel
				if i < 2*n {
					r0[i], r1[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
				}
			}
			xs := n + 8 + r.IntN(5)
			want := make([]float32, 16*xs)
			winoGradOutTileGo(r0, r1, n, want, xs)
			got, check := guarded(16 * xs)
			winoGradOutTile(Tier(), r0, r1, n, got, xs)
			check(t, fmt.Sprintf("winoGradOutTile %d", n))
			for xi := 0; xi < 16; xi++ {
				row := got[xi*xs : xi*xs+xs]
				if j := bitsEqual(want[xi*xs:xi*xs+n], row[:n]); j >= 0 {
					t.Fatalf("winoGradOutTile %d tiles (zmm %v): ξ %d tile %d = %g, want %g", n, gradOutZMM, xi, j, row[j], want[xi*xs+j])
				}
				past := 7
				if Tier() >= cpu.AVX512 && gradOutZMM {
					past = 0
				}
				for j := n + past; j < xs; j++ {
					if !isSentinel(row[j]) {
						t.Fatalf("winoGradOutTile %d tiles (zmm %v): ξ %d wrote element %d, %d past the last tile", n, gradOutZMM, xi, j, j-n)
					}
				}
			}
		}
	}
}

// TestWinogradGradOutPlanes: winoGradOut on every tier, for planes of 1..18
// rows and columns of small integers (exact in float32), writes exactly
// E = A'·e·A'ᵀ of each 2×2 tile e, with zeros for the part of a partial
// last tile outside the plane, even where its scratch held NaN.
func TestWinogradGradOutPlanes(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 15))
	ap := [4][2]float64{{1, 0}, {1, 1}, {1, -1}, {0, 1}} // A'
	forEachTier(t, func(t *testing.T) {
		for h := 1; h <= 18; h++ {
			for w := 1; w <= 18; w++ {
				th, tw := (h+1)/2, (w+1)/2
				tiles := th * tw
				src := make([]float32, h*w)
				for i := range src {
					src[i] = float32(r.IntN(33) - 16)
				}
				pad := make([]float32, winoGradOutLen(h, w))
				for i := range pad {
					pad[i] = sentinel
				}
				xs := tiles + 8
				dst := make([]float32, 16*xs)
				winoGradOut(Tier(), src, h, w, pad, dst, xs)
				for ty := 0; ty < th; ty++ {
					for tx := 0; tx < tw; tx++ {
						var e [2][2]float64
						for a := range 2 {
							for b := range 2 {
								if y, x := 2*ty+a, 2*tx+b; y < h && x < w {
									e[a][b] = float64(src[y*w+x])
								}
							}
						}
						for i := range 4 {
							for j := range 4 {
								var want float64
								for a := range 2 {
									for b := range 2 {
										want += ap[i][a] * e[a][b] * ap[j][b]
									}
								}
								if got := dst[(4*i+j)*xs+ty*tw+tx]; float64(got) != want {
									t.Fatalf("%dx%d tile (%d,%d) ξ %d = %g, want %g", h, w, ty, tx, 4*i+j, got, want)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestWinogradGradTransformsExact: on small integers the weight-gradient
// transforms compose to the direct correlation exactly:
// G'ᵀ·[(A'·e·A'ᵀ) ⊙ (Bᵀ·d·B)]·G' = Σ_ab e[a][b]·d[a+i][b+j] for a 2×2
// output gradient e and a 4×4 input window d.
func TestWinogradGradTransformsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 17))
	for trial := 0; trial < 50; trial++ {
		var d [16]float32
		var e [4]float32
		for i := range d {
			d[i] = float32(r.IntN(17) - 8)
		}
		for i := range e {
			e[i] = float32(r.IntN(17) - 8)
		}
		v := tileInput(d)
		var et [16]float32
		winoGradOutTileGo(e[:2], e[2:], 1, et[:], 1)
		m := make([]float32, 16)
		for i := range m {
			m[i] = et[i] * v[i]
		}
		dw := make([]float32, 9)
		winoGradFilter(m, 1, 1, 1, dw)
		for i := range 3 {
			for j := range 3 {
				var want float32
				for a := range 2 {
					for b := range 2 {
						want += e[2*a+b] * d[(a+i)*4+b+j]
					}
				}
				if got := dw[3*i+j]; got != want {
					t.Fatalf("trial %d: dw[%d][%d] = %g, want %g", trial, i, j, got, want)
				}
			}
		}
	}
}

// TestWinogradWeightGradLargeLayer: a 512→512 layer, whose partial sums
// winoDWPartsMax limits to 4 groups, agrees with im2col (as in
// TestWinogradWeightGrad) and gives bit-identical dw for 1 and 2 threads.
func TestWinogradWeightGradLargeLayer(t *testing.T) {
	if testing.Short() {
		t.Skip("a 512×512 layer")
	}
	s := ConvShape{N: 9, Cin: 512, H: 5, W: 5, Cout: 512, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	if ng := winoDWMaxGroups(s); ng != 4 {
		t.Fatalf("groups = %d, want 4", ng)
	}
	r := rand.New(rand.NewPCG(21, 22))
	x, dy := randSlice(r, s.InLen()), randSlice(r, s.OutLen())
	old := SetWinograd(false)
	dwIm := make([]float32, s.WeightLen())
	Conv2dBackwardWeights(s, x, dy, dwIm)
	SetWinograd(true)
	defer SetWinograd(old)
	var first []float32
	for _, th := range []int{1, 2} {
		dw := make([]float32, s.WeightLen())
		withThreads(th, func() { Conv2dBackwardWeights(s, x, dy, dw) })
		checkRel(t, "dw vs im2col", dw, dwIm, 1e-5)
		if first == nil {
			first = dw
		} else if j := bitsEqual(first, dw); j >= 0 {
			t.Fatalf("%d threads: dw[%d] = %g, 1 thread %g", th, j, dw[j], first[j])
		}
	}
}
