package trainer

import (
	"fmt"
	"math"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// ReLU is max(x, 0); its gradient at 0 is 0, as PyTorch's.
type ReLU[T Float] struct {
	// InPlace overwrites the input with the output, and the incoming
	// gradient with the outgoing one (PyTorch's inplace=True), saving two
	// activation-sized buffers. The model builders set it after a BatchNorm
	// or a residual sum, whose outputs nothing else reads.
	InPlace bool
	y, dx   []T
	out     []T // the last Forward's output
	// pooled: the last forward pass was fused into the BatchNorm before and
	// the max pool after (BatchNorm.forwardReLUPool); the pool's Backward
	// applies this layer's gradient mask, so Backward passes dy through.
	pooled bool
}

// NewReLU returns a ReLU layer.
func NewReLU[T Float]() *ReLU[T] { return &ReLU[T]{} }

func newReLUInPlace[T Float]() *ReLU[T] { return &ReLU[T]{InPlace: true} }

// Kind implements Layer.
func (r *ReLU[T]) Kind() string { return "relu" }

// Params implements Layer.
func (r *ReLU[T]) Params() []*Param[T] { return nil }

// Forward implements Layer.
func (r *ReLU[T]) Forward(x Tensor[T]) Tensor[T] {
	r.pooled = false
	y := x
	if !r.InPlace {
		y = ensure(&r.y, x.Shape...)
	}
	r.out = y.Data[:x.Len()]
	if x32, ok := f32(x.Data); ok {
		kern.ReLU(as32(y.Data), x32[:len(y.Data)])
		return y
	}
	n := len(y.Data)
	parallelFor(n, 1<<15, func(lo, hi int) {
		src, dst := x.Data[lo:hi], y.Data[lo:hi]
		for i, v := range src {
			dst[i] = max(v, 0)
		}
	})
	return y
}

// Backward implements Layer.
func (r *ReLU[T]) Backward(dy Tensor[T]) Tensor[T] {
	if r.pooled {
		return dy // masked by MaxPool2d.Backward already
	}
	dx := dy
	if !r.InPlace {
		dx = ensure(&r.dx, dy.Shape...)
	}
	y := r.out[:len(dx.Data)]
	if dy32, ok := f32(dy.Data); ok {
		kern.ReLUGrad(as32(dx.Data), dy32[:len(dx.Data)], as32(y))
		return dx
	}
	parallelFor(len(dx.Data), 1<<15, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if y[i] > 0 {
				dx.Data[i] = dy.Data[i]
			} else {
				dx.Data[i] = 0
			}
		}
	})
	return dx
}

// MaxPool2d takes the maximum over non-overlapping 2×2 windows (kernel 2,
// stride 2, odd edges dropped), as nn.MaxPool2d(2). The gradient goes to the
// first maximum of each window in row-major order.
type MaxPool2d[T Float] struct {
	arg    []int32
	arg8   []uint8
	y, dx  []T
	xshape []int
	out    []float32 // the last Forward's output on the kern path, else nil
	// fusedReLU: the last forward pass was BatchNorm.forwardReLUPool, so
	// Backward applies the (unwritten) ReLU's mask as backwardReLU does.
	fusedReLU bool
}

// NewMaxPool2d returns a 2×2 max pool.
func NewMaxPool2d[T Float]() *MaxPool2d[T] { return &MaxPool2d[T]{} }

// Kind implements Layer.
func (p *MaxPool2d[T]) Kind() string { return "maxpool" }

// Params implements Layer.
func (p *MaxPool2d[T]) Params() []*Param[T] { return nil }

// Forward implements Layer.
func (p *MaxPool2d[T]) Forward(x Tensor[T]) Tensor[T] {
	mustRank("MaxPool2d", x, 4)
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	ho, wo := h/2, w/2
	p.xshape = append(p.xshape[:0], x.Shape...)
	y := ensure(&p.y, n, c, ho, wo)
	if x32, ok := f32(x.Data); ok {
		if cap(p.arg8) < len(y.Data) {
			p.arg8 = make([]uint8, len(y.Data))
		}
		kern.MaxPool2(as32(y.Data), p.arg8[:len(y.Data)], x32, n, c, h, w)
		p.out, p.fusedReLU = as32(y.Data), false
		return y
	}
	p.out, p.fusedReLU = nil, false
	if cap(p.arg) < len(y.Data) {
		p.arg = make([]int32, len(y.Data))
	}
	arg := p.arg[:len(y.Data)]
	parallelFor(n*c, grainFor(h*w), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x.Data[pl*h*w : (pl+1)*h*w]
			o := pl * ho * wo
			for i := 0; i < ho; i++ {
				r0 := src[2*i*w : 2*i*w+w]
				r1 := src[(2*i+1)*w : (2*i+1)*w+w]
				for j := 0; j < wo; j++ {
					best, at := r0[2*j], (2*i)*w+2*j
					if v := r0[2*j+1]; v > best {
						best, at = v, 2*i*w+2*j+1
					}
					if v := r1[2*j]; v > best {
						best, at = v, (2*i+1)*w+2*j
					}
					if v := r1[2*j+1]; v > best {
						best, at = v, (2*i+1)*w+2*j+1
					}
					y.Data[o+i*wo+j] = best
					arg[o+i*wo+j] = int32(at)
				}
			}
		}
	})
	return y
}

// Backward implements Layer.
func (p *MaxPool2d[T]) Backward(dy Tensor[T]) Tensor[T] {
	dx := ensure(&p.dx, p.xshape...)
	n, c, h, w := p.xshape[0], p.xshape[1], p.xshape[2], p.xshape[3]
	ho, wo := h/2, w/2
	if dy32, ok := f32(dy.Data); ok {
		m := n * c * ho * wo
		if p.fusedReLU {
			// The forward pass was fused with the ReLU before: apply its
			// mask here (its input was never written out).
			kern.MaxPool2BackwardReLU(as32(dx.Data), dy32, p.out[:m], p.arg8[:m], n, c, h, w)
			return dx
		}
		kern.MaxPool2Backward(as32(dx.Data), dy32, p.arg8[:m], n, c, h, w)
		return dx
	}
	parallelFor(n*c, grainFor(h*w), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			d := dx.Data[pl*h*w : (pl+1)*h*w]
			clear(d)
			for o := pl * ho * wo; o < (pl+1)*ho*wo; o++ {
				d[p.arg[o]] += dy.Data[o]
			}
		}
	})
	return dx
}

// backwardReLU is r.Backward(p.Backward(dy)) for the in-place ReLU r
// whose output was this pool's input, in one pass (bit-identical); ok is
// false, and nothing done, when the last Forward did not take the kern
// path.
func (p *MaxPool2d[T]) backwardReLU(dy Tensor[T], r *ReLU[T]) (Tensor[T], bool) {
	dy32, ok := f32(dy.Data)
	if !ok || p.out == nil || !r.InPlace {
		return Tensor[T]{}, false
	}
	n, c, h, w := p.xshape[0], p.xshape[1], p.xshape[2], p.xshape[3]
	m := n * c * (h / 2) * (w / 2)
	dx := ensure(&p.dx, p.xshape...)
	kern.MaxPool2BackwardReLU(as32(dx.Data), dy32, p.out[:m], p.arg8[:m], n, c, h, w)
	return dx, true
}

// GlobalAvgPool averages each channel: [N, C, H, W] → [N, C]
// (nn.AdaptiveAvgPool2d(1) followed by Flatten).
type GlobalAvgPool[T Float] struct {
	xshape []int
	y, dx  []T
}

// NewGlobalAvgPool returns a global average pool.
func NewGlobalAvgPool[T Float]() *GlobalAvgPool[T] { return &GlobalAvgPool[T]{} }

// Kind implements Layer.
func (p *GlobalAvgPool[T]) Kind() string { return "avgpool" }

// Params implements Layer.
func (p *GlobalAvgPool[T]) Params() []*Param[T] { return nil }

// Forward implements Layer.
func (p *GlobalAvgPool[T]) Forward(x Tensor[T]) Tensor[T] {
	mustRank("GlobalAvgPool", x, 4)
	n, c, L := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	p.xshape = append(p.xshape[:0], x.Shape...)
	y := ensure(&p.y, n, c)
	if x32, ok := f32(x.Data); ok {
		kern.GlobalAvgPool(as32(y.Data), x32, n, c, L)
		return y
	}
	for i := 0; i < n*c; i++ {
		var s float64
		for _, v := range x.Data[i*L : (i+1)*L] {
			s += float64(v)
		}
		y.Data[i] = T(s / float64(L))
	}
	return y
}

// Backward implements Layer.
func (p *GlobalAvgPool[T]) Backward(dy Tensor[T]) Tensor[T] {
	dx := ensure(&p.dx, p.xshape...)
	L := p.xshape[2] * p.xshape[3]
	if dy32, ok := f32(dy.Data); ok {
		kern.GlobalAvgPoolBackward(as32(dx.Data), dy32, p.xshape[0], p.xshape[1], L)
		return dx
	}
	inv := 1 / T(L)
	for i, g := range dy.Data[:p.xshape[0]*p.xshape[1]] {
		v := g * inv
		d := dx.Data[i*L : (i+1)*L]
		for j := range d {
			d[j] = v
		}
	}
	return dx
}

// Upsample2x repeats each pixel into a 2×2 block (nn.Upsample(scale_factor=2,
// mode="nearest")).
type Upsample2x[T Float] struct {
	xshape []int
	y, dx  []T
}

// NewUpsample2x returns a nearest-neighbour ×2 upsampler.
func NewUpsample2x[T Float]() *Upsample2x[T] { return &Upsample2x[T]{} }

// Kind implements Layer.
func (u *Upsample2x[T]) Kind() string { return "upsample" }

// Params implements Layer.
func (u *Upsample2x[T]) Params() []*Param[T] { return nil }

// Forward implements Layer.
func (u *Upsample2x[T]) Forward(x Tensor[T]) Tensor[T] {
	mustRank("Upsample2x", x, 4)
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	u.xshape = append(u.xshape[:0], x.Shape...)
	y := ensure(&u.y, n, c, 2*h, 2*w)
	parallelFor(n*c, grainFor(4*h*w), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := x.Data[pl*h*w : (pl+1)*h*w]
			dst := y.Data[pl*4*h*w : (pl+1)*4*h*w]
			for i := 0; i < h; i++ {
				r := dst[2*i*2*w : (2*i+1)*2*w]
				for j, v := range src[i*w : (i+1)*w] {
					r[2*j], r[2*j+1] = v, v
				}
				copy(dst[(2*i+1)*2*w:(2*i+2)*2*w], r)
			}
		}
	})
	return y
}

// Backward implements Layer.
func (u *Upsample2x[T]) Backward(dy Tensor[T]) Tensor[T] {
	dx := ensure(&u.dx, u.xshape...)
	n, c, h, w := u.xshape[0], u.xshape[1], u.xshape[2], u.xshape[3]
	parallelFor(n*c, grainFor(4*h*w), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			src := dy.Data[pl*4*h*w : (pl+1)*4*h*w]
			dst := dx.Data[pl*h*w : (pl+1)*h*w]
			for i := 0; i < h; i++ {
				r0 := src[2*i*2*w : (2*i+1)*2*w]
				r1 := src[(2*i+1)*2*w : (2*i+2)*2*w]
				for j := 0; j < w; j++ {
					dst[i*w+j] = (r0[2*j] + r0[2*j+1]) + (r1[2*j] + r1[2*j+1])
				}
			}
		}
	})
	return dx
}

// Linear is y = x·Wᵀ + b on [N, in] batches (nn.Linear); Weight is
// [out, in].
type Linear[T Float] struct {
	In, Out      int
	Weight, Bias *Param[T]

	x        Tensor[T]
	y, dxBuf []T
	xshape   []int
}

// NewLinear initialises as PyTorch: weight and bias U(−1/√in, 1/√in).
func NewLinear[T Float](name string, in, out int, bias bool, r *RNG) *Linear[T] {
	l := &Linear[T]{In: in, Out: out}
	l.Weight = newParam[T](name+".weight", false, out, in)
	bound := 1 / math.Sqrt(float64(in))
	fillUniform(r, l.Weight.W, bound)
	if bias {
		l.Bias = newParam[T](name+".bias", true, out)
		fillUniform(r, l.Bias.W, bound)
	}
	return l
}

// Kind implements Layer.
func (l *Linear[T]) Kind() string { return "linear" }

// Params implements Layer.
func (l *Linear[T]) Params() []*Param[T] {
	if l.Bias != nil {
		return []*Param[T]{l.Weight, l.Bias}
	}
	return []*Param[T]{l.Weight}
}

// Forward implements Layer. The input is kept (not copied) for Backward.
func (l *Linear[T]) Forward(x Tensor[T]) Tensor[T] {
	if len(x.Shape) != 2 || x.Shape[1] != l.In {
		panic(fmt.Sprintf("trainer: Linear(%d→%d): bad input shape %v", l.In, l.Out, x.Shape))
	}
	n := x.Shape[0]
	l.x = x
	y := ensure(&l.y, n, l.Out)
	if l.Bias != nil {
		for i := 0; i < n; i++ {
			copy(y.Data[i*l.Out:(i+1)*l.Out], l.Bias.W)
		}
		gemm(false, true, n, l.Out, l.In, 1, x.Data, l.In, l.Weight.W, l.In, 1, y.Data, l.Out)
	} else {
		gemm(false, true, n, l.Out, l.In, 1, x.Data, l.In, l.Weight.W, l.In, 0, y.Data, l.Out)
	}
	return y
}

// Backward implements Layer.
func (l *Linear[T]) Backward(dy Tensor[T]) Tensor[T] {
	n := l.x.Shape[0]
	gemm(true, false, l.Out, l.In, n, 1, dy.Data, l.Out, l.x.Data, l.In, 0, l.Weight.G, l.In)
	if l.Bias != nil {
		for j := range l.Bias.G {
			var s float64
			for i := 0; i < n; i++ {
				s += float64(dy.Data[i*l.Out+j])
			}
			l.Bias.G[j] = T(s)
		}
	}
	dx := ensure(&l.dxBuf, n, l.In)
	gemm(false, false, n, l.In, l.Out, 1, dy.Data, l.Out, l.Weight.W, l.In, 0, dx.Data, l.In)
	return dx
}
