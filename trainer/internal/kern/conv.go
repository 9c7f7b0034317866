package kern

import (
	"fmt"
	"sync"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/sourcegraph/conc/pool"
)

// ConvShape describes a 2-D convolution over NCHW float32 tensors with
// weights laid out [Cout][Cin][KH][KW] and no dilation or groups.
type ConvShape struct {
	N, Cin, H, W     int // input batch, channels, height, width
	Cout, KH, KW     int // output channels and kernel size
	StrideH, StrideW int // strides (≥ 1)
	PadH, PadW       int // zero padding on each side (≥ 0)
}

// OutH is the output height, (H + 2·PadH − KH)/StrideH + 1.
func (s ConvShape) OutH() int { return (s.H+2*s.PadH-s.KH)/s.StrideH + 1 }

// OutW is the output width, (W + 2·PadW − KW)/StrideW + 1.
func (s ConvShape) OutW() int { return (s.W+2*s.PadW-s.KW)/s.StrideW + 1 }

// InLen, OutLen and WeightLen are the element counts of x, y and w.
func (s ConvShape) InLen() int     { return s.N * s.Cin * s.H * s.W }
func (s ConvShape) OutLen() int    { return s.N * s.Cout * s.OutH() * s.OutW() }
func (s ConvShape) WeightLen() int { return s.Cout * s.Cin * s.KH * s.KW }

// Validate reports whether the shape is usable, wrapping ErrShape.
func (s ConvShape) Validate() error {
	switch {
	case s.N < 0 || s.Cin < 1 || s.H < 1 || s.W < 1 || s.Cout < 1 || s.KH < 1 || s.KW < 1:
		return fmt.Errorf("kern: conv %+v: sizes must be positive: %w", s, ErrShape)
	case s.StrideH < 1 || s.StrideW < 1 || s.PadH < 0 || s.PadW < 0:
		return fmt.Errorf("kern: conv %+v: bad stride or padding: %w", s, ErrShape)
	case s.H+2*s.PadH < s.KH || s.W+2*s.PadW < s.KW:
		return fmt.Errorf("kern: conv %+v: kernel larger than padded input: %w", s, ErrShape)
	}
	return nil
}

func (s ConvShape) mustCheck(name string, lens ...[2]int) {
	if err := s.Validate(); err != nil {
		panic(name + ": " + err.Error())
	}
	for _, l := range lens {
		if l[0] < l[1] {
			panic(fmt.Sprintf("kern: %s %+v: slice of %d elements, need %d", name, s, l[0], l[1]))
		}
	}
}

// scratch is a reusable float32 buffer for per-call temporaries (the
// transposed weights, the per-group weight-gradient sums), so that a
// training loop does not allocate megabytes per layer and step.
type scratch struct{ s []float32 }

// scratchFree is a small free list rather than a sync.Pool, which every GC
// empties (the weight-gradient partial sums are megabytes).
var scratchFree struct {
	sync.Mutex
	free []*scratch
}

const maxFreeScratch = 8

// getScratch returns a buffer of n elements with unspecified contents.
func getScratch(n int) *scratch {
	scratchFree.Lock()
	var b *scratch
	if k := len(scratchFree.free); k > 0 {
		b = scratchFree.free[k-1]
		scratchFree.free = scratchFree.free[:k-1]
	}
	scratchFree.Unlock()
	if b == nil {
		b = new(scratch)
	}
	b.s = grow(b.s, n)
	return b
}

func putScratch(b *scratch) {
	scratchFree.Lock()
	defer scratchFree.Unlock()
	if len(scratchFree.free) < maxFreeScratch {
		scratchFree.free = append(scratchFree.free, b)
	}
}

// convBuf is one goroutine's workspace: the patch matrix of a batch of
// images and a [Cout][images·P] matrix (the GEMM output of a batched
// forward pass, or the rearranged output gradient of a backward one).
type convBuf struct{ col, cn []float32 }

// convBufs keeps convBuf workspaces between calls in a small free list
// rather than a sync.Pool: a pool is emptied at every GC, and allocating
// (and faulting in) megabytes of patch matrix again costs more than the
// convolution of a small batch.
var convBufs convBufList

type convBufList struct {
	sync.Mutex
	free []*convBuf
}

const maxFreeConvBufs = 8

// Get returns a workspace (empty or with buffers of any size).
func (l *convBufList) Get() *convBuf {
	l.Lock()
	defer l.Unlock()
	if n := len(l.free); n > 0 {
		b := l.free[n-1]
		l.free = l.free[:n-1]
		return b
	}
	return new(convBuf)
}

// Put gives a workspace back.
func (l *convBufList) Put(b *convBuf) {
	l.Lock()
	defer l.Unlock()
	if len(l.free) < maxFreeConvBufs {
		l.free = append(l.free, b)
	}
}

// im2col writes the K×P patch matrix of one image (K = Cin·KH·KW rows in
// weight order, P = OutH·OutW columns), zero where the window hangs over
// the padding.
func im2col(s ConvShape, x, col []float32, ldc int) {
	oh, ow := s.OutH(), s.OutW()
	if s.StrideH == 1 && s.StrideW == 1 && oh == s.H && ow == s.W {
		im2colSame(s, x, col, ldc)
		return
	}
	im2colGeneric(s, x, col, ldc)
}

// im2colGeneric is im2col for any stride and padding, and the reference
// for im2colSame.
func im2colGeneric(s ConvShape, x, col []float32, ldc int) {
	oh, ow := s.OutH(), s.OutW()
	row := 0
	for c := 0; c < s.Cin; c++ {
		img := x[c*s.H*s.W : (c+1)*s.H*s.W]
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				dst := col[row*ldc : row*ldc+oh*ow]
				row++
				// Output columns ox with 0 ≤ ox·SW + kx − PW < W.
				lo, hi := validRange(ow, s.StrideW, kx-s.PadW, s.W)
				for oy := 0; oy < oh; oy++ {
					d := dst[oy*ow : oy*ow+ow]
					iy := oy*s.StrideH + ky - s.PadH
					if iy < 0 || iy >= s.H || lo >= hi {
						clear(d)
						continue
					}
					clear(d[:lo])
					clear(d[hi:])
					src := img[iy*s.W:]
					ix := lo*s.StrideW + kx - s.PadW
					if s.StrideW == 1 {
						copy(d[lo:hi], src[ix:ix+hi-lo])
						continue
					}
					for o := lo; o < hi; o++ {
						d[o] = src[ix]
						ix += s.StrideW
					}
				}
			}
		}
	}
}

// im2colSame is im2col for stride 1 with "same" padding (output size =
// input size). Each patch-matrix row is then the image shifted by
// (ky−PadH)·W + (kx−PadW) elements: one contiguous copy, after which the
// rows and columns the window hangs over the padding are zeroed.
func im2colSame(s ConvShape, x, col []float32, ldc int) {
	hw := s.H * s.W
	row := 0
	for c := 0; c < s.Cin; c++ {
		img := x[c*hw : (c+1)*hw]
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				dst := col[row*ldc : row*ldc+hw]
				row++
				dy, dx := ky-s.PadH, kx-s.PadW
				shift := dy*s.W + dx
				// dst[f] = img[f+shift] where 0 ≤ f+shift < hw.
				f0, f1 := max(0, -shift), min(hw, hw-shift)
				if f0 >= f1 {
					clear(dst)
					continue
				}
				clear(dst[:f0])
				copy(dst[f0:f1], img[f0+shift:f1+shift])
				clear(dst[f1:])
				// Rows whose input row is outside the image.
				if dy < 0 {
					clear(dst[:min(hw, -dy*s.W)])
				} else if dy > 0 {
					clear(dst[max(0, hw-dy*s.W):])
				}
				// Columns that wrapped around into the neighbouring row.
				if dx != 0 {
					lo, hi := 0, -dx // columns [lo, hi) with ox+dx < 0
					if dx > 0 {
						lo, hi = s.W-dx, s.W
					}
					lo, hi = max(lo, 0), min(hi, s.W)
					// Element stores: these ranges are one or two wide for
					// the usual kernels, too short to pay for a clear call.
					for o := 0; o < hw; o += s.W {
						for j := o + lo; j < o+hi; j++ {
							dst[j] = 0
						}
					}
				}
			}
		}
	}
}

// col2im adds the K×P patch-matrix gradient of one image into dx (which the
// caller zeroes), in a fixed order: channel, ky, kx, oy, ox.
func col2im(t cpu.Tier, s ConvShape, col []float32, ldc int, dx []float32) {
	oh, ow := s.OutH(), s.OutW()
	if s.StrideH == 1 && s.StrideW == 1 && oh == s.H && ow == s.W {
		col2imSame(t, s, col, ldc, dx)
		return
	}
	row := 0
	for c := 0; c < s.Cin; c++ {
		img := dx[c*s.H*s.W : (c+1)*s.H*s.W]
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				src := col[row*ldc : row*ldc+oh*ow]
				row++
				lo, hi := validRange(ow, s.StrideW, kx-s.PadW, s.W)
				if lo >= hi {
					continue
				}
				for oy := 0; oy < oh; oy++ {
					iy := oy*s.StrideH + ky - s.PadH
					if iy < 0 || iy >= s.H {
						continue
					}
					d := img[iy*s.W:]
					ix := lo*s.StrideW + kx - s.PadW
					if s.StrideW == 1 {
						vecAdd(t, d[ix:ix+hi-lo], src[oy*ow+lo:oy*ow+hi])
						continue
					}
					for _, v := range src[oy*ow+lo : oy*ow+hi] {
						d[ix] += v
						ix += s.StrideW
					}
				}
			}
		}
	}
}

// col2imSame is col2im for stride 1 with "same" padding, the mirror of
// im2colSame: it zeroes the entries of each patch-matrix row that wrapped
// around a row edge (they belong to the padding; col is scratch) and adds
// the row, shifted, into dx with one vector add. Each element of dx gets
// the same additions in the same order as in col2im's general loop.
func col2imSame(t cpu.Tier, s ConvShape, col []float32, ldc int, dx []float32) {
	hw := s.H * s.W
	row := 0
	for c := 0; c < s.Cin; c++ {
		img := dx[c*hw : (c+1)*hw]
		for ky := 0; ky < s.KH; ky++ {
			for kx := 0; kx < s.KW; kx++ {
				src := col[row*ldc : row*ldc+hw]
				row++
				dy, dxx := ky-s.PadH, kx-s.PadW
				shift := dy*s.W + dxx
				f0, f1 := max(0, -shift), min(hw, hw-shift)
				if f0 >= f1 {
					continue
				}
				if dxx != 0 {
					lo, hi := 0, -dxx
					if dxx > 0 {
						lo, hi = s.W-dxx, s.W
					}
					lo, hi = max(lo, 0), min(hi, s.W)
					for o := 0; o < hw; o += s.W {
						for j := o + lo; j < o+hi; j++ {
							src[j] = 0
						}
					}
				}
				vecAdd(t, img[f0+shift:f1+shift], src[f0:f1])
			}
		}
	}
}

// validRange returns the output columns [lo, hi) whose input column
// o·stride + off falls inside [0, w).
func validRange(ow, stride, off, w int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = ow
	if last := (w - 1 - off); last < 0 {
		hi = 0
	} else if h := last/stride + 1; h < hi {
		hi = h
	}
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// padLD returns the leading dimension for a workspace matrix with rows of
// n floats: n, or n+16 when n is a multiple of 256 (1 KiB), so that the
// rows a kernel reads together do not alias in the caches' sets.
func padLD(n int) int {
	if n%256 == 0 {
		return n + 16
	}
	return n
}

// is1x1 reports whether the patch matrix of an image is the image itself.
func (s ConvShape) is1x1() bool {
	return s.KH == 1 && s.KW == 1 && s.StrideH == 1 && s.StrideW == 1 && s.PadH == 0 && s.PadW == 0
}

// batchCols is the number of patch-matrix columns a convolution aims to
// give each GEMM: images whose output plane is smaller are batched, their
// patch matrices side by side, so that the GEMM's N (and, for the weight
// gradient, its K) is long enough to run the register tile at full speed
// (a 7×7 plane alone is 49 columns, three full 16-wide tiles and one with a
// single column). 0 turns batching off (benchmarks compare both).
var batchCols = 768

// convBatch is the number of images per GEMM (see batchCols), a function of
// the shape alone so that results never depend on the thread count.
func convBatch(s ConvShape) int {
	p := s.OutH() * s.OutW()
	if s.is1x1() || p >= batchCols {
		return 1
	}
	return max(1, min(s.N, batchCols/p))
}

// forImages runs f over contiguous ranges of images [lo, hi) on up to
// Threads() goroutines (chunksPerThread ranges each, taken by whichever is
// free). Each image is processed the same way whatever the split, so
// per-image results do not depend on the thread count.
func forImages(n int, f func(lo, hi int)) {
	threads := min(Threads(), n)
	if threads <= 1 {
		f(0, n)
		return
	}
	runChunks(n, threads, min(n, chunksPerThread*threads), f)
}

// Conv2d computes y = conv(x, w) for NCHW x (s.InLen() elements), weights
// w [Cout][Cin][KH][KW] and NCHW y (s.OutLen() elements, overwritten), by
// im2col and SGEMM per image (y_n = W·col(x_n)), images spread over
// Threads() goroutines. Add a bias with BiasAdd. It panics on a bad shape
// or short slice.
func Conv2d(s ConvShape, x, w, y []float32) {
	s.mustCheck("Conv2d", [2]int{len(x), s.InLen()}, [2]int{len(w), s.WeightLen()}, [2]int{len(y), s.OutLen()})
	if useWinograd(s) {
		winogradForward(s, x, w, y)
		return
	}
	t := tier
	k, p := s.Cin*s.KH*s.KW, s.OutH()*s.OutW()
	inSz, outSz := s.Cin*s.H*s.W, s.Cout*p
	if bsz := convBatch(s); bsz > 1 {
		forImages((s.N+bsz-1)/bsz, func(lo, hi int) {
			buf := convBufs.Get()
			defer convBufs.Put(buf)
			for g := lo; g < hi; g++ {
				n0, n1 := g*bsz, min((g+1)*bsz, s.N)
				cols := (n1 - n0) * p
				ld := padLD(cols)
				buf.col = grow(buf.col, need(k, cols, ld))
				for n := n0; n < n1; n++ {
					im2col(s, x[n*inSz:(n+1)*inSz], buf.col[(n-n0)*p:], ld)
				}
				buf.cn = grow(buf.cn, s.Cout*cols)
				sgemm(t, 1, false, false, s.Cout, cols, k, 1, w, k, buf.col, ld, 0, buf.cn, cols)
				for n := n0; n < n1; n++ {
					yn := y[n*outSz : (n+1)*outSz]
					for co := 0; co < s.Cout; co++ {
						copy(yn[co*p:(co+1)*p], buf.cn[co*cols+(n-n0)*p:])
					}
				}
			}
		})
		return
	}
	forImages(s.N, func(lo, hi int) {
		buf := convBufs.Get()
		defer convBufs.Put(buf)
		for n := lo; n < hi; n++ {
			xn := x[n*inSz : (n+1)*inSz]
			col, ld := xn, p
			if !s.is1x1() {
				ld = padLD(p)
				buf.col = grow(buf.col, need(k, p, ld))
				col = buf.col
				im2col(s, xn, col, ld)
			}
			sgemm(t, 1, false, false, s.Cout, p, k, 1, w, k, col, ld, 0, y[n*outSz:(n+1)*outSz], p)
		}
	})
}

// Conv2dBackwardInput computes dx, the gradient of the loss with respect to
// Conv2d's input, from dy (shaped like y) and w: per image
// dcol = Wᵀ·dy_n, then col2im. dx is overwritten.
func Conv2dBackwardInput(s ConvShape, dy, w, dx []float32) {
	s.mustCheck("Conv2dBackwardInput", [2]int{len(dy), s.OutLen()}, [2]int{len(w), s.WeightLen()}, [2]int{len(dx), s.InLen()})
	if useWinograd(s) {
		winogradBackwardInput(s, dy, w, dx)
		return
	}
	t := tier
	k, p := s.Cin*s.KH*s.KW, s.OutH()*s.OutW()
	inSz, outSz := s.Cin*s.H*s.W, s.Cout*p
	// Wᵀ once (K×Cout), so that no image repacks a transposed operand.
	wtBuf := getScratch(k * s.Cout)
	defer putScratch(wtBuf)
	wt := wtBuf.s
	for co := 0; co < s.Cout; co++ {
		for r := 0; r < k; r++ {
			wt[r*s.Cout+co] = w[co*k+r]
		}
	}
	forImages(s.N, func(lo, hi int) {
		buf := convBufs.Get()
		defer convBufs.Put(buf)
		for n := lo; n < hi; n++ {
			dxn := dx[n*inSz : (n+1)*inSz]
			dyn := dy[n*outSz : (n+1)*outSz]
			if s.is1x1() {
				sgemm(t, 1, false, false, k, p, s.Cout, 1, wt, s.Cout, dyn, p, 0, dxn, p)
				continue
			}
			ld := padLD(p)
			buf.col = grow(buf.col, need(k, p, ld))
			sgemm(t, 1, false, false, k, p, s.Cout, 1, wt, s.Cout, dyn, p, 0, buf.col, ld)
			clear(dxn)
			col2im(t, s, buf.col, ld, dxn)
		}
	})
}

// dwMaxGroups is the most image groups Conv2dBackwardWeights reduces
// separately before summing them in order.
const dwMaxGroups = 8

// imageGroups cuts n images into at most maxGroups contiguous groups of per
// images each (the last may hold fewer) and returns the group count and
// size; n must be positive. The cut depends on its arguments alone, never
// on the thread count, so partial sums reduced per group and then added in
// group order are the same bits whatever Threads() is.
func imageGroups(n, maxGroups int) (ng, per int) {
	ng = max(1, min(n, maxGroups))
	per = (n + ng - 1) / ng
	return (n + per - 1) / per, per
}

// forGroups runs fn(g, lo, hi) for each of imageGroups' ng groups of per
// images out of n, on at most Threads() goroutines, and waits for them.
func forGroups(n, ng, per int, fn func(g, lo, hi int)) {
	pl := pool.New().WithMaxGoroutines(max(1, min(Threads(), ng)))
	for g := range ng {
		lo, hi := g*per, min((g+1)*per, n)
		pl.Go(func() { fn(g, lo, hi) })
	}
	pl.Wait()
}

// sumGroupsT writes dw (Cout×K) as the sum, in group order, of the ng
// transposed partials (K×Cout each) in parts.
func sumGroupsT(dw, parts []float32, ng, k, cout int) {
	for co := 0; co < cout; co++ {
		for r := 0; r < k; r++ {
			v := parts[r*cout+co]
			for g := 1; g < ng; g++ {
				v += parts[g*k*cout+r*cout+co]
			}
			dw[co*k+r] = v
		}
	}
}

// Conv2dBackwardWeights computes dw (overwritten), the gradient of the loss
// with respect to Conv2d's weights, from x and dy: dW = Σ_n dy_n·col(x_n)ᵀ.
// The batch is cut into imageGroups(N, dwMaxGroups) contiguous groups.
// Within a group the images are reduced in order, one GEMM per image
// accumulating into the group's sum (dWᵀ += col(x_n)·dy_nᵀ, so only the
// smaller dy operand is packed transposed and the patch matrix of one image
// stays in L2); the group sums are then added in group order (sumGroupsT).
// The result is bit-identical whatever the thread count. The shapes
// useWinograd accepts run on Winograd F(3×3,2×2) instead, with groups cut
// the same way (winogradBackwardWeights).
func Conv2dBackwardWeights(s ConvShape, x, dy, dw []float32) {
	s.mustCheck("Conv2dBackwardWeights", [2]int{len(x), s.InLen()}, [2]int{len(dy), s.OutLen()}, [2]int{len(dw), s.WeightLen()})
	t := tier
	k, p := s.Cin*s.KH*s.KW, s.OutH()*s.OutW()
	inSz, outSz := s.Cin*s.H*s.W, s.Cout*p
	dw = dw[:s.Cout*k]
	if s.N == 0 {
		clear(dw)
		return
	}
	if useWinograd(s) {
		winogradBackwardWeights(s, x, dy, dw)
		return
	}
	ng, per := imageGroups(s.N, dwMaxGroups)
	partsBuf := getScratch(ng * k * s.Cout)
	defer putScratch(partsBuf)
	parts := partsBuf.s // group g: dWᵀ partial, K×Cout
	forGroups(s.N, ng, per, func(g, lo, hi int) {
		part := parts[g*k*s.Cout : (g+1)*k*s.Cout]
		buf := convBufs.Get()
		defer convBufs.Put(buf)
		for n := lo; n < hi; n++ {
			col, ld := x[n*inSz:(n+1)*inSz], p
			if !s.is1x1() {
				ld = padLD(p)
				buf.col = grow(buf.col, need(k, p, ld))
				col = buf.col
				im2col(s, x[n*inSz:(n+1)*inSz], col, ld)
			}
			beta := float32(1)
			if n == lo {
				beta = 0
			}
			sgemm(t, 1, false, true, k, s.Cout, p, 1, col, ld, dy[n*outSz:(n+1)*outSz], p, beta, part, s.Cout)
		}
	})
	sumGroupsT(dw, parts, ng, k, s.Cout)
}

// Conv2dBackward computes both gradients of Conv2d in one pass over the
// batch: dw (overwritten) as Conv2dBackwardWeights and, unless dx is nil,
// dx (overwritten) as Conv2dBackwardInput. Where the shape batches images
// (see batchCols), each batch of images is handled together: its patch
// matrix and its output gradient rearranged to [Cout][images·P] feed one
// GEMM for the batch's share of dW (K = images·P) and one for the patch
// gradient (N = images·P), which col2im then adds into each image's dx.
// The weight gradient is reduced in the same groups as
// Conv2dBackwardWeights (fixed by N), batches in order within a group; the
// result is bit-identical whatever the thread count. The shapes
// useWinograd accepts run both gradients on Winograd (winogradBackward).
func Conv2dBackward(s ConvShape, x, dy, w, dw, dx []float32) {
	s.mustCheck("Conv2dBackward", [2]int{len(x), s.InLen()}, [2]int{len(dy), s.OutLen()}, [2]int{len(w), s.WeightLen()}, [2]int{len(dw), s.WeightLen()})
	if dx != nil {
		s.mustCheck("Conv2dBackward", [2]int{len(dx), s.InLen()})
	}
	bsz := convBatch(s)
	if bsz <= 1 || s.N == 0 {
		Conv2dBackwardWeights(s, x, dy, dw)
		if dx != nil {
			Conv2dBackwardInput(s, dy, w, dx)
		}
		return
	}
	conv2dBackward(s, bsz, x, dy, nil, w, dw, dx)
}

// Conv2dBackwardBN is Conv2dBackward whose output gradient is the input
// gradient of a batch normalisation after the convolution, given as g
// (BatchNormBackwardCoeffs) rather than written out: each row of it is
// computed (vecBNBack) where the convolution reads it (on Winograd, batch
// by batch where the weight gradient reads it, and kept for the input
// gradient, in g.Into when set: see BatchNormGrad). dw and dx are
// bit-identical to BatchNormBackward followed by Conv2dBackward.
func Conv2dBackwardBN(s ConvShape, x []float32, g *BatchNormGrad, w, dw, dx []float32) {
	s.mustCheck("Conv2dBackwardBN", [2]int{len(x), s.InLen()}, [2]int{len(g.DY), s.OutLen()}, [2]int{len(g.X), s.OutLen()}, [2]int{len(w), s.WeightLen()}, [2]int{len(dw), s.WeightLen()})
	if g.Into != nil {
		s.mustCheck("Conv2dBackwardBN Into", [2]int{len(g.Into), s.OutLen()})
	}
	for _, c := range [][]float32{g.Mean, g.C1, g.C2, g.C0} {
		mustLen("Conv2dBackwardBN per-channel", len(c), s.Cout)
	}
	if dx != nil {
		s.mustCheck("Conv2dBackwardBN", [2]int{len(dx), s.InLen()})
	}
	if s.N == 0 {
		clear(dw[:s.WeightLen()])
		return
	}
	conv2dBackward(s, max(1, convBatch(s)), x, nil, g, w, dw, dx)
}

// conv2dBackward is Conv2dBackward's batched pass, bsz images per GEMM
// (1 gives the same arithmetic as Conv2dBackwardWeights and
// Conv2dBackwardInput), with the output gradient read from dy or, when g is
// not nil, computed from g. The shapes useWinograd accepts go to
// winogradBackward.
func conv2dBackward(s ConvShape, bsz int, x, dy []float32, g *BatchNormGrad, w, dw, dx []float32) {
	if useWinograd(s) {
		winogradBackward(s, x, dy, g, w, dw, dx)
		return
	}
	t := tier
	k, p := s.Cin*s.KH*s.KW, s.OutH()*s.OutW()
	inSz, outSz := s.Cin*s.H*s.W, s.Cout*p
	dw = dw[:s.Cout*k]
	var wt []float32
	if dx != nil {
		wtBuf := getScratch(k * s.Cout)
		defer putScratch(wtBuf)
		wt = wtBuf.s
		for co := 0; co < s.Cout; co++ {
			for r := 0; r < k; r++ {
				wt[r*s.Cout+co] = w[co*k+r]
			}
		}
	}
	ng, per := imageGroups(s.N, dwMaxGroups)
	partsBuf := getScratch(ng * k * s.Cout)
	defer putScratch(partsBuf)
	parts := partsBuf.s // group gi: dWᵀ partial, K×Cout
	forGroups(s.N, ng, per, func(gi, lo, hi int) {
		part := parts[gi*k*s.Cout : (gi+1)*k*s.Cout]
		buf := convBufs.Get()
		defer convBufs.Put(buf)
		for n0 := lo; n0 < hi; n0 += bsz {
			n1 := min(n0+bsz, hi)
			cols := (n1 - n0) * p
			ld := padLD(cols)
			buf.col = grow(buf.col, need(k, cols, ld))
			buf.cn = grow(buf.cn, s.Cout*cols)
			for n := n0; n < n1; n++ {
				im2col(s, x[n*inSz:(n+1)*inSz], buf.col[(n-n0)*p:], ld)
				for co := 0; co < s.Cout; co++ {
					dst := buf.cn[co*cols+(n-n0)*p : co*cols+(n-n0+1)*p]
					o := n*outSz + co*p
					if g == nil {
						copy(dst, dy[o:o+p])
					} else {
						vecBNBack(t, dst, g.DY[o:o+p], g.X[o:o+p], g.Mean[co], g.C1[co], g.C2[co], g.C0[co])
					}
				}
			}
			beta := float32(1)
			if n0 == lo {
				beta = 0
			}
			sgemm(t, 1, false, true, k, s.Cout, cols, 1, buf.col, ld, buf.cn, cols, beta, part, s.Cout)
			if dx == nil {
				continue
			}
			// The patch matrix is no longer needed: its gradient goes there.
			sgemm(t, 1, false, false, k, cols, s.Cout, 1, wt, s.Cout, buf.cn, cols, 0, buf.col, ld)
			for n := n0; n < n1; n++ {
				dxn := dx[n*inSz : (n+1)*inSz]
				clear(dxn)
				col2im(t, s, buf.col[(n-n0)*p:], ld, dxn)
			}
		}
	})
	sumGroupsT(dw, parts, ng, k, s.Cout)
}
