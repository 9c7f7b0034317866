package trainer

import (
	"fmt"
	"math"
	"sync"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// geom is the geometry of a square-kernel convolution over a batch.
type geom struct {
	n, c, h, w, k, s, p, ho, wo int
}

func convOut(in, k, s, p int) int { return (in+2*p-k)/s + 1 }

// im2col writes col[(c·k+ki)·k+kj][(n·ho+oh)·wo+ow] = x[n][c][oh·s−p+ki][ow·s−p+kj]
// (0 outside the image). Rows are filled in parallel.
func im2col[T Float](g geom, x, col []T) {
	L := g.ho * g.wo
	NL := g.n * L
	kk := g.k * g.k
	parallelFor(g.c*kk, grainFor(NL), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			c, ki, kj := r/kk, (r/g.k)%g.k, r%g.k
			row := col[r*NL : (r+1)*NL]
			for n := 0; n < g.n; n++ {
				plane := x[(n*g.c+c)*g.h*g.w : (n*g.c+c+1)*g.h*g.w]
				for oh := 0; oh < g.ho; oh++ {
					dst := row[(n*g.ho+oh)*g.wo : (n*g.ho+oh+1)*g.wo]
					ih := oh*g.s - g.p + ki
					if ih < 0 || ih >= g.h {
						clear(dst)
						continue
					}
					src := plane[ih*g.w : (ih+1)*g.w]
					if g.s == 1 {
						// iw = ow − p + kj: a shifted copy with zero edges.
						off := kj - g.p
						lo, hi := min(max(0, -off), g.wo), min(g.wo, g.w-off)
						clear(dst[:lo])
						if hi > lo {
							copy(dst[lo:hi], src[lo+off:hi+off])
						} else {
							hi = lo
						}
						clear(dst[hi:])
						continue
					}
					for ow := range dst {
						iw := ow*g.s - g.p + kj
						if iw < 0 || iw >= g.w {
							dst[ow] = 0
						} else {
							dst[ow] = src[iw]
						}
					}
				}
			}
		}
	})
}

// col2im is the adjoint of im2col: dx[n][c][ih][iw] = Σ col entries that
// im2col read from there. Channels are done in parallel, each in a fixed order.
func col2im[T Float](g geom, col, dx []T) {
	L := g.ho * g.wo
	NL := g.n * L
	kk := g.k * g.k
	hw := g.h * g.w
	parallelFor(g.c, grainFor(kk*NL), func(lo, hi int) {
		for c := lo; c < hi; c++ {
			for n := 0; n < g.n; n++ {
				clear(dx[(n*g.c+c)*hw : (n*g.c+c+1)*hw])
			}
			for r := c * kk; r < (c+1)*kk; r++ {
				ki, kj := (r/g.k)%g.k, r%g.k
				row := col[r*NL : (r+1)*NL]
				for n := 0; n < g.n; n++ {
					plane := dx[(n*g.c+c)*hw : (n*g.c+c+1)*hw]
					for oh := 0; oh < g.ho; oh++ {
						ih := oh*g.s - g.p + ki
						if ih < 0 || ih >= g.h {
							continue
						}
						src := row[(n*g.ho+oh)*g.wo : (n*g.ho+oh+1)*g.wo]
						dst := plane[ih*g.w : (ih+1)*g.w]
						for ow, v := range src {
							iw := ow*g.s - g.p + kj
							if iw >= 0 && iw < g.w {
								dst[iw] += v
							}
						}
					}
				}
			}
		}
	})
}

// cnToNC copies src laid out [C][N·L] into dst [N][C][L], adding bias[c]
// when bias is not nil.
func cnToNC[T Float](n, c, L int, src, dst, bias []T) {
	parallelFor(n, grainFor(c*L), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for ch := 0; ch < c; ch++ {
				s := src[ch*n*L+i*L : ch*n*L+(i+1)*L]
				d := dst[(i*c+ch)*L : (i*c+ch+1)*L]
				if bias == nil {
					copy(d, s)
					continue
				}
				b := bias[ch]
				for j, v := range s {
					d[j] = v + b
				}
			}
		}
	})
}

// ncToCN copies src [N][C][L] into dst [C][N·L].
func ncToCN[T Float](n, c, L int, src, dst []T) {
	parallelFor(c, grainFor(n*L), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			for i := 0; i < n; i++ {
				copy(dst[ch*n*L+i*L:ch*n*L+(i+1)*L], src[(i*c+ch)*L:(i*c+ch+1)*L])
			}
		}
	})
}

// channelSums sets out[c] = Σ over n and l of x[n][c][l], accumulated in
// float64 in a fixed order.
func channelSums[T Float](n, c, L int, x, out []T) {
	for ch := 0; ch < c; ch++ {
		var s float64
		for i := 0; i < n; i++ {
			for _, v := range x[(i*c+ch)*L : (i*c+ch+1)*L] {
				s += float64(v)
			}
		}
		out[ch] = T(s)
	}
}

// batchedConvMaxL is the largest output plane (Ho·Wo) for which float32
// convolutions run as one GEMM over the whole batch (im2col of all images
// side by side) rather than kern's per-image GEMMs: with 4×4 outputs
// (ResNet's last stage) a per-image GEMM has only 16 columns, and the batched
// one measured ~2× faster on this machine; from 8×8 up, kern's is as fast or
// faster. Convolutions kern runs on Winograd go to kern whatever their
// plane: resnet18's 512→512 layers at 4×4 on 512 views ran 1.12× faster
// over the whole SimCLR step there (trainbench -encoder resnet18 -clock cpu,
// three alternations: 18.9 → 21.2, 19.3 → 21.7, 16.8 → 20.4 images/s per
// CPU-second), while sending every 4×4 layer to kern (the stride-2 ones
// too) gave 20.8, 19.5 and 19.8 in the same rounds.
const batchedConvMaxL = 16

// scratch holds im2col buffers shared by the layers (a convolution needs its
// columns only during its own Forward or Backward call).
var scratch struct {
	sync.Mutex
	free []any // *[]float32 or *[]float64
}

func getScratch[T Float](n int) *[]T {
	scratch.Lock()
	defer scratch.Unlock()
	for i, v := range scratch.free {
		if p, ok := v.(*[]T); ok && cap(*p) >= n {
			scratch.free = append(scratch.free[:i], scratch.free[i+1:]...)
			return p
		}
	}
	b := make([]T, n)
	return &b
}

func putScratch[T Float](p *[]T) {
	scratch.Lock()
	defer scratch.Unlock()
	// Keep at most a few buffers, the largest ones.
	if len(scratch.free) >= 4 {
		for i, v := range scratch.free {
			if q, ok := v.(*[]T); ok && cap(*q) < cap(*p) {
				scratch.free[i] = p
				return
			}
		}
		return
	}
	scratch.free = append(scratch.free, p)
}

// Conv2d is a 2-D convolution over NCHW batches with a square kernel,
// stride and zero padding, as PyTorch's nn.Conv2d (groups 1, dilation 1).
// Weight is [out, in, k, k]. It runs as im2col over the whole batch followed
// by one GEMM (weight × columns), and the backward pass as two GEMMs and
// col2im.
type Conv2d[T Float] struct {
	In, Out, K, Stride, Pad int
	Weight, Bias            *Param[T] // Bias is nil without bias
	// SkipInputGrad makes Backward skip the input gradient (first layer of a
	// network); it then returns an empty tensor.
	SkipInputGrad bool

	g               geom
	cn, yBuf, dxBuf []T
	// dxSlot, when set, holds the input gradient instead of dxBuf: a
	// buffer the model builder shares between convolutions whose input
	// gradients are never alive at once (see shareGradSlots), which
	// slots sizes for all of them before the first is written.
	dxSlot   *[]T
	slots    *gradSlots[T]
	x        Tensor[T] // input of the last Forward
	kernPath bool
}

// dxStore is where Backward writes the input gradient.
func (c *Conv2d[T]) dxStore() *[]T {
	if c.dxSlot != nil {
		if c.slots != nil {
			c.slots.reserve()
		}
		return c.dxSlot
	}
	return &c.dxBuf
}

// NewConv2d makes a convolution initialised as PyTorch does:
// weights and bias U(−1/√fan_in, 1/√fan_in), fan_in = in·k·k
// (kaiming_uniform_ with a = √5).
func NewConv2d[T Float](name string, in, out, k, stride, pad int, bias bool, r *RNG) *Conv2d[T] {
	c := &Conv2d[T]{In: in, Out: out, K: k, Stride: stride, Pad: pad}
	c.Weight = newParam[T](name+".weight", false, out, in, k, k)
	bound := 1 / math.Sqrt(float64(in*k*k))
	fillUniform(r, c.Weight.W, bound)
	if bias {
		c.Bias = newParam[T](name+".bias", true, out)
		fillUniform(r, c.Bias.W, bound)
	}
	return c
}

// Kind implements Layer.
func (c *Conv2d[T]) Kind() string { return "conv" }

// Params implements Layer.
func (c *Conv2d[T]) Params() []*Param[T] {
	if c.Bias != nil {
		return []*Param[T]{c.Weight, c.Bias}
	}
	return []*Param[T]{c.Weight}
}

// Forward implements Layer.
func (c *Conv2d[T]) Forward(x Tensor[T]) Tensor[T] {
	mustRank("Conv2d", x, 4)
	if x.Shape[1] != c.In {
		panic(fmt.Sprintf("trainer: Conv2d: input has %d channels, want %d", x.Shape[1], c.In))
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	g := geom{n: n, c: c.In, h: h, w: w, k: c.K, s: c.Stride, p: c.Pad,
		ho: convOut(h, c.K, c.Stride, c.Pad), wo: convOut(w, c.K, c.Stride, c.Pad)}
	c.g = g
	L := g.ho * g.wo
	c.x = x
	ks := kernConvShape(g, c.Out)
	if x32, ok := f32(x.Data); ok && (L > batchedConvMaxL || kern.UsesWinograd(ks)) {
		y := ensure(&c.yBuf, n, c.Out, g.ho, g.wo)
		y32 := as32(y.Data)
		kern.Conv2d(ks, x32, as32(c.Weight.W), y32)
		if c.Bias != nil {
			kern.BiasAdd(y32, as32(c.Bias.W), n, c.Out, L)
		}
		c.kernPath = true
		return y
	}
	c.kernPath = false
	kd := c.In * c.K * c.K
	colp := getScratch[T](kd * n * L)
	col := (*colp)[:kd*n*L]
	im2col(g, x.Data, col)
	cn := ensure(&c.cn, c.Out, n*L).Data
	gemm(false, false, c.Out, n*L, kd, 1, c.Weight.W, kd, col, n*L, 0, cn, n*L)
	putScratch(colp)
	y := ensure(&c.yBuf, n, c.Out, g.ho, g.wo)
	var b []T
	if c.Bias != nil {
		b = c.Bias.W
	}
	cnToNC(n, c.Out, L, cn, y.Data, b)
	return y
}

// Backward implements Layer.
func (c *Conv2d[T]) Backward(dy Tensor[T]) Tensor[T] {
	g := c.g
	n, L := g.n, g.ho*g.wo
	if c.kernPath {
		s, dy32 := kernConvShape(g, c.Out), as32(dy.Data)
		if c.Bias != nil {
			kern.BiasGrad(as32(c.Bias.G), dy32, n, c.Out, L)
		}
		if c.SkipInputGrad {
			kern.Conv2dBackward(s, as32(c.x.Data), dy32, as32(c.Weight.W), as32(c.Weight.G), nil)
			return Tensor[T]{}
		}
		dx := ensure(c.dxStore(), n, c.In, g.h, g.w)
		kern.Conv2dBackward(s, as32(c.x.Data), dy32, as32(c.Weight.W), as32(c.Weight.G), as32(dx.Data))
		return dx
	}
	kd := c.In * c.K * c.K
	cn := c.cn[:c.Out*n*L]
	colp := getScratch[T](kd * n * L)
	defer putScratch(colp)
	col := (*colp)[:kd*n*L]
	im2col(g, c.x.Data, col) // recomputed: cheaper than keeping it per layer
	ncToCN(n, c.Out, L, dy.Data, cn)
	gemm(false, true, c.Out, kd, n*L, 1, cn, n*L, col, n*L, 0, c.Weight.G, kd)
	if c.Bias != nil {
		channelSums(n, c.Out, L, dy.Data, c.Bias.G)
	}
	if c.SkipInputGrad {
		return Tensor[T]{}
	}
	gemm(true, false, kd, n*L, c.Out, 1, c.Weight.W, kd, cn, n*L, 0, col, n*L)
	dx := ensure(c.dxStore(), n, c.In, g.h, g.w)
	col2im(g, col, dx.Data)
	return dx
}

// canBackwardBN reports whether backwardBN applies: the last Forward took
// the kern path, and there is no bias (whose gradient would need the
// output gradient written out) and the kernel is not 1×1 (whose input
// gradient kern writes directly, not through col2im).
func (c *Conv2d[T]) canBackwardBN() bool {
	return c.kernPath && c.Bias == nil && c.K > 1
}

// backwardBN is Backward with the output gradient given by the BatchNorm
// after this convolution (kern.BatchNormGrad) rather than written out,
// bit-identical to BatchNorm.Backward followed by Backward.
func (c *Conv2d[T]) backwardBN(g *kern.BatchNormGrad) Tensor[T] {
	geo := c.g
	s := kernConvShape(geo, c.Out)
	if c.SkipInputGrad {
		kern.Conv2dBackwardBN(s, as32(c.x.Data), g, as32(c.Weight.W), as32(c.Weight.G), nil)
		return Tensor[T]{}
	}
	dx := ensure(c.dxStore(), geo.n, c.In, geo.h, geo.w)
	kern.Conv2dBackwardBN(s, as32(c.x.Data), g, as32(c.Weight.W), as32(c.Weight.G), as32(dx.Data))
	return dx
}

// ConvTranspose2d is PyTorch's nn.ConvTranspose2d (groups 1, dilation 1)
// with a square kernel: the adjoint of Conv2d, used to upsample in decoders.
// Weight is [in, out, k, k]; the output side is (H−1)·stride − 2·pad + k +
// outPad.
type ConvTranspose2d[T Float] struct {
	In, Out, K, Stride, Pad, OutPad int
	Weight, Bias                    *Param[T]

	g                     geom
	xcn, col, yBuf, dxBuf []T
}

// NewConvTranspose2d initialises as PyTorch does, whose fan_in for a
// transposed convolution is out·k·k (weight dimension 1).
func NewConvTranspose2d[T Float](name string, in, out, k, stride, pad, outPad int, bias bool, r *RNG) *ConvTranspose2d[T] {
	c := &ConvTranspose2d[T]{In: in, Out: out, K: k, Stride: stride, Pad: pad, OutPad: outPad}
	c.Weight = newParam[T](name+".weight", false, in, out, k, k)
	bound := 1 / math.Sqrt(float64(out*k*k))
	fillUniform(r, c.Weight.W, bound)
	if bias {
		c.Bias = newParam[T](name+".bias", true, out)
		fillUniform(r, c.Bias.W, bound)
	}
	return c
}

// Kind implements Layer.
func (c *ConvTranspose2d[T]) Kind() string { return "convT" }

// Params implements Layer.
func (c *ConvTranspose2d[T]) Params() []*Param[T] {
	if c.Bias != nil {
		return []*Param[T]{c.Weight, c.Bias}
	}
	return []*Param[T]{c.Weight}
}

// Forward implements Layer.
func (c *ConvTranspose2d[T]) Forward(x Tensor[T]) Tensor[T] {
	mustRank("ConvTranspose2d", x, 4)
	if x.Shape[1] != c.In {
		panic(fmt.Sprintf("trainer: ConvTranspose2d: input has %d channels, want %d", x.Shape[1], c.In))
	}
	n, h, w := x.Shape[0], x.Shape[2], x.Shape[3]
	ho := (h-1)*c.Stride - 2*c.Pad + c.K + c.OutPad
	wo := (w-1)*c.Stride - 2*c.Pad + c.K + c.OutPad
	// The equivalent convolution maps the output image (ho×wo) to the input
	// positions (h×w).
	g := geom{n: n, c: c.Out, h: ho, w: wo, k: c.K, s: c.Stride, p: c.Pad, ho: h, wo: w}
	c.g = g
	L := h * w
	kd := c.Out * c.K * c.K
	xcn := ensure(&c.xcn, c.In, n*L).Data
	ncToCN(n, c.In, L, x.Data, xcn)
	col := ensure(&c.col, kd, n*L).Data
	gemm(true, false, kd, n*L, c.In, 1, c.Weight.W, kd, xcn, n*L, 0, col, n*L)
	y := ensure(&c.yBuf, n, c.Out, ho, wo)
	col2im(g, col, y.Data)
	if c.Bias != nil {
		hw := ho * wo
		for i := 0; i < n; i++ {
			for ch := 0; ch < c.Out; ch++ {
				b := c.Bias.W[ch]
				for j := range y.Data[(i*c.Out+ch)*hw : (i*c.Out+ch+1)*hw] {
					y.Data[(i*c.Out+ch)*hw+j] += b
				}
			}
		}
	}
	return y
}

// Backward implements Layer.
func (c *ConvTranspose2d[T]) Backward(dy Tensor[T]) Tensor[T] {
	g := c.g
	n, L := g.n, g.ho*g.wo
	kd := c.Out * c.K * c.K
	col := c.col[:kd*n*L]
	xcn := c.xcn[:c.In*n*L]
	im2col(g, dy.Data, col)
	gemm(false, true, c.In, kd, n*L, 1, xcn, n*L, col, n*L, 0, c.Weight.G, kd)
	if c.Bias != nil {
		channelSums(n, c.Out, g.h*g.w, dy.Data, c.Bias.G)
	}
	dxcn := ensure(&c.xcn, c.In, n*L).Data // xcn no longer needed
	gemm(false, false, c.In, n*L, kd, 1, c.Weight.W, kd, col, n*L, 0, dxcn, n*L)
	dx := ensure(&c.dxBuf, n, c.In, g.ho, g.wo)
	cnToNC(n, c.In, L, dxcn, dx.Data, nil)
	return dx
}
