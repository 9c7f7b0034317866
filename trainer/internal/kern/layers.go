package kern

import (
	"fmt"
	"math"

	"github.com/sourcegraph/conc/pool"
)

// Elementwise and reduction kernels for NCHW float32 tensors. Reductions
// accumulate in float64 in a fixed order (per channel or per row, over the
// elements in memory order), so results do not depend on the thread count.
// Work is spread over Threads() goroutines by channel, row or chunk.

// minParallelElems is the tensor size below which these kernels stay on
// the calling goroutine.
const minParallelElems = 1 << 15

// parallelFor runs f over [0, n) split into contiguous ranges, on up to
// Threads() goroutines when the total work (n·cost elements) is large.
func parallelFor(n, cost int, f func(lo, hi int)) {
	parts := min(Threads(), n)
	if parts <= 1 || n*cost < minParallelElems {
		f(0, n)
		return
	}
	p := pool.New().WithMaxGoroutines(parts)
	per := (n + parts - 1) / parts
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		p.Go(func() { f(lo, hi) })
	}
	p.Wait()
}

func mustLen(name string, l, want int) {
	if l < want {
		panic(fmt.Sprintf("kern: %s: slice of %d elements, need %d", name, l, want))
	}
}

// BiasAdd adds bias[ch] to every element of channel ch of y, shaped
// [n][c][hw].
func BiasAdd(y, bias []float32, n, c, hw int) {
	mustLen("BiasAdd y", len(y), n*c*hw)
	mustLen("BiasAdd bias", len(bias), c)
	t := tier
	parallelFor(n*c, hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			vecAddConst(t, y[i*hw:(i+1)*hw], bias[i%c])
		}
	})
}

// BiasGrad sets db[ch] to the sum of channel ch of dy, shaped [n][c][hw].
func BiasGrad(db, dy []float32, n, c, hw int) {
	mustLen("BiasGrad dy", len(dy), n*c*hw)
	mustLen("BiasGrad db", len(db), c)
	t := tier
	parallelFor(c, n*hw, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				s += sum64(t, dy[(i*c+ch)*hw:(i*c+ch+1)*hw])
			}
			db[ch] = float32(s)
		}
	})
}

// ReLU sets y[i] = max(x[i], 0) (NaN stays NaN); y may be x.
func ReLU(y, x []float32) {
	mustLen("ReLU y", len(y), len(x))
	t := tier
	parallelFor(len(x), 1, func(lo, hi int) { vecReLU(t, y[lo:hi], x[lo:hi]) })
}

// ReLUGrad sets dx[i] = dy[i] where y[i] > 0 and 0 elsewhere, from ReLU's
// output y; dx may be dy.
func ReLUGrad(dx, dy, y []float32) {
	mustLen("ReLUGrad dx", len(dx), len(y))
	mustLen("ReLUGrad dy", len(dy), len(y))
	t := tier
	parallelFor(len(y), 1, func(lo, hi int) { vecReLUGrad(t, dx[lo:hi], dy[lo:hi], y[lo:hi]) })
}

// BatchNormStats sets mean[ch] and variance[ch] (biased: divided by n·hw,
// as batch normalisation uses in training) over channel ch of x, shaped
// [n][c][hw]. Two passes in float64.
func BatchNormStats(mean, variance, x []float32, n, c, hw int) {
	mustLen("BatchNormStats x", len(x), n*c*hw)
	mustLen("BatchNormStats mean", len(mean), c)
	mustLen("BatchNormStats variance", len(variance), c)
	cnt := float64(n * hw)
	t := tier
	parallelFor(c, n*hw, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := 0; i < n; i++ {
				s += sum64(t, x[(i*c+ch)*hw:(i*c+ch+1)*hw])
			}
			m := s / cnt
			var q float64
			for i := 0; i < n; i++ {
				q += sqDev64(t, x[(i*c+ch)*hw:(i*c+ch+1)*hw], m)
			}
			mean[ch], variance[ch] = float32(m), float32(q/cnt)
		}
	})
}

// BatchNormForward sets y = gamma[ch]·(x − mean[ch])/sqrt(variance[ch] + eps)
// + beta[ch] for x, y shaped [n][c][hw]; y may be x.
func BatchNormForward(y, x, mean, variance, gamma, beta []float32, eps float32, n, c, hw int) {
	mustLen("BatchNormForward x", len(x), n*c*hw)
	mustLen("BatchNormForward y", len(y), n*c*hw)
	for _, s := range [][]float32{mean, variance, gamma, beta} {
		mustLen("BatchNormForward per-channel", len(s), c)
	}
	t := tier
	parallelFor(n*c, hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ch := i % c
			inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
			sc := float32(float64(gamma[ch]) * inv)
			vecAffine(t, y[i*hw:(i+1)*hw], x[i*hw:(i+1)*hw], mean[ch], sc, beta[ch])
		}
	})
}

// BatchNormBackward computes the gradients of batch normalisation in
// training mode (statistics from the batch itself, as BatchNormStats gives
// them): with x̂ = (x − mean)/σ and σ = sqrt(variance + eps),
//
//	dbeta[ch]  = Σ dy,   dgamma[ch] = Σ dy·x̂
//	dx = gamma/σ · (dy − dbeta/M − x̂·dgamma/M),   M = n·hw.
//
// dx is overwritten and may be dy.
func BatchNormBackward(dx, dgamma, dbeta, dy, x, mean, variance, gamma []float32, eps float32, n, c, hw int) {
	for _, s := range [][]float32{dx, dy, x} {
		mustLen("BatchNormBackward tensor", len(s), n*c*hw)
	}
	for _, s := range [][]float32{dgamma, dbeta, mean, variance, gamma} {
		mustLen("BatchNormBackward per-channel", len(s), c)
	}
	cnt := float64(n * hw)
	t := tier
	parallelFor(c, n*hw, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			m := float64(mean[ch])
			inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
			var sdy, sdxm float64
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				a, b := dotDev64(t, dy[o:o+hw], x[o:o+hw], m)
				sdy, sdxm = sdy+a, sdxm+b
			}
			sdyx := sdxm * inv // Σ dy·x̂
			dbeta[ch], dgamma[ch] = float32(sdy), float32(sdyx)
			// dx = k·(dy − a − x̂·b) = c1·dy + c2·(x − mean) + c0.
			k := float64(gamma[ch]) * inv
			c1, c2, c0 := float32(k), float32(-k*inv*sdyx/cnt), float32(-k*sdy/cnt)
			for i := 0; i < n; i++ {
				o := (i*c + ch) * hw
				vecBNBack(t, dx[o:o+hw], dy[o:o+hw], x[o:o+hw], mean[ch], c1, c2, c0)
			}
		}
	})
}

// MaxPool2 is 2×2 max pooling with stride 2 over x shaped [n][c][h][w]
// into y shaped [n][c][h/2][w/2] (a trailing odd row or column is
// dropped, as PyTorch's floor mode). arg (same length as y, may be nil)
// records which of the four window elements won (dy·2+dx, the first on
// ties) for MaxPool2Backward. NaNs propagate.
func MaxPool2(y []float32, arg []uint8, x []float32, n, c, h, w int) {
	oh, ow := h/2, w/2
	mustLen("MaxPool2 x", len(x), n*c*h*w)
	mustLen("MaxPool2 y", len(y), n*c*oh*ow)
	if arg != nil {
		mustLen("MaxPool2 arg", len(arg), n*c*oh*ow)
	}
	t := tier
	parallelFor(n*c, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*h*w : (pl+1)*h*w]
			for oy := 0; oy < oh; oy++ {
				r0, r1 := src[2*oy*w:2*oy*w+w], src[(2*oy+1)*w:(2*oy+1)*w+w]
				o := (pl*oh + oy) * ow
				yr := y[o : o+ow]
				var ar []uint8
				if arg != nil {
					ar = arg[o : o+ow]
				}
				for ox := maxPool2RowSIMD(t, yr, ar, r0, r1); ox < ow; ox++ {
					a, b := r0[2*ox], r0[2*ox+1]
					c, d := r1[2*ox], r1[2*ox+1]
					best, bi := a, uint8(0)
					if b > best || (b != b && best == best) {
						best, bi = b, 1
					}
					if c > best || (c != c && best == best) {
						best, bi = c, 2
					}
					if d > best || (d != d && best == best) {
						best, bi = d, 3
					}
					yr[ox] = best
					if ar != nil {
						ar[ox] = bi
					}
				}
			}
		}
	})
}

// MaxPool2Backward routes dy (shaped like MaxPool2's y) to the winning
// elements recorded in arg; dx, shaped [n][c][h][w], is overwritten.
func MaxPool2Backward(dx, dy []float32, arg []uint8, n, c, h, w int) {
	oh, ow := h/2, w/2
	mustLen("MaxPool2Backward dx", len(dx), n*c*h*w)
	mustLen("MaxPool2Backward dy", len(dy), n*c*oh*ow)
	mustLen("MaxPool2Backward arg", len(arg), n*c*oh*ow)
	parallelFor(n*c, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d := dx[pl*h*w : (pl+1)*h*w]
			clear(d)
			for oy := 0; oy < oh; oy++ {
				o := (pl*oh + oy) * ow
				for ox := 0; ox < ow; ox++ {
					a := int(arg[o+ox])
					d[(2*oy+(a>>1))*w+2*ox+(a&1)] = dy[o+ox]
				}
			}
		}
	})
}

// GlobalAvgPool sets y[i][ch] to the mean of x[i][ch][:], x shaped
// [n][c][hw] and y [n][c].
func GlobalAvgPool(y, x []float32, n, c, hw int) {
	mustLen("GlobalAvgPool x", len(x), n*c*hw)
	mustLen("GlobalAvgPool y", len(y), n*c)
	t := tier
	parallelFor(n*c, hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			y[i] = float32(sum64(t, x[i*hw:(i+1)*hw]) / float64(hw))
		}
	})
}

// GlobalAvgPoolBackward sets every element of dx[i][ch][:] to dy[i][ch]/hw.
func GlobalAvgPoolBackward(dx, dy []float32, n, c, hw int) {
	mustLen("GlobalAvgPoolBackward dx", len(dx), n*c*hw)
	mustLen("GlobalAvgPoolBackward dy", len(dy), n*c)
	parallelFor(n*c, hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			g := dy[i] / float32(hw)
			row := dx[i*hw : (i+1)*hw]
			for j := range row {
				row[j] = g
			}
		}
	})
}

// L2NormalizeRows sets each row of y (rows×cols) to the row of x divided by
// max(‖x_row‖₂, eps), as PyTorch's F.normalize, and norm[r] to ‖x_row‖₂;
// y may be x.
func L2NormalizeRows(y, norm, x []float32, rows, cols int, eps float32) {
	mustLen("L2NormalizeRows x", len(x), rows*cols)
	mustLen("L2NormalizeRows y", len(y), rows*cols)
	mustLen("L2NormalizeRows norm", len(norm), rows)
	parallelFor(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var s float64
			for _, v := range x[r*cols : (r+1)*cols] {
				s += float64(v) * float64(v)
			}
			nv := math.Sqrt(s)
			norm[r] = float32(nv)
			inv := 1 / math.Max(nv, float64(eps))
			for j := r * cols; j < (r+1)*cols; j++ {
				y[j] = float32(float64(x[j]) * inv)
			}
		}
	})
}

// L2NormalizeRowsBackward computes dx from dy, the normalised rows y and
// the norms L2NormalizeRows returned: dx = (dy − y·⟨y, dy⟩)/‖x‖ for rows
// with ‖x‖ > eps, and dx = dy/eps for the (clamped) others. dx may be dy.
func L2NormalizeRowsBackward(dx, dy, y, norm []float32, rows, cols int, eps float32) {
	for _, s := range [][]float32{dx, dy, y} {
		mustLen("L2NormalizeRowsBackward tensor", len(s), rows*cols)
	}
	mustLen("L2NormalizeRowsBackward norm", len(norm), rows)
	parallelFor(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			o := r * cols
			if !(norm[r] > eps) {
				inv := 1 / float64(eps)
				for j := o; j < o+cols; j++ {
					dx[j] = float32(float64(dy[j]) * inv)
				}
				continue
			}
			var d float64
			for j := o; j < o+cols; j++ {
				d += float64(y[j]) * float64(dy[j])
			}
			inv := 1 / float64(norm[r])
			for j := o; j < o+cols; j++ {
				dx[j] = float32((float64(dy[j]) - float64(y[j])*d) * inv)
			}
		}
	})
}

// LogSumExpRows sets out[r] = log Σ_j exp(x[r][j]) for x rows×cols,
// computed stably (shifted by the row maximum).
func LogSumExpRows(out, x []float32, rows, cols int) {
	mustLen("LogSumExpRows x", len(x), rows*cols)
	mustLen("LogSumExpRows out", len(out), rows)
	parallelFor(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			out[r] = float32(logSumExp(x[r*cols : (r+1)*cols]))
		}
	})
}

func logSumExp(row []float32) float64 {
	if len(row) == 0 {
		return math.Inf(-1)
	}
	m := float64(row[0])
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - m)
	}
	return m + math.Log(s)
}

// SoftmaxRows sets each row of y to softmax(x_row) = exp(x − lse(x_row));
// y may be x.
func SoftmaxRows(y, x []float32, rows, cols int) {
	mustLen("SoftmaxRows x", len(x), rows*cols)
	mustLen("SoftmaxRows y", len(y), rows*cols)
	parallelFor(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			l := logSumExp(x[r*cols : (r+1)*cols])
			for j := r * cols; j < (r+1)*cols; j++ {
				y[j] = float32(math.Exp(float64(x[j]) - l))
			}
		}
	})
}

// SoftmaxRowsBackward computes dx = y·(dy − ⟨y, dy⟩) per row from softmax's
// output y; dx may be dy.
func SoftmaxRowsBackward(dx, dy, y []float32, rows, cols int) {
	for _, s := range [][]float32{dx, dy, y} {
		mustLen("SoftmaxRowsBackward tensor", len(s), rows*cols)
	}
	parallelFor(rows, cols, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			var d float64
			for j := r * cols; j < (r+1)*cols; j++ {
				d += float64(y[j]) * float64(dy[j])
			}
			for j := r * cols; j < (r+1)*cols; j++ {
				dx[j] = float32(float64(y[j]) * (float64(dy[j]) - d))
			}
		}
	})
}

// UpsampleNearest2 doubles the height and width of x, shaped [n][c][h][w],
// by nearest-neighbour replication into y, shaped [n][c][2h][2w].
func UpsampleNearest2(y, x []float32, n, c, h, w int) {
	mustLen("UpsampleNearest2 x", len(x), n*c*h*w)
	mustLen("UpsampleNearest2 y", len(y), n*c*4*h*w)
	parallelFor(n*c, 4*h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x[pl*h*w : (pl+1)*h*w]
			dst := y[pl*4*h*w : (pl+1)*4*h*w]
			for iy := 0; iy < h; iy++ {
				r0 := dst[2*iy*2*w : (2*iy+1)*2*w]
				for ix, v := range src[iy*w : (iy+1)*w] {
					r0[2*ix], r0[2*ix+1] = v, v
				}
				copy(dst[(2*iy+1)*2*w:(2*iy+2)*2*w], r0)
			}
		}
	})
}

// UpsampleNearest2Backward sets each element of dx, shaped [n][c][h][w],
// to the sum of the four elements of dy, shaped [n][c][2h][2w], it was
// copied to (summed in the order top-left, top-right, bottom-left,
// bottom-right).
func UpsampleNearest2Backward(dx, dy []float32, n, c, h, w int) {
	mustLen("UpsampleNearest2Backward dx", len(dx), n*c*h*w)
	mustLen("UpsampleNearest2Backward dy", len(dy), n*c*4*h*w)
	parallelFor(n*c, 4*h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := dy[pl*4*h*w : (pl+1)*4*h*w]
			dst := dx[pl*h*w : (pl+1)*h*w]
			for iy := 0; iy < h; iy++ {
				r0, r1 := src[2*iy*2*w:(2*iy+1)*2*w], src[(2*iy+1)*2*w:(2*iy+2)*2*w]
				for ix := range dst[iy*w : (iy+1)*w] {
					dst[iy*w+ix] = r0[2*ix] + r0[2*ix+1] + r1[2*ix] + r1[2*ix+1]
				}
			}
		}
	})
}
