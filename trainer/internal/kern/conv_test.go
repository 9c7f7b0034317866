package kern

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// convRef computes, in float64, the forward output and both gradients of
// a convolution directly from its definition, plus for each output element
// the sum of the absolute values of its terms (for the tolerance).
type convRef struct {
	y, yAbs, dx, dxAbs, dw, dwAbs []float64
}

func referenceConv(s ConvShape, x, w, dy []float32) convRef {
	oh, ow := s.OutH(), s.OutW()
	r := convRef{
		y: make([]float64, s.OutLen()), yAbs: make([]float64, s.OutLen()),
		dx: make([]float64, s.InLen()), dxAbs: make([]float64, s.InLen()),
		dw: make([]float64, s.WeightLen()), dwAbs: make([]float64, s.WeightLen()),
	}
	for n := 0; n < s.N; n++ {
		for co := 0; co < s.Cout; co++ {
			for oy := 0; oy < oh; oy++ {
				for ox := 0; ox < ow; ox++ {
					yi := ((n*s.Cout+co)*oh+oy)*ow + ox
					for ci := 0; ci < s.Cin; ci++ {
						for ky := 0; ky < s.KH; ky++ {
							for kx := 0; kx < s.KW; kx++ {
								iy, ix := oy*s.StrideH+ky-s.PadH, ox*s.StrideW+kx-s.PadW
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								xi := ((n*s.Cin+ci)*s.H+iy)*s.W + ix
								wi := ((co*s.Cin+ci)*s.KH+ky)*s.KW + kx
								xv, wv, gv := float64(x[xi]), float64(w[wi]), float64(dy[yi])
								r.y[yi] += xv * wv
								r.yAbs[yi] += math.Abs(xv * wv)
								r.dx[xi] += gv * wv
								r.dxAbs[xi] += math.Abs(gv * wv)
								r.dw[wi] += gv * xv
								r.dwAbs[wi] += math.Abs(gv * xv)
							}
						}
					}
				}
			}
		}
	}
	return r
}

// checkClose asserts |got−want| ≤ tol·abs for every element.
func checkClose(t *testing.T, what string, got []float32, want, abs []float64, tol float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= tol*abs[i]+1e-30) {
			t.Fatalf("%s[%d] = %g, want %g (|diff| %g > %g)", what, i, got[i], want[i], d, tol*abs[i])
		}
	}
}

func convShapes(short bool) []ConvShape {
	s := []ConvShape{
		{N: 2, Cin: 3, H: 7, W: 9, Cout: 5, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 3, Cin: 1, H: 17, W: 17, Cout: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 1, Cin: 4, H: 9, W: 8, Cout: 7, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 0, PadW: 1},
		{N: 2, Cin: 6, H: 5, W: 5, Cout: 3, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		{N: 2, Cin: 2, H: 6, W: 11, Cout: 4, KH: 2, KW: 3, StrideH: 1, StrideW: 3, PadH: 1, PadW: 2},
		{N: 1, Cin: 3, H: 1, W: 7, Cout: 2, KH: 1, KW: 5, StrideH: 1, StrideW: 1, PadW: 2},
		{N: 2, Cin: 2, H: 8, W: 8, Cout: 3, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2},
	}
	if !short {
		s = append(s,
			ConvShape{N: 4, Cin: 32, H: 16, W: 16, Cout: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
			ConvShape{N: 9, Cin: 3, H: 33, W: 33, Cout: 17, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
		)
	}
	return s
}

func TestConv2d(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		for i, s := range convShapes(testing.Short()) {
			t.Run(fmt.Sprintf("%d", i), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), 3))
				x, w, dyIn := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
				ref := referenceConv(s, x, w, dyIn)
				kTerms := s.Cin * s.KH * s.KW

				y, checkY := guarded(s.OutLen())
				Conv2d(s, x, w, y)
				checkY(t, "y")
				checkClose(t, "y", y, ref.y, ref.yAbs, gemmTol(kTerms))

				dx, checkDX := guarded(s.InLen())
				Conv2dBackwardInput(s, dyIn, w, dx)
				checkDX(t, "dx")
				checkClose(t, "dx", dx, ref.dx, ref.dxAbs, gemmTol(s.Cout*s.KH*s.KW))

				dw, checkDW := guarded(s.WeightLen())
				Conv2dBackwardWeights(s, x, dyIn, dw)
				checkDW(t, "dw")
				checkClose(t, "dw", dw, ref.dw, ref.dwAbs, gemmTol(s.N*s.OutH()*s.OutW()))

				// The fused backward pass, with and without dx.
				dw2, checkDW2 := guarded(s.WeightLen())
				dx2, checkDX2 := guarded(s.InLen())
				Conv2dBackward(s, x, dyIn, w, dw2, dx2)
				checkDW2(t, "Conv2dBackward dw")
				checkDX2(t, "Conv2dBackward dx")
				checkClose(t, "Conv2dBackward dw", dw2, ref.dw, ref.dwAbs, gemmTol(s.N*s.OutH()*s.OutW()))
				checkClose(t, "Conv2dBackward dx", dx2, ref.dx, ref.dxAbs, gemmTol(s.Cout*s.KH*s.KW))
				dw3 := make([]float32, s.WeightLen())
				Conv2dBackward(s, x, dyIn, w, dw3, nil)
				if j := bitsEqual(dw2, dw3); j >= 0 {
					t.Fatalf("Conv2dBackward without dx: dw[%d] = %g, with dx %g", j, dw3[j], dw2[j])
				}
			})
		}
	})
}

// TestConv2dDeterministicThreads: for a fixed tier, every output of the
// convolution kernels is bit-identical for 1, 2, 3 and 8 threads (the shape
// batches 8 images per GEMM, the last batch short).
func TestConv2dDeterministicThreads(t *testing.T) {
	s := ConvShape{N: 19, Cin: 5, H: 10, W: 9, Cout: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
	r := rand.New(rand.NewPCG(9, 9))
	x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
	forEachTier(t, func(t *testing.T) {
		var first [5][]float32
		for _, th := range []int{1, 2, 3, 8} {
			y, dx, dw := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.WeightLen())
			dx2, dw2 := make([]float32, s.InLen()), make([]float32, s.WeightLen())
			withThreads(th, func() {
				Conv2d(s, x, w, y)
				Conv2dBackwardInput(s, dy, w, dx)
				Conv2dBackwardWeights(s, x, dy, dw)
				Conv2dBackward(s, x, dy, w, dw2, dx2)
			})
			got := [5][]float32{y, dx, dw, dx2, dw2}
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

func TestConvShapeValidate(t *testing.T) {
	bad := []ConvShape{
		{N: 1, Cin: 0, H: 3, W: 3, Cout: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1},
		{N: 1, Cin: 1, H: 3, W: 3, Cout: 1, KH: 5, KW: 1, StrideH: 1, StrideW: 1},
		{N: 1, Cin: 1, H: 3, W: 3, Cout: 1, KH: 1, KW: 1, StrideH: 0, StrideW: 1},
		{N: 1, Cin: 1, H: 3, W: 3, Cout: 1, KH: 1, KW: 1, StrideH: 1, StrideW: 1, PadW: -1},
	}
	for _, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("%+v: Validate accepted it", s)
		}
	}
}

// TestIm2colSame checks the shifted-copy im2col against the generic one
// (bit-identical: both only copy) on "same" shapes, including kernels
// wider than twice the padding and single-row images.
func TestIm2colSame(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 13))
	for _, s := range []ConvShape{
		{N: 1, Cin: 2, H: 5, W: 6, Cout: 1, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 1, Cin: 1, H: 4, W: 4, Cout: 1, KH: 5, KW: 5, StrideH: 1, StrideW: 1, PadH: 2, PadW: 2},
		{N: 1, Cin: 3, H: 1, W: 9, Cout: 1, KH: 1, KW: 7, StrideH: 1, StrideW: 1, PadW: 3},
		{N: 1, Cin: 1, H: 2, W: 2, Cout: 1, KH: 5, KW: 3, StrideH: 1, StrideW: 1, PadH: 2, PadW: 1},
		{N: 1, Cin: 2, H: 7, W: 3, Cout: 1, KH: 3, KW: 1, StrideH: 1, StrideW: 1, PadH: 1},
	} {
		if s.OutH() != s.H || s.OutW() != s.W {
			t.Fatalf("%+v is not a same-size shape", s)
		}
		x := randSlice(r, s.Cin*s.H*s.W)
		k, p := s.Cin*s.KH*s.KW, s.H*s.W
		want, got := make([]float32, k*p), make([]float32, k*p)
		for i := range got {
			got[i] = sentinel
		}
		im2colGeneric(s, x, want, p)
		im2colSame(s, x, got, p)
		if i := bitsEqual(want, got); i >= 0 {
			t.Fatalf("%+v: element %d (row %d) = %g, want %g", s, i, i/p, got[i], want[i])
		}
	}
}

// TestConv2dBatchedForward: batching images into one GEMM (batchCols)
// changes neither the forward output nor the input gradient, bit for bit:
// each of their elements is the same K-long reduction, in the same order,
// whatever the number of columns beside it. (The weight gradient's
// reduction runs over the batch, so batching regroups it; TestConv2d bounds
// its error.)
func TestConv2dBatchedForward(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		for _, s := range []ConvShape{
			{N: 5, Cin: 3, H: 7, W: 7, Cout: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
			{N: 7, Cin: 2, H: 9, W: 6, Cout: 13, KH: 3, KW: 3, StrideH: 2, StrideW: 1, PadH: 1, PadW: 0},
		} {
			r := rand.New(rand.NewPCG(21, 21))
			x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
			var ys, dxs [2][]float32
			for i, bc := range []int{0, 100} {
				old := batchCols
				batchCols = bc
				if b := convBatch(s); (bc == 0) != (b == 1) || b >= s.N {
					t.Fatalf("%+v: batchCols %d gives %d images per GEMM", s, bc, b)
				}
				ys[i], dxs[i] = make([]float32, s.OutLen()), make([]float32, s.InLen())
				Conv2d(s, x, w, ys[i])
				Conv2dBackward(s, x, dy, w, make([]float32, s.WeightLen()), dxs[i])
				batchCols = old
			}
			if j := bitsEqual(ys[0], ys[1]); j >= 0 {
				t.Fatalf("%+v: batched y[%d] = %g, per image %g", s, j, ys[1][j], ys[0][j])
			}
			if j := bitsEqual(dxs[0], dxs[1]); j >= 0 {
				t.Fatalf("%+v: batched dx[%d] = %g, per image %g", s, j, dxs[1][j], dxs[0][j])
			}
		}
	})
}

// TestConv2dBackwardBN: the convolution's gradients from a BatchNormGrad
// (the batch normalisation's input gradient never written out) are
// bit-identical to BatchNormBackward followed by Conv2dBackward, with and
// without dx, on every tier and for 1 and 3 threads: batched shapes (one
// with a short last batch), an unbatched one (one image per GEMM), and a
// strided 3×3.
func TestConv2dBackwardBN(t *testing.T) {
	shapes := []ConvShape{
		{N: 23, Cin: 3, H: 7, W: 7, Cout: 6, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 3, Cin: 1, H: 28, W: 28, Cout: 4, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 5, Cin: 2, H: 9, W: 8, Cout: 5, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},
	}
	forEachTier(t, func(t *testing.T) {
		for i, s := range shapes {
			r := rand.New(rand.NewPCG(uint64(30+i), 30))
			x, w := randSlice(r, s.InLen()), randSlice(r, s.WeightLen())
			n, c, hw := s.N, s.Cout, s.OutH()*s.OutW()
			y, dyBN := randSlice(r, s.OutLen()), randSlice(r, s.OutLen())
			gamma := randSlice(r, c)
			mean, variance := make([]float32, c), make([]float32, c)
			BatchNormStats(mean, variance, y, n, c, hw)

			dyConv := make([]float32, s.OutLen())
			dg, db := make([]float32, c), make([]float32, c)
			BatchNormBackward(dyConv, dg, db, dyBN, y, mean, variance, gamma, 1e-5, n, c, hw)
			wantDW, wantDX := make([]float32, s.WeightLen()), make([]float32, s.InLen())
			Conv2dBackward(s, x, dyConv, w, wantDW, wantDX)

			for _, th := range []int{1, 3} {
				var g BatchNormGrad
				dg2, db2 := make([]float32, c), make([]float32, c)
				dw, checkDW := guarded(s.WeightLen())
				dx, checkDX := guarded(s.InLen())
				dwOnly := make([]float32, s.WeightLen())
				withThreads(th, func() {
					BatchNormBackwardCoeffs(&g, dg2, db2, dyBN, y, mean, variance, gamma, 1e-5, n, c, hw)
					Conv2dBackwardBN(s, x, &g, w, dw, dx)
					Conv2dBackwardBN(s, x, &g, w, dwOnly, nil)
				})
				checkDW(t, "dw")
				checkDX(t, "dx")
				for _, cmp := range []struct {
					name      string
					got, want []float32
				}{{"dgamma", dg2, dg}, {"dbeta", db2, db}, {"dw", dw, wantDW}, {"dx", dx, wantDX}, {"dw without dx", dwOnly, wantDW}} {
					if j := bitsEqual(cmp.want, cmp.got); j >= 0 {
						t.Fatalf("shape %d, %d threads: %s[%d] = %g, want %g", i, th, cmp.name, j, cmp.got[j], cmp.want[j])
					}
				}
			}
		}
	})
}

// TestImageGroups: imageGroups' groups cover the batch in order, none is
// empty, there are at most maxGroups, and forGroups visits each once.
func TestImageGroups(t *testing.T) {
	for n := 1; n <= 70; n++ {
		for maxGroups := 1; maxGroups <= 10; maxGroups++ {
			ng, per := imageGroups(n, maxGroups)
			if ng < 1 || ng > maxGroups || ng > n {
				t.Fatalf("imageGroups(%d, %d) = %d groups", n, maxGroups, ng)
			}
			seen := make([]int, n)
			var mu sync.Mutex
			forGroups(n, ng, per, func(g, lo, hi int) {
				if lo >= hi || lo != g*per {
					t.Errorf("imageGroups(%d, %d): group %d is [%d, %d)", n, maxGroups, g, lo, hi)
				}
				mu.Lock()
				for i := lo; i < hi; i++ {
					seen[i]++
				}
				mu.Unlock()
			})
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("imageGroups(%d, %d): image %d in %d groups", n, maxGroups, i, c)
				}
			}
		}
	}
}

// TestConvBitIdenticalAcrossTiers runs the convolution passes on every SIMD
// tier and demands identical bits: im2col (stride 2, odd sizes), batched
// small planes, 1×1, and Winograd (forward, input and weight gradients),
// since their GEMMs reduce every element in the same order on every tile
// and the transforms and layer loops run the same operations.
func TestConvBitIdenticalAcrossTiers(t *testing.T) {
	simd := simdTiers(t)
	shapes := []ConvShape{
		{N: 3, Cin: 5, H: 11, W: 9, Cout: 17, KH: 3, KW: 3, StrideH: 2, StrideW: 2, PadH: 1, PadW: 1},   // im2col
		{N: 19, Cin: 5, H: 10, W: 9, Cout: 20, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},  // batched
		{N: 4, Cin: 24, H: 7, W: 6, Cout: 33, KH: 1, KW: 1, StrideH: 1, StrideW: 1},                     // 1×1
		{N: 5, Cin: 16, H: 12, W: 10, Cout: 29, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}, // Winograd
	}
	if !useWinograd(shapes[3]) || useWinograd(shapes[0]) {
		t.Fatal("the shape list no longer covers both im2col and Winograd")
	}
	defer func(s cpu.Tier) { tier = s }(tier)
	for i, s := range shapes {
		r := rand.New(rand.NewPCG(uint64(i), 17))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		var first [5][]float32
		for _, tr := range simd {
			tier = tr
			y, dx, dw := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.WeightLen())
			dx2, dw2 := make([]float32, s.InLen()), make([]float32, s.WeightLen())
			Conv2d(s, x, w, y)
			Conv2dBackwardInput(s, dy, w, dx)
			Conv2dBackwardWeights(s, x, dy, dw)
			Conv2dBackward(s, x, dy, w, dw2, dx2)
			got := [5][]float32{y, dx, dw, dx2, dw2}
			for j := range got {
				if first[j] == nil {
					first[j] = got[j]
				} else if k := bitsEqual(first[j], got[j]); k >= 0 {
					t.Fatalf("shape %d (winograd %v) output %d: %v differs from %v at %d: %g vs %g", i, useWinograd(s), j, tr, simd[0], k, got[j][k], first[j][k])
				}
			}
		}
	}
}
