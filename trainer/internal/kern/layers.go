package kern

import (
	"fmt"
	"math"

	"github.com/pairflow/pairflow/internal/cpu"

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
// There are chunksPerThread ranges per goroutine, taken in turn by whichever
// goroutine is free, so that one goroutine held up (the cores are shared)
// does not leave the others idle at the end. f must compute each index the
// same way whatever range it falls in.
func parallelFor(n, cost int, f func(lo, hi int)) {
	threads := min(Threads(), n)
	if threads <= 1 || n*cost < minParallelElems {
		f(0, n)
		return
	}
	runChunks(n, threads, min(n, chunksPerThread*threads), f)
}

// chunksPerThread is how many ranges parallelFor and forImages cut their
// work into per goroutine.
const chunksPerThread = 4

// runChunks runs f over [0, n) cut into parts contiguous ranges of nearly
// equal length, on threads goroutines.
func runChunks(n, threads, parts int, f func(lo, hi int)) {
	p := pool.New().WithMaxGoroutines(threads)
	for i := 0; i < parts; i++ {
		lo, hi := i*n/parts, (i+1)*n/parts
		if lo < hi {
			p.Go(func() { f(lo, hi) })
		}
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
// [n][c][hw]. One pass in float64 over shifted data: with K the channel's
// first element, it sums x and x·(x − K), whence Σ(x − K)² = Σx·(x − K) −
// K·Σ(x − K) and variance = Σ(x − K)²/M − (mean − K)². The shift keeps the
// cancellation small (K is within a few standard deviations of the mean for
// any sensible activation), and float64 sums of float32 data leave the
// result exact to float32 rounding.
func BatchNormStats(mean, variance, x []float32, n, c, hw int) {
	mustLen("BatchNormStats x", len(x), n*c*hw)
	mustLen("BatchNormStats mean", len(mean), c)
	mustLen("BatchNormStats variance", len(variance), c)
	cnt := float64(n * hw)
	t := tier
	parallelFor(c, n*hw, func(lo, hi int) {
		if n*hw == 0 {
			for ch := lo; ch < hi; ch++ {
				mean[ch], variance[ch] = float32(math.NaN()), float32(math.NaN())
			}
			return
		}
		var arr [3 * chanScratch]float64
		k, s, sx := chanSums(arr[:], hi-lo)
		for ch := lo; ch < hi; ch++ {
			k[ch-lo] = float64(x[ch*hw])
		}
		// dy = x: the SIMD tiers take sumDev, which converts each
		// element to float64 once (same bits as dotDev(x, x)).
		channelDotDev(t, x, x, k, s, sx, lo, hi, n, c, hw)
		for ch := lo; ch < hi; ch++ {
			j := ch - lo
			m := s[j] / cnt
			d := m - k[j]
			q := sx[j] - k[j]*(s[j]-cnt*k[j]) // Σ(x − K)²
			v := max(q/cnt-d*d, 0)
			mean[ch], variance[ch] = float32(m), float32(v)
		}
	})
}

// chanScratch is the number of channels whose float64 sums a reduction
// keeps on the stack; a wider channel range allocates.
const chanScratch = 128

// chanSums cuts three zeroed slices of w float64s from arr, or allocates
// them when arr is too short.
func chanSums(arr []float64, w int) (a, b, c []float64) {
	if 3*w > len(arr) {
		arr = make([]float64, 3*w)
	}
	return arr[:w:w], arr[w : 2*w : 2*w], arr[2*w : 3*w : 3*w]
}

// channelDotDev adds, for every channel ch in [lo, hi) of dy and x (shaped
// [n][c][hw]), dotDev64 of each image's plane of ch with shift[ch−lo] to
// sdy[ch−lo] and sdx[ch−lo], image by image. Each channel's sums take the
// same additions in the same order as a loop over that channel's planes
// alone; visiting the images in the outer loop only changes the memory
// traffic: runs of (hi−lo)·hw contiguous elements instead of planes of hw
// spaced c·hw apart (BatchNormStats on 1,024 views of 32×28×28 ran 2.2×
// slower plane by plane than one contiguous pass over the same data).
func channelDotDev(t cpu.Tier, dy, x []float32, shift, sdy, sdx []float64, lo, hi, n, c, hw int) {
	for i := 0; i < n; i++ {
		for ch := lo; ch < hi; ch++ {
			o := (i*c + ch) * hw
			a, b := dotDev64(t, dy[o:o+hw], x[o:o+hw], shift[ch-lo])
			sdy[ch-lo] += a
			sdx[ch-lo] += b
		}
	}
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

// BatchNormForwardReLU is BatchNormForward followed by ReLU in one pass:
// y = max(BatchNormForward(x), 0), bit-identical to the two kernels in turn
// (NaN and −0 kept as ReLU keeps them); y may be x.
func BatchNormForwardReLU(y, x, mean, variance, gamma, beta []float32, eps float32, n, c, hw int) {
	mustLen("BatchNormForwardReLU x", len(x), n*c*hw)
	mustLen("BatchNormForwardReLU y", len(y), n*c*hw)
	for _, s := range [][]float32{mean, variance, gamma, beta} {
		mustLen("BatchNormForwardReLU per-channel", len(s), c)
	}
	t := tier
	parallelFor(n*c, hw, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ch := i % c
			inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
			sc := float32(float64(gamma[ch]) * inv)
			vecAffineReLU(t, y[i*hw:(i+1)*hw], x[i*hw:(i+1)*hw], mean[ch], sc, beta[ch])
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
	coef := make([]float32, 3*c)
	c1, c2, c0 := coef[:c], coef[c:2*c], coef[2*c:]
	t := tier
	parallelFor(c, n*hw, func(lo, hi int) {
		batchNormGradChannels(t, lo, hi, c1, c2, c0, dgamma, dbeta, dy, x, mean, variance, gamma, eps, n, c, hw)
		for i := 0; i < n; i++ {
			for ch := lo; ch < hi; ch++ {
				o := (i*c + ch) * hw
				vecBNBack(t, dx[o:o+hw], dy[o:o+hw], x[o:o+hw], mean[ch], c1[ch], c2[ch], c0[ch])
			}
		}
	})
}

// batchNormGradChannels is BatchNormBackward's reduction for channels
// [lo, hi): it sets their dgamma and dbeta, and their c1, c2 and c0, the
// coefficients of dx = c1·dy + c2·(x − mean) + c0.
func batchNormGradChannels(t cpu.Tier, lo, hi int, c1, c2, c0, dgamma, dbeta, dy, x, mean, variance, gamma []float32, eps float32, n, c, hw int) {
	cnt := float64(n * hw)
	var arr [3 * chanScratch]float64
	m, sdy, sdxm := chanSums(arr[:], hi-lo)
	for ch := lo; ch < hi; ch++ {
		m[ch-lo] = float64(mean[ch])
	}
	channelDotDev(t, dy, x, m, sdy, sdxm, lo, hi, n, c, hw)
	for ch := lo; ch < hi; ch++ {
		j := ch - lo
		inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
		sdyx := sdxm[j] * inv // Σ dy·x̂
		dbeta[ch], dgamma[ch] = float32(sdy[j]), float32(sdyx)
		// dx = k·(dy − a − x̂·b) = c1·dy + c2·(x − mean) + c0.
		k := float64(gamma[ch]) * inv
		c1[ch], c2[ch], c0[ch] = float32(k), float32(-k*inv*sdyx/cnt), float32(-k*sdy[j]/cnt)
	}
}

// BatchNormGrad is batch normalisation's input gradient left unwritten:
// element (i, ch, j) is C1[ch]·DY[i][ch][j] + C2[ch]·(X[i][ch][j] − Mean[ch])
// + C0[ch], as BatchNormBackward would write it (vecBNBack). Conv2dBackwardBN
// computes it row by row where it needs it.
//
// Into, when not nil, is where Conv2dBackwardBN writes the gradient on the
// paths that need it whole (Winograd: the input gradient runs after the
// weight gradient), instead of a scratch buffer of its own; it may be X
// itself (each element is computed from the same element of DY and X
// only, read before it is written), which is then overwritten: the caller
// that no longer needs X saves a tensor. Nil (the zero value) keeps DY
// and X intact. BatchNormBackwardCoeffs leaves it as it is.
type BatchNormGrad struct {
	DY, X, Mean, C1, C2, C0 []float32
	Into                    []float32
}

// BatchNormBackwardCoeffs is the first half of BatchNormBackward: it sets
// dgamma and dbeta and returns the gradient as a BatchNormGrad (holding dy,
// x and mean, and c1, c2, c0 as slices of c elements it allocates or takes
// from g when g's are long enough), bit-identical to what
// BatchNormBackward writes.
func BatchNormBackwardCoeffs(g *BatchNormGrad, dgamma, dbeta, dy, x, mean, variance, gamma []float32, eps float32, n, c, hw int) {
	for _, s := range [][]float32{dy, x} {
		mustLen("BatchNormBackwardCoeffs tensor", len(s), n*c*hw)
	}
	for _, s := range [][]float32{dgamma, dbeta, mean, variance, gamma} {
		mustLen("BatchNormBackwardCoeffs per-channel", len(s), c)
	}
	for _, p := range []*[]float32{&g.C1, &g.C2, &g.C0} {
		*p = grow(*p, c)
	}
	g.DY, g.X, g.Mean = dy[:n*c*hw], x[:n*c*hw], mean[:c]
	t := tier
	parallelFor(c, n*hw, func(lo, hi int) {
		batchNormGradChannels(t, lo, hi, g.C1, g.C2, g.C0, dgamma, dbeta, dy, x, mean, variance, gamma, eps, n, c, hw)
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
			var ap []uint8
			if arg != nil {
				ap = arg[pl*oh*ow : hi*oh*ow]
			}
			maxPool2Plane(t, y[pl*oh*ow:hi*oh*ow], ap, x[pl*h*w:hi*h*w], h, w, nil)
		}
	})
}

// BatchNormReLUMaxPool2 is BatchNormForwardReLU followed by MaxPool2, in
// one pass that never writes the full-size normalised tensor: each input
// element is normalised and clamped exactly as BatchNormForwardReLU does
// (vecAffineReLU), then pooled exactly as MaxPool2 pools, so y and arg are
// bit-identical to the two kernels in turn. x is [n][c][h][w]; y and arg
// are [n][c][h/2][w/2] (arg may be nil).
func BatchNormReLUMaxPool2(y []float32, arg []uint8, x, mean, variance, gamma, beta []float32, eps float32, n, c, h, w int) {
	oh, ow := h/2, w/2
	mustLen("BatchNormReLUMaxPool2 x", len(x), n*c*h*w)
	mustLen("BatchNormReLUMaxPool2 y", len(y), n*c*oh*ow)
	if arg != nil {
		mustLen("BatchNormReLUMaxPool2 arg", len(arg), n*c*oh*ow)
	}
	for _, s := range [][]float32{mean, variance, gamma, beta} {
		mustLen("BatchNormReLUMaxPool2 per-channel", len(s), c)
	}
	t := tier
	parallelFor(n*c, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			ch := pl % c
			inv := 1 / math.Sqrt(float64(variance[ch])+float64(eps))
			aff := poolAffine{m: mean[ch], s: float32(float64(gamma[ch]) * inv), b: beta[ch]}
			var ap []uint8
			if arg != nil {
				ap = arg[pl*oh*ow : hi*oh*ow]
			}
			maxPool2Plane(t, y[pl*oh*ow:hi*oh*ow], ap, x[pl*h*w:hi*h*w], h, w, &aff)
		}
	})
}

// poolAffine is the per-channel map v ↦ max((v − m)·s + b, 0) that
// BatchNormReLUMaxPool2 applies to each element before pooling.
type poolAffine struct{ m, s, b float32 }

func (a *poolAffine) apply(v float32) float32 {
	if a == nil {
		return v
	}
	v = (v-a.m)*a.s + a.b
	if v < 0 {
		v = 0
	}
	return v
}

// maxPool2Row is maxPool2RowSIMD, or its affine-ReLU variant when aff is
// not nil.
func maxPool2Row(t cpu.Tier, y []float32, arg []uint8, r0, r1 []float32, aff *poolAffine) int {
	if aff == nil {
		return maxPool2RowSIMD(t, y, arg, r0, r1)
	}
	return maxPool2AffineReLURowSIMD(t, y, arg, r0, r1, aff.m, aff.s, aff.b)
}

// maxPool2Plane pools the h×w plane at the start of src into the start of
// y (and arg, may be nil), each element first mapped by aff when aff is
// not nil. src, y and arg may run on into later planes, which the caller
// computes afterwards: a row of fewer than 8 outputs then spills its SIMD
// block into them even on the plane's last row.
func maxPool2Plane(t cpu.Tier, y []float32, arg []uint8, src []float32, h, w int, aff *poolAffine) {
	oh, ow := h/2, w/2
	more := len(src) > h*w // a later plane follows
	for oy := 0; oy < oh; oy++ {
		r0, r1 := src[2*oy*w:2*oy*w+w], src[(2*oy+1)*w:(2*oy+1)*w+w]
		o := oy * ow
		yr := y[o : o+ow]
		var ar []uint8
		if arg != nil {
			ar = arg[o : o+ow]
		}
		ox := maxPool2Row(t, yr, ar, r0, r1, aff)
		switch {
		case ox > 0 && ox < ow:
			// The last 8 outputs again, overlapping the ones done: the
			// same inputs give the same values.
			var at []uint8
			if ar != nil {
				at = ar[ow-8:]
			}
			if maxPool2Row(t, yr[ow-8:], at, r0[2*(ow-8):], r1[2*(ow-8):], aff) == 8 {
				ox = ow
			}
		case ox == 0 && ow >= 4 && (oy < oh-1 || more):
			// A row shorter than 8 outputs: 8 outputs from 16 columns of
			// both input rows, the surplus spilling into the next output
			// row (of this plane or the next, computed later, so
			// overwritten). The reads stay inside src: w ≥ 8 and two more
			// input rows, or a later plane, follow.
			pr0, pr1 := src[2*oy*w:2*oy*w+16], src[(2*oy+1)*w:(2*oy+1)*w+16]
			var at []uint8
			if ar != nil {
				at = arg[o : o+8]
			}
			if maxPool2Row(t, y[o:o+8], at, pr0, pr1, aff) == 8 {
				ox = ow
			}
		}
		for ; ox < ow; ox++ {
			a, b := aff.apply(r0[2*ox]), aff.apply(r0[2*ox+1])
			c, d := aff.apply(r1[2*ox]), aff.apply(r1[2*ox+1])
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

// MaxPool2Backward routes dy (shaped like MaxPool2's y) to the winning
// elements recorded in arg; dx, shaped [n][c][h][w], is overwritten.
func MaxPool2Backward(dx, dy []float32, arg []uint8, n, c, h, w int) {
	oh, ow := h/2, w/2
	mustLen("MaxPool2Backward dx", len(dx), n*c*h*w)
	mustLen("MaxPool2Backward dy", len(dy), n*c*oh*ow)
	mustLen("MaxPool2Backward arg", len(arg), n*c*oh*ow)
	t := tier
	parallelFor(n*c, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			maxPool2BackwardPlane(t, dx[pl*h*w:hi*h*w], dy[pl*oh*ow:hi*oh*ow], nil, arg[pl*oh*ow:hi*oh*ow], h, w)
		}
	})
}

// MaxPool2BackwardReLU is ReLUGrad after MaxPool2Backward, for a pool
// whose input x is a ReLU's output: dy routed to each window's winner only
// where the pool's output y is > 0. The winner's input is y itself and the
// other elements get 0 anyway, so this is bit-identical to
// MaxPool2Backward(dx, dy, …) followed by ReLUGrad(dx, dx, x), in one pass.
func MaxPool2BackwardReLU(dx, dy, y []float32, arg []uint8, n, c, h, w int) {
	oh, ow := h/2, w/2
	mustLen("MaxPool2BackwardReLU dx", len(dx), n*c*h*w)
	mustLen("MaxPool2BackwardReLU dy", len(dy), n*c*oh*ow)
	mustLen("MaxPool2BackwardReLU y", len(y), n*c*oh*ow)
	mustLen("MaxPool2BackwardReLU arg", len(arg), n*c*oh*ow)
	t := tier
	parallelFor(n*c, h*w, func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			o0, o1 := pl*oh*ow, hi*oh*ow
			maxPool2BackwardPlane(t, dx[pl*h*w:hi*h*w], dy[o0:o1], y[o0:o1], arg[o0:o1], h, w)
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

// eqMask is all ones when k == i and 0 otherwise, for k, i < 2³¹, without
// a branch: k^i − 1 wraps to all ones only when k^i is 0.
func eqMask(k, i uint32) uint32 { return uint32(int32((k^i)-1) >> 31) }

// maxPool2BackwardPlane writes every element of the h×w plane at the start
// of d once: dy to the recorded winner of each window (only where y > 0
// when y is not nil), +0 to the other three and to a trailing odd row or
// column. d, dy, y and arg may run on into later planes, which the caller
// computes afterwards (see maxPool2Plane).
func maxPool2BackwardPlane(t cpu.Tier, d, dy, y []float32, arg []uint8, h, w int) {
	oh, ow := h/2, w/2
	more := len(dy) > oh*ow // a later plane follows
	for oy := 0; oy < oh; oy++ {
		d0, d1 := d[2*oy*w:2*oy*w+w], d[(2*oy+1)*w:(2*oy+1)*w+w]
		g, a := dy[oy*ow:oy*ow+ow], arg[oy*ow:oy*ow+ow]
		var ym []float32
		if y != nil {
			ym = y[oy*ow : oy*ow+ow]
		}
		ox := maxPool2BackRowSIMD(t, d0, d1, g, ym, a)
		switch {
		case ox > 0 && ox < ow:
			// The last 8 windows again, overlapping: the same values.
			var yt []float32
			if ym != nil {
				yt = ym[ow-8:]
			}
			if maxPool2BackRowSIMD(t, d0[2*(ow-8):], d1[2*(ow-8):], g[ow-8:], yt, a[ow-8:]) == 8 {
				ox = ow
			}
		case ox == 0 && ow >= 4 && (oy < oh-1 || more):
			// Fewer than 8 windows: 8, the surplus spilling from row d0
			// into d1 (written next) and from d1 into the next pair of rows,
			// the odd last row or the next plane (written later); dy, y and
			// arg are read within the slices.
			o := oy * ow
			var yt []float32
			if y != nil {
				yt = y[o : o+8]
			}
			if maxPool2BackRowSIMD(t, d[2*oy*w:2*oy*w+16], d[(2*oy+1)*w:(2*oy+1)*w+16], dy[o:o+8], yt, arg[o:o+8]) == 8 {
				ox = ow
			}
		}
		for ; ox < ow; ox++ {
			// Branch-free (the winner's index and the ReLU's sign are
			// random: branches on them would mispredict about every other
			// window): dy's bits masked by all-ones or zero words. +0 where
			// masked, dy's exact bits elsewhere.
			v := math.Float32bits(g[ox])
			if ym != nil && !(ym[ox] > 0) {
				v = 0
			}
			k := uint32(a[ox] & 3)
			d0[2*ox] = math.Float32frombits(v & eqMask(k, 0))
			d0[2*ox+1] = math.Float32frombits(v & eqMask(k, 1))
			d1[2*ox] = math.Float32frombits(v & eqMask(k, 2))
			d1[2*ox+1] = math.Float32frombits(v & eqMask(k, 3))
		}
		if w%2 == 1 {
			d0[w-1], d1[w-1] = 0, 0
		}
	}
	if h%2 == 1 {
		clear(d[(h-1)*w : h*w])
	}
}

// MomentumStep applies one momentum update to parameters w with gradient
// grad and momentum buffer v (all of one length): g = grad + wd·w (skipped
// when wd is 0), v = mu·v + cg·g, w = w − cv·v, elementwise, each operation
// rounded to float32 in that order with no fused multiply-adds, so it is
// bit-identical on every tier and to the same loop in plain Go. It is
// torch.optim.SGD's step after the first (cg = 1 − dampening, cv = the
// learning rate) and LARS's (cg = the adapted rate, cv = 1). grad is only
// read.
func MomentumStep(w, grad, v []float32, wd, mu, cg, cv float32) {
	mustLen("MomentumStep grad", len(grad), len(w))
	mustLen("MomentumStep v", len(v), len(w))
	t := tier
	parallelFor(len(w), 1, func(lo, hi int) { momentumStep(t, w[lo:hi], grad[lo:hi], v[lo:hi], wd, mu, cg, cv) })
}
