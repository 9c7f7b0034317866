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

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// getScratch returns a buffer of n elements with unspecified contents.
func getScratch(n int) *scratch {
	b := scratchPool.Get().(*scratch)
	b.s = grow(b.s, n)
	return b
}

func putScratch(b *scratch) { scratchPool.Put(b) }

// convBuf is one goroutine's im2col workspace.
type convBuf struct{ col []float32 }

var convBufs = sync.Pool{New: func() any { return new(convBuf) }}

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
					for o := 0; o < hw; o += s.W {
						clear(dst[o+lo : o+hi])
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
						clear(src[o+lo : o+hi])
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

// forImages runs f over contiguous ranges of images [lo, hi) on up to
// Threads() goroutines. Each image is processed the same way whatever the
// split, so per-image results do not depend on the thread count.
func forImages(n int, f func(lo, hi int)) {
	parts := min(Threads(), n)
	if parts <= 1 {
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

// Conv2d computes y = conv(x, w) for NCHW x (s.InLen() elements), weights
// w [Cout][Cin][KH][KW] and NCHW y (s.OutLen() elements, overwritten), by
// im2col and SGEMM per image (y_n = W·col(x_n)), images spread over
// Threads() goroutines. Add a bias with BiasAdd. It panics on a bad shape
// or short slice.
func Conv2d(s ConvShape, x, w, y []float32) {
	s.mustCheck("Conv2d", [2]int{len(x), s.InLen()}, [2]int{len(w), s.WeightLen()}, [2]int{len(y), s.OutLen()})
	t := tier
	k, p := s.Cin*s.KH*s.KW, s.OutH()*s.OutW()
	inSz, outSz := s.Cin*s.H*s.W, s.Cout*p
	forImages(s.N, func(lo, hi int) {
		buf := convBufs.Get().(*convBuf)
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
		buf := convBufs.Get().(*convBuf)
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

// dwGroups is the number of image groups Conv2dBackwardWeights reduces
// separately before summing them in order: a function of the batch size
// only, so the result does not depend on the thread count.
func dwGroups(n int) int { return min(n, 8) }

// Conv2dBackwardWeights computes dw (overwritten), the gradient of the loss
// with respect to Conv2d's weights, from x and dy: dW = Σ_n dy_n·col(x_n)ᵀ.
// The batch is cut into dwGroups(N) contiguous groups fixed by N. Within a
// group the images are reduced in order, one GEMM per image accumulating
// into the group's sum (dWᵀ += col(x_n)·dy_nᵀ, so only the smaller dy
// operand is packed transposed and the patch matrix of one image stays in
// L2); the group sums are then added in group order. The result is
// bit-identical whatever the thread count.
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
	ng := dwGroups(s.N)
	per := (s.N + ng - 1) / ng
	ng = (s.N + per - 1) / per
	partsBuf := getScratch(ng * k * s.Cout)
	defer putScratch(partsBuf)
	parts := partsBuf.s // group g: dWᵀ partial, K×Cout
	pl := pool.New().WithMaxGoroutines(max(1, min(Threads(), ng)))
	for g := range ng {
		lo, hi := g*per, min((g+1)*per, s.N)
		part := parts[g*k*s.Cout : (g+1)*k*s.Cout]
		pl.Go(func() {
			buf := convBufs.Get().(*convBuf)
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
	}
	pl.Wait()
	for co := 0; co < s.Cout; co++ {
		for r := 0; r < k; r++ {
			v := parts[r*s.Cout+co]
			for g := 1; g < ng; g++ {
				v += parts[g*k*s.Cout+r*s.Cout+co]
			}
			dw[co*k+r] = v
		}
	}
}
