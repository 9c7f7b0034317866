package kern

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// The layer kernels compute in float64 and round once (or a few times), so
// each output is checked with the stated tolerance
//
//	|got − want| ≤ layerTol·(|want| + scale)
//
// where want is a float64 reference and scale the magnitude of the terms
// that cancel to form it.
const layerTol = 16 * eps32

func near(t *testing.T, what string, i int, got float32, want, scale float64) {
	t.Helper()
	if d := math.Abs(float64(got) - want); !(d <= layerTol*(math.Abs(want)+scale)+1e-30) {
		t.Fatalf("%s[%d] = %g, want %g", what, i, got, want)
	}
}

var layerShapes = [][3]int{{1, 1, 1}, {2, 3, 7}, {3, 17, 33}, {5, 4, 255}}

func TestBiasAndReLU(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(4, 4))
		for _, sh := range layerShapes {
			n, c, hw := sh[0], sh[1], sh[2]
			x, bias := randSlice(r, n*c*hw), randSlice(r, c)
			y, check := guarded(n * c * hw)
			copy(y, x)
			BiasAdd(y, bias, n, c, hw)
			check(t, "BiasAdd")
			for i := range y {
				near(t, "BiasAdd", i, y[i], float64(x[i])+float64(bias[(i/hw)%c]), math.Abs(float64(x[i])))
			}
			db, check := guarded(c)
			BiasGrad(db, x, n, c, hw)
			check(t, "BiasGrad")
			for ch := 0; ch < c; ch++ {
				var s, a float64
				for i := 0; i < n; i++ {
					for j := 0; j < hw; j++ {
						v := float64(x[(i*c+ch)*hw+j])
						s, a = s+v, a+math.Abs(v)
					}
				}
				near(t, "BiasGrad", ch, db[ch], s, a)
			}
			ry, check := guarded(len(x))
			ReLU(ry, x)
			check(t, "ReLU")
			dy := randSlice(r, len(x))
			dx, check2 := guarded(len(x))
			ReLUGrad(dx, dy, ry)
			check2(t, "ReLUGrad")
			for i, v := range x {
				want, g := v, dy[i]
				if v <= 0 {
					want, g = 0, 0
				}
				if ry[i] != want || dx[i] != g {
					t.Fatalf("ReLU[%d](%g) = %g grad %g", i, v, ry[i], dx[i])
				}
			}
		}
		nan := []float32{float32(math.NaN())}
		if ReLU(nan, nan); nan[0] == nan[0] {
			t.Error("ReLU dropped a NaN")
		}
	})
}

func TestBatchNorm(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 5))
		const eps = 1e-5
		for _, sh := range layerShapes {
			n, c, hw := sh[0], sh[1], sh[2]
			x := randSlice(r, n*c*hw)
			for i := range x {
				x[i] = 3 + 2*x[i] // non-zero mean
			}
			gamma, beta, dy := randSlice(r, c), randSlice(r, c), randSlice(r, n*c*hw)
			mean, variance := make([]float32, c), make([]float32, c)
			BatchNormStats(mean, variance, x, n, c, hw)
			y, checkY := guarded(len(x))
			BatchNormForward(y, x, mean, variance, gamma, beta, eps, n, c, hw)
			checkY(t, "y")
			dx, checkDX := guarded(len(x))
			dg, db := make([]float32, c), make([]float32, c)
			BatchNormBackward(dx, dg, db, dy, x, mean, variance, gamma, eps, n, c, hw)
			checkDX(t, "dx")
			cnt := float64(n * hw)
			for ch := 0; ch < c; ch++ {
				idx := func(i, j int) int { return (i*c+ch)*hw + j }
				var s, q float64
				for i := 0; i < n; i++ {
					for j := 0; j < hw; j++ {
						s += float64(x[idx(i, j)])
					}
				}
				m := s / cnt
				for i := 0; i < n; i++ {
					for j := 0; j < hw; j++ {
						d := float64(x[idx(i, j)]) - m
						q += d * d
					}
				}
				v := q / cnt
				near(t, "mean", ch, mean[ch], m, 5)
				near(t, "variance", ch, variance[ch], v, v)
				sd := math.Sqrt(v + eps)
				var sdy, sdyx float64
				for i := 0; i < n; i++ {
					for j := 0; j < hw; j++ {
						xh := (float64(x[idx(i, j)]) - m) / sd
						near(t, "y", idx(i, j), y[idx(i, j)], float64(gamma[ch])*xh+float64(beta[ch]), 8*math.Abs(float64(gamma[ch]))+math.Abs(float64(beta[ch])))
						sdy += float64(dy[idx(i, j)])
						sdyx += float64(dy[idx(i, j)]) * xh
					}
				}
				near(t, "dbeta", ch, db[ch], sdy, cnt*4)
				near(t, "dgamma", ch, dg[ch], sdyx, cnt*8)
				for i := 0; i < n; i++ {
					for j := 0; j < hw; j++ {
						xh := (float64(x[idx(i, j)]) - m) / sd
						want := float64(gamma[ch]) / sd * (float64(dy[idx(i, j)]) - sdy/cnt - xh*sdyx/cnt)
						near(t, "dx", idx(i, j), dx[idx(i, j)], want, 16*math.Abs(float64(gamma[ch]))/sd)
					}
				}
			}
		}
	})
}

// TestBatchNormStatsOffset: the one-pass statistics stay exact to float32
// rounding when the mean is large against the spread (mean 1000, standard
// deviation ~0.01), where an unshifted float32 Σx² − (Σx)²/M would lose
// every digit of the variance.
func TestBatchNormStatsOffset(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(15, 15))
		const n, c, hw = 7, 3, 29
		x := randSlice(r, n*c*hw)
		for i := range x {
			x[i] = 1000 + 0.01*x[i]
		}
		mean, variance := make([]float32, c), make([]float32, c)
		BatchNormStats(mean, variance, x, n, c, hw)
		for ch := 0; ch < c; ch++ {
			var s, q float64
			for i := 0; i < n; i++ {
				for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					s += float64(v)
				}
			}
			m := s / (n * hw)
			for i := 0; i < n; i++ {
				for _, v := range x[(i*c+ch)*hw : (i*c+ch+1)*hw] {
					q += (float64(v) - m) * (float64(v) - m)
				}
			}
			v := q / (n * hw)
			near(t, "mean", ch, mean[ch], m, m)
			near(t, "variance", ch, variance[ch], v, v)
		}
	})
}

func TestMaxPool2(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(6, 6))
		for _, sh := range [][4]int{{1, 1, 2, 2}, {2, 3, 7, 9}, {1, 2, 32, 32}, {2, 1, 1, 5}, {3, 2, 14, 14}, {2, 2, 28, 28}, {1, 3, 9, 11},
			{1, 2, 6, 70}, {2, 1, 4, 66}} {
			n, c, h, w := sh[0], sh[1], sh[2], sh[3]
			oh, ow := h/2, w/2
			x := randSlice(r, n*c*h*w)
			y, checkY := guarded(n * c * oh * ow)
			arg := make([]uint8, len(y))
			MaxPool2(y, arg, x, n, c, h, w)
			checkY(t, "y")
			dy := randSlice(r, len(y))
			dx, checkDX := guarded(len(x))
			MaxPool2Backward(dx, dy, arg, n, c, h, w)
			checkDX(t, "dx")
			want := make([]float32, len(x))
			for pl := 0; pl < n*c; pl++ {
				for oy := 0; oy < oh; oy++ {
					for ox := 0; ox < ow; ox++ {
						best, bi := float32(math.Inf(-1)), 0
						for k := 0; k < 4; k++ {
							i := pl*h*w + (2*oy+k/2)*w + 2*ox + k%2
							if x[i] > best {
								best, bi = x[i], i
							}
						}
						o := (pl*oh+oy)*ow + ox
						if y[o] != best {
							t.Fatalf("%v: y[%d] = %g, want %g", sh, o, y[o], best)
						}
						want[bi] = dy[o]
					}
				}
			}
			if i := bitsEqual(dx, want); i >= 0 {
				t.Fatalf("%v: dx[%d] = %g, want %g", sh, i, dx[i], want[i])
			}
		}
	})
}

func TestGlobalAvgPool(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 7))
		for _, sh := range layerShapes {
			n, c, hw := sh[0], sh[1], sh[2]
			x := randSlice(r, n*c*hw)
			y, check := guarded(n * c)
			GlobalAvgPool(y, x, n, c, hw)
			check(t, "y")
			for i := range y {
				var s, a float64
				for _, v := range x[i*hw : (i+1)*hw] {
					s, a = s+float64(v), a+math.Abs(float64(v))
				}
				near(t, "y", i, y[i], s/float64(hw), a/float64(hw))
			}
			dy := randSlice(r, n*c)
			dx, check2 := guarded(len(x))
			GlobalAvgPoolBackward(dx, dy, n, c, hw)
			check2(t, "dx")
			for i := range dx {
				near(t, "dx", i, dx[i], float64(dy[i/hw])/float64(hw), 0)
			}
		}
	})
}

func TestL2NormalizeRows(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(8, 8))
		const eps = 1e-12
		for _, sh := range [][2]int{{1, 1}, {3, 7}, {17, 128}, {4, 255}} {
			rows, cols := sh[0], sh[1]
			x, dy := randSlice(r, rows*cols), randSlice(r, rows*cols)
			y, check := guarded(rows * cols)
			norm := make([]float32, rows)
			L2NormalizeRows(y, norm, x, rows, cols, eps)
			check(t, "y")
			dx, check2 := guarded(rows * cols)
			L2NormalizeRowsBackward(dx, dy, y, norm, rows, cols, eps)
			check2(t, "dx")
			for rr := 0; rr < rows; rr++ {
				var s float64
				for j := 0; j < cols; j++ {
					s += float64(x[rr*cols+j]) * float64(x[rr*cols+j])
				}
				nv := math.Sqrt(s)
				near(t, "norm", rr, norm[rr], nv, 0)
				var d float64
				for j := 0; j < cols; j++ {
					d += float64(x[rr*cols+j]) / nv * float64(dy[rr*cols+j])
				}
				for j := 0; j < cols; j++ {
					i := rr*cols + j
					yv := float64(x[i]) / nv
					near(t, "y", i, y[i], yv, 0)
					near(t, "dx", i, dx[i], (float64(dy[i])-yv*d)/nv, 4*math.Sqrt(float64(cols))/nv)
				}
			}
		}
		// A zero row is divided by eps, not by zero.
		y, norm := make([]float32, 3), make([]float32, 1)
		L2NormalizeRows(y, norm, make([]float32, 3), 1, 3, 1e-12)
		if y[0] != 0 || norm[0] != 0 {
			t.Fatalf("zero row: y %v norm %v", y, norm)
		}
	})
}

func TestSoftmaxRows(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 9))
		for _, sh := range [][2]int{{1, 1}, {3, 7}, {17, 33}, {2, 512}} {
			rows, cols := sh[0], sh[1]
			x, dy := randSlice(r, rows*cols), randSlice(r, rows*cols)
			for i := range x {
				x[i] *= 30 // large logits: exp overflows without the shift
			}
			y, check := guarded(rows * cols)
			SoftmaxRows(y, x, rows, cols)
			check(t, "y")
			lse, check2 := guarded(rows)
			LogSumExpRows(lse, x, rows, cols)
			check2(t, "lse")
			dx, check3 := guarded(rows * cols)
			SoftmaxRowsBackward(dx, dy, y, rows, cols)
			check3(t, "dx")
			for rr := 0; rr < rows; rr++ {
				m := math.Inf(-1)
				for j := 0; j < cols; j++ {
					m = math.Max(m, float64(x[rr*cols+j]))
				}
				var s float64
				for j := 0; j < cols; j++ {
					s += math.Exp(float64(x[rr*cols+j]) - m)
				}
				l := m + math.Log(s)
				near(t, "lse", rr, lse[rr], l, 1)
				var d float64
				for j := 0; j < cols; j++ {
					d += math.Exp(float64(x[rr*cols+j])-l) * float64(dy[rr*cols+j])
				}
				for j := 0; j < cols; j++ {
					i := rr*cols + j
					p := math.Exp(float64(x[i]) - l)
					near(t, "softmax", i, y[i], p, 1e-7)
					near(t, "dx", i, dx[i], p*(float64(dy[i])-d), p*(math.Abs(float64(dy[i]))+math.Abs(d)))
				}
			}
		}
	})
}

// TestLayersDeterministicThreads: the reductions give bit-identical results
// for 1, 2, 3 and 8 threads.
func TestLayersDeterministicThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	const n, c, hw = 8, 16, 1024
	x, dy := randSlice(r, n*c*hw), randSlice(r, n*c*hw)
	gamma := randSlice(r, c)
	var first [][]float32
	for _, th := range []int{1, 2, 3, 8} {
		mean, variance, dg, db := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
		dx, bg := make([]float32, len(x)), make([]float32, c)
		withThreads(th, func() {
			BatchNormStats(mean, variance, x, n, c, hw)
			BatchNormBackward(dx, dg, db, dy, x, mean, variance, gamma, 1e-5, n, c, hw)
			BiasGrad(bg, dy, n, c, hw)
		})
		got := [][]float32{mean, variance, dg, db, dx, bg}
		if first == nil {
			first = got
			continue
		}
		for i := range got {
			if j := bitsEqual(first[i], got[i]); j >= 0 {
				t.Fatalf("output %d: %d threads differ at %d", i, th, j)
			}
		}
	}
}

func TestUpsampleNearest2(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 11))
		for _, sh := range [][4]int{{1, 1, 1, 1}, {2, 3, 5, 7}, {1, 2, 8, 8}} {
			n, c, h, w := sh[0], sh[1], sh[2], sh[3]
			x := randSlice(r, n*c*h*w)
			y, check := guarded(4 * len(x))
			UpsampleNearest2(y, x, n, c, h, w)
			check(t, "y")
			for pl := 0; pl < n*c; pl++ {
				for oy := 0; oy < 2*h; oy++ {
					for ox := 0; ox < 2*w; ox++ {
						if got, want := y[(pl*2*h+oy)*2*w+ox], x[(pl*h+oy/2)*w+ox/2]; got != want {
							t.Fatalf("%v: y[%d][%d][%d] = %g, want %g", sh, pl, oy, ox, got, want)
						}
					}
				}
			}
			dy := randSlice(r, len(y))
			dx, check2 := guarded(len(x))
			UpsampleNearest2Backward(dx, dy, n, c, h, w)
			check2(t, "dx")
			for pl := 0; pl < n*c; pl++ {
				for iy := 0; iy < h; iy++ {
					for ix := 0; ix < w; ix++ {
						var s, a float64
						for k := 0; k < 4; k++ {
							v := float64(dy[(pl*2*h+2*iy+k/2)*2*w+2*ix+k%2])
							s, a = s+v, a+math.Abs(v)
						}
						near(t, "dx", (pl*h+iy)*w+ix, dx[(pl*h+iy)*w+ix], s, a)
					}
				}
			}
		}
	})
}

// TestBatchNormForwardReLU: the fused kernel is bit-identical to
// BatchNormForward followed by ReLU, on every tier and against the generic
// tier, including NaN, ±0 and ±Inf inputs and planes with SIMD tails.
func TestBatchNormForwardReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 16))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, sh := range [][3]int{{1, 1, 1}, {2, 3, 7}, {3, 5, 33}, {2, 4, 196}} {
		n, c, hw := sh[0], sh[1], sh[2]
		x := randSlice(r, n*c*hw)
		for i := range x {
			if r.IntN(8) == 0 {
				x[i] = special[r.IntN(len(special))]
			}
		}
		mean, variance, gamma, beta := randSlice(r, c), randSlice(r, c), randSlice(r, c), randSlice(r, c)
		for i := range variance {
			variance[i] = float32(math.Abs(float64(variance[i])))
		}
		beta[0] = 0 // (x − m)·s + 0 can round to −0
		var generic []float32
		forEachTier(t, func(t *testing.T) {
			want := make([]float32, len(x))
			BatchNormForward(want, x, mean, variance, gamma, beta, 1e-5, n, c, hw)
			ReLU(want, want)
			got, check := guarded(len(x))
			BatchNormForwardReLU(got, x, mean, variance, gamma, beta, 1e-5, n, c, hw)
			check(t, "y")
			if i := bitsEqual(want, got); i >= 0 {
				t.Fatalf("%v: y[%d] = %g, want %g", sh, i, got[i], want[i])
			}
			if generic == nil {
				generic = got
			} else if i := bitsEqual(generic, got); i >= 0 {
				t.Fatalf("%v: y[%d] = %g, generic tier %g", sh, i, got[i], generic[i])
			}
		})
	}
}

// TestMaxPool2BackwardReLU: the fused gradient is bit-identical to
// MaxPool2Backward followed by ReLUGrad over the pool's (ReLU-ed) input,
// with zeros, ties, NaNs and odd sizes.
func TestMaxPool2BackwardReLU(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 17))
	for _, sh := range [][4]int{{1, 1, 2, 2}, {2, 3, 7, 9}, {2, 2, 14, 14}, {1, 2, 28, 28}, {2, 1, 5, 17},
		{1, 2, 32, 32}, {1, 2, 6, 70}, {2, 1, 4, 66}} {
		n, c, h, w := sh[0], sh[1], sh[2], sh[3]
		x := randSlice(r, n*c*h*w)
		for i := range x {
			switch r.IntN(6) {
			case 0:
				x[i] = float32(math.NaN())
			case 1, 2:
				x[i] = 0
			}
		}
		ReLU(x, x)
		y, arg := make([]float32, n*c*(h/2)*(w/2)), make([]uint8, n*c*(h/2)*(w/2))
		MaxPool2(y, arg, x, n, c, h, w)
		dy := randSlice(r, len(y))
		forEachTier(t, func(t *testing.T) {
			want := make([]float32, len(x))
			MaxPool2Backward(want, dy, arg, n, c, h, w)
			ReLUGrad(want, want, x)
			got, check := guarded(len(x))
			MaxPool2BackwardReLU(got, dy, y, arg, n, c, h, w)
			check(t, "dx")
			if i := bitsEqual(want, got); i >= 0 {
				t.Fatalf("%v: dx[%d] = %g, want %g", sh, i, got[i], want[i])
			}
		})
	}
}

// TestBatchNormReLUMaxPool2: the fused kernel's output and window indices
// are bit-identical to BatchNormForwardReLU followed by MaxPool2, on every
// tier and against the generic tier, for widths with and without SIMD tails,
// rows shorter than 8 outputs, odd sizes, and NaN, ±0 and ±Inf inputs.
func TestBatchNormReLUMaxPool2(t *testing.T) {
	r := rand.New(rand.NewPCG(18, 18))
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))}
	for _, sh := range [][4]int{{1, 1, 2, 2}, {2, 3, 7, 9}, {2, 3, 14, 14}, {1, 2, 28, 28}, {2, 2, 7, 15},
		{1, 3, 8, 8}, {3, 1, 9, 9}, {1, 2, 4, 16}, {2, 1, 5, 17}, {2, 2, 12, 7}, {1, 2, 6, 37},
		{1, 2, 32, 32}, {1, 2, 6, 70}, {2, 1, 4, 66}} {
		n, c, h, w := sh[0], sh[1], sh[2], sh[3]
		x := randSlice(r, n*c*h*w)
		for i := range x {
			if r.IntN(10) == 0 {
				x[i] = special[r.IntN(len(special))]
			}
		}
		mean, variance, gamma, beta := randSlice(r, c), randSlice(r, c), randSlice(r, c), randSlice(r, c)
		for i := range variance {
			variance[i] = float32(math.Abs(float64(variance[i])))
		}
		beta[0] = 0
		m := n * c * (h / 2) * (w / 2)
		var generic []float32
		var genericArg []uint8
		forEachTier(t, func(t *testing.T) {
			z := make([]float32, len(x))
			BatchNormForwardReLU(z, x, mean, variance, gamma, beta, 1e-5, n, c, h*w)
			want, wantArg := make([]float32, m), make([]uint8, m)
			MaxPool2(want, wantArg, z, n, c, h, w)
			got, check := guarded(m)
			gotArg := make([]uint8, m)
			BatchNormReLUMaxPool2(got, gotArg, x, mean, variance, gamma, beta, 1e-5, n, c, h, w)
			check(t, "y")
			if i := bitsEqual(want, got); i >= 0 {
				t.Fatalf("%v: y[%d] = %g, want %g", sh, i, got[i], want[i])
			}
			for i := range gotArg {
				if gotArg[i] != wantArg[i] {
					t.Fatalf("%v: arg[%d] = %d, want %d", sh, i, gotArg[i], wantArg[i])
				}
			}
			noArg := make([]float32, m)
			BatchNormReLUMaxPool2(noArg, nil, x, mean, variance, gamma, beta, 1e-5, n, c, h, w)
			if i := bitsEqual(want, noArg); i >= 0 {
				t.Fatalf("%v: without arg: y[%d] = %g, want %g", sh, i, noArg[i], want[i])
			}
			if generic == nil {
				generic, genericArg = got, gotArg
				return
			}
			if i := bitsEqual(generic, got); i >= 0 {
				t.Fatalf("%v: y[%d] = %g, generic tier %g", sh, i, got[i], generic[i])
			}
			for i := range gotArg {
				if gotArg[i] != genericArg[i] {
					t.Fatalf("%v: arg[%d] = %d, generic tier %d", sh, i, gotArg[i], genericArg[i])
				}
			}
		})
	}
}

// TestPoolKernelsThreads: the pooling kernels split their planes into
// chunks (and spill SIMD blocks of short rows into the next plane of the
// same chunk only); outputs are bit-identical for 1, 2, 3 and 8 threads
// and equal the generic tier's.
func TestPoolKernelsThreads(t *testing.T) {
	const n, c, h, w = 40, 8, 14, 14
	r := rand.New(rand.NewPCG(19, 19))
	x := randSlice(r, n*c*h*w)
	m := n * c * (h / 2) * (w / 2)
	dy := randSlice(r, m)
	mean, variance, gamma, beta := randSlice(r, c), randSlice(r, c), randSlice(r, c), randSlice(r, c)
	for i := range variance {
		variance[i] = float32(math.Abs(float64(variance[i])))
	}
	run := func() [][]float32 {
		y, arg := make([]float32, m), make([]uint8, m)
		MaxPool2(y, arg, x, n, c, h, w)
		dx := make([]float32, len(x))
		MaxPool2Backward(dx, dy, arg, n, c, h, w)
		yf, argf := make([]float32, m), make([]uint8, m)
		BatchNormReLUMaxPool2(yf, argf, x, mean, variance, gamma, beta, 1e-5, n, c, h, w)
		dxf := make([]float32, len(x))
		MaxPool2BackwardReLU(dxf, dy, yf, argf, n, c, h, w)
		a, af := make([]float32, m), make([]float32, m)
		for i := range arg {
			a[i], af[i] = float32(arg[i]), float32(argf[i])
		}
		return [][]float32{y, a, dx, yf, af, dxf}
	}
	prev, _ := SetTier(cpu.Generic)
	var want [][]float32
	withThreads(1, func() { want = run() })
	SetTier(prev)
	forEachTier(t, func(t *testing.T) {
		for _, th := range []int{1, 2, 3, 8} {
			var got [][]float32
			withThreads(th, func() { got = run() })
			for i := range want {
				if j := bitsEqual(want[i], got[i]); j >= 0 {
					t.Fatalf("%d threads: output %d differs from generic 1-thread at %d", th, i, j)
				}
			}
		}
	})
}

// TestBatchNormReductionOrder: BatchNormStats, BatchNormBackward and
// BatchNormBackwardCoeffs visit the images in the outer loop (channelDotDev)
// yet give bit for bit what one channel's planes summed in image order give
// (the loop they replaced, kept here), on every tier and thread count, with
// channel ranges wider than the stack scratch too.
func TestBatchNormReductionOrder(t *testing.T) {
	forEachTier(t, func(t *testing.T) {
		tr := tier
		r := rand.New(rand.NewPCG(9, 9))
		for _, sh := range [][3]int{{1, 1, 1}, {3, 17, 33}, {8, 40, 49}, {4, 300, 9}, {64, 32, 196}} {
			n, c, hw := sh[0], sh[1], sh[2]
			x, dy := randSlice(r, n*c*hw), randSlice(r, n*c*hw)
			for i := range x {
				x[i] = 1 + 3*x[i]
			}
			gamma := randSlice(r, c)
			const eps float32 = 1e-5
			// The channel-major reference.
			cnt := float64(n * hw)
			wm, wv := make([]float32, c), make([]float32, c)
			wc := make([][3]float32, c)
			wg, wb := make([]float32, c), make([]float32, c)
			for ch := 0; ch < c; ch++ {
				k := float64(x[ch*hw])
				var s, sx float64
				for i := 0; i < n; i++ {
					xs := x[(i*c+ch)*hw : (i*c+ch+1)*hw]
					a, b := dotDev64(tr, xs, xs, k)
					s, sx = s+a, sx+b
				}
				m := s / cnt
				d := m - k
				wm[ch], wv[ch] = float32(m), float32(max((sx-k*(s-cnt*k))/cnt-d*d, 0))
				mm := float64(wm[ch])
				inv := 1 / math.Sqrt(float64(wv[ch])+float64(eps))
				var sdy, sdxm float64
				for i := 0; i < n; i++ {
					o := (i*c + ch) * hw
					a, b := dotDev64(tr, dy[o:o+hw], x[o:o+hw], mm)
					sdy, sdxm = sdy+a, sdxm+b
				}
				sdyx := sdxm * inv
				wb[ch], wg[ch] = float32(sdy), float32(sdyx)
				kk := float64(gamma[ch]) * inv
				wc[ch] = [3]float32{float32(kk), float32(-kk * inv * sdyx / cnt), float32(-kk * sdy / cnt)}
			}
			// The float64 sums themselves, where a changed order shows.
			for _, lohi := range [][2]int{{0, c}, {c / 3, c}} {
				lo, hi := lohi[0], lohi[1]
				shift := make([]float64, hi-lo)
				for j := range shift {
					shift[j] = float64(x[(lo+j)*hw])
				}
				sdy, sdx := make([]float64, hi-lo), make([]float64, hi-lo)
				channelDotDev(tr, dy, x, shift, sdy, sdx, lo, hi, n, c, hw)
				for ch := lo; ch < hi; ch++ {
					var a0, b0 float64
					for i := 0; i < n; i++ {
						o := (i*c + ch) * hw
						a, b := dotDev64(tr, dy[o:o+hw], x[o:o+hw], shift[ch-lo])
						a0, b0 = a0+a, b0+b
					}
					if sdy[ch-lo] != a0 || sdx[ch-lo] != b0 {
						t.Fatalf("%v channels [%d,%d) ch %d: sums %v %v, channel-major %v %v", sh, lo, hi, ch, sdy[ch-lo], sdx[ch-lo], a0, b0)
					}
				}
			}
			for _, threads := range []int{1, 2, 3} {
				prev := SetThreads(threads)
				mean, variance := make([]float32, c), make([]float32, c)
				BatchNormStats(mean, variance, x, n, c, hw)
				var g BatchNormGrad
				dg, db := make([]float32, c), make([]float32, c)
				BatchNormBackwardCoeffs(&g, dg, db, dy, x, mean, variance, gamma, eps, n, c, hw)
				dx := make([]float32, len(x))
				dg2, db2 := make([]float32, c), make([]float32, c)
				BatchNormBackward(dx, dg2, db2, dy, x, mean, variance, gamma, eps, n, c, hw)
				SetThreads(prev)
				want := make([]float32, hw)
				for ch := 0; ch < c; ch++ {
					if mean[ch] != wm[ch] || variance[ch] != wv[ch] {
						t.Fatalf("%v threads %d ch %d: stats %v %v, channel-major %v %v", sh, threads, ch, mean[ch], variance[ch], wm[ch], wv[ch])
					}
					if got := [3]float32{g.C1[ch], g.C2[ch], g.C0[ch]}; got != wc[ch] || dg[ch] != wg[ch] || db[ch] != wb[ch] ||
						dg2[ch] != wg[ch] || db2[ch] != wb[ch] {
						t.Fatalf("%v threads %d ch %d: coefficients %v dgamma %v/%v dbeta %v/%v, channel-major %v %v %v",
							sh, threads, ch, got, dg[ch], dg2[ch], db[ch], db2[ch], wc[ch], wg[ch], wb[ch])
					}
					for i := 0; i < n; i++ {
						o := (i*c + ch) * hw
						vecBNBack(tr, want, dy[o:o+hw], x[o:o+hw], wm[ch], wc[ch][0], wc[ch][1], wc[ch][2])
						for j := range want {
							if dx[o+j] != want[j] {
								t.Fatalf("%v threads %d dx[%d]: %v, channel-major %v", sh, threads, o+j, dx[o+j], want[j])
							}
						}
					}
				}
			}
		}
	})
}
