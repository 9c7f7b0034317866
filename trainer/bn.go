package trainer

import (
	"fmt"
	"math"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// BatchNorm normalises each channel of an [N, C, H, W] batch (BatchNorm2d)
// or of an [N, C] batch (BatchNorm1d) as PyTorch does: in training, with the
// batch mean and biased variance, updating running statistics with
// momentum 0.1 and the unbiased variance; in evaluation, with the running
// statistics. Statistics are accumulated in float64.
type BatchNorm[T Float] struct {
	C        int
	Eps      float64 // 1e-5
	Momentum float64 // 0.1
	Weight   *Param[T]
	Bias     *Param[T]
	// RunningMean and RunningVar start at 0 and 1; Tracked counts training
	// batches (PyTorch's num_batches_tracked).
	RunningMean, RunningVar *Buffer[T]
	Tracked                 int64
	Train                   bool

	n, L       int
	invStd     []float64
	xhat, yBuf []T
	dxBuf      []T
	x          Tensor[T] // input of the last Forward (kern path)
	mean, vr   []float32 // batch statistics (kern path)
	kernPath   bool
	grad       kern.BatchNormGrad // the last backwardCoeffs
	// gradInOut: Backward writes the input gradient into the output's
	// buffer, for a layer whose output its consumer has used up in the
	// forward pass (a shortcut's BatchNorm, added into the main path).
	gradInOut bool
	// ySlot, when set, holds the output (and with gradInOut the input
	// gradient) instead of yBuf: a buffer the model builder shares between
	// layers that use it up before the next one writes it.
	ySlot *[]T
}

// yStore is where Forward writes the output (outside the ReLU fusions,
// which write yBuf).
func (b *BatchNorm[T]) yStore() *[]T {
	if b.ySlot != nil {
		return b.ySlot
	}
	return &b.yBuf
}

// NewBatchNorm makes a BatchNorm layer over c channels in training mode,
// weight 1 and bias 0.
func NewBatchNorm[T Float](name string, c int) *BatchNorm[T] {
	b := &BatchNorm[T]{C: c, Eps: 1e-5, Momentum: 0.1, Train: true}
	b.Weight = newParam[T](name+".weight", true, c)
	b.Bias = newParam[T](name+".bias", true, c)
	for i := range b.Weight.W {
		b.Weight.W[i] = 1
	}
	b.RunningMean = &Buffer[T]{Name: name + ".running_mean", Shape: []int{c}, Data: make([]T, c)}
	b.RunningVar = &Buffer[T]{Name: name + ".running_var", Shape: []int{c}, Data: make([]T, c)}
	for i := range b.RunningVar.Data {
		b.RunningVar.Data[i] = 1
	}
	b.invStd = make([]float64, c)
	return b
}

// Kind implements Layer.
func (b *BatchNorm[T]) Kind() string { return "bn" }

// Params implements Layer.
func (b *BatchNorm[T]) Params() []*Param[T] { return []*Param[T]{b.Weight, b.Bias} }

// Buffers implements Stateful.
func (b *BatchNorm[T]) Buffers() []*Buffer[T] { return []*Buffer[T]{b.RunningMean, b.RunningVar} }

// SetTraining implements Trainable.
func (b *BatchNorm[T]) SetTraining(train bool) { b.Train = train }

// Forward implements Layer.
func (b *BatchNorm[T]) Forward(x Tensor[T]) Tensor[T] {
	if (len(x.Shape) != 2 && len(x.Shape) != 4) || x.Shape[1] != b.C {
		panic(fmt.Sprintf("trainer: BatchNorm(%d): bad input shape %v", b.C, x.Shape))
	}
	n, c := x.Shape[0], b.C
	L := 1
	if len(x.Shape) == 4 {
		L = x.Shape[2] * x.Shape[3]
	}
	b.n, b.L = n, L
	m := n * L
	if b.Train && m < 2 {
		panic("trainer: BatchNorm: training needs more than one value per channel")
	}
	y := ensure(b.yStore(), x.Shape...)
	if b.Train {
		b.Tracked++
	}
	b.kernPath = false
	if x32, ok := f32(x.Data); ok && b.Train {
		b.forwardKern(x, x32, y, false)
		return y
	}
	xhat := ensure(&b.xhat, x.Shape...).Data
	parallelFor(c, grainFor(2*m), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var mean, vr float64
			if b.Train {
				var s float64
				for i := 0; i < n; i++ {
					for _, v := range x.Data[(i*c+ch)*L : (i*c+ch+1)*L] {
						s += float64(v)
					}
				}
				mean = s / float64(m)
				var q float64
				for i := 0; i < n; i++ {
					for _, v := range x.Data[(i*c+ch)*L : (i*c+ch+1)*L] {
						d := float64(v) - mean
						q += d * d
					}
				}
				vr = q / float64(m)
				mo := b.Momentum
				b.RunningMean.Data[ch] = T((1-mo)*float64(b.RunningMean.Data[ch]) + mo*mean)
				b.RunningVar.Data[ch] = T((1-mo)*float64(b.RunningVar.Data[ch]) + mo*vr*float64(m)/float64(m-1))
			} else {
				mean = float64(b.RunningMean.Data[ch])
				vr = float64(b.RunningVar.Data[ch])
			}
			is := 1 / math.Sqrt(vr+b.Eps)
			b.invStd[ch] = is
			tm, ts := T(mean), T(is)
			gw, gb := b.Weight.W[ch], b.Bias.W[ch]
			for i := 0; i < n; i++ {
				o := (i*c + ch) * L
				xs, hs, ys := x.Data[o:o+L], xhat[o:o+L], y.Data[o:o+L]
				for j, v := range xs {
					h := (v - tm) * ts
					hs[j] = h
					ys[j] = h*gw + gb
				}
			}
		}
	})
	return y
}

// forwardKern is Forward's float32 training path on kern's kernels (the
// caller has checked the shape, set n and L and counted the batch), with
// the ReLU that follows fused in when relu is set.
func (b *BatchNorm[T]) forwardKern(x Tensor[T], x32 []float32, y Tensor[T], relu bool) {
	n, c, L := b.n, b.C, b.L
	mean, vr := b.statsKern(x32)
	if relu {
		kern.BatchNormForwardReLU(as32(y.Data), x32, mean, vr, as32(b.Weight.W), as32(b.Bias.W), float32(b.Eps), n, c, L)
	} else {
		kern.BatchNormForward(as32(y.Data), x32, mean, vr, as32(b.Weight.W), as32(b.Bias.W), float32(b.Eps), n, c, L)
	}
	b.x, b.kernPath = x, true
}

// statsKern computes the batch statistics of x (kern path) into b.mean and
// b.vr and updates the running statistics.
func (b *BatchNorm[T]) statsKern(x32 []float32) (mean, vr []float32) {
	n, c, L := b.n, b.C, b.L
	m := n * L
	if cap(b.mean) < c {
		b.mean, b.vr = make([]float32, c), make([]float32, c)
	}
	mean, vr = b.mean[:c], b.vr[:c]
	kern.BatchNormStats(mean, vr, x32, n, c, L)
	mo := b.Momentum
	for ch := 0; ch < c; ch++ {
		b.RunningMean.Data[ch] = T((1-mo)*float64(b.RunningMean.Data[ch]) + mo*float64(mean[ch]))
		b.RunningVar.Data[ch] = T((1-mo)*float64(b.RunningVar.Data[ch]) + mo*float64(vr[ch])*float64(m)/float64(m-1))
	}
	return mean, vr
}

// forwardReLUPool is Forward, r.Forward (an in-place ReLU) and p.Forward
// in one pass that writes only the pooled output: the same values and
// window indices as the three calls, without the full-size normalised
// tensor (nothing reads it: BatchNorm's gradient needs its input, and the
// ReLU's and pool's gradients run fused from the pooled output, see
// MaxPool2d.backwardReLU). ok is false, and nothing done, off the kern
// training path.
func (b *BatchNorm[T]) forwardReLUPool(x Tensor[T], r *ReLU[T], p *MaxPool2d[T]) (y Tensor[T], ok bool) {
	x32, ok := f32(x.Data)
	if !ok || !b.Train || !r.InPlace || len(x.Shape) != 4 || x.Shape[1] != b.C {
		return Tensor[T]{}, false
	}
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	if n*h*w < 2 {
		return Tensor[T]{}, false // Forward panics with its message
	}
	b.n, b.L = n, h*w
	b.Tracked++
	mean, vr := b.statsKern(x32)
	b.x, b.kernPath = x, true
	y = ensure(&p.y, n, c, h/2, w/2)
	if cap(p.arg8) < len(y.Data) {
		p.arg8 = make([]uint8, len(y.Data))
	}
	kern.BatchNormReLUMaxPool2(as32(y.Data), p.arg8[:len(y.Data)], x32, mean, vr, as32(b.Weight.W), as32(b.Bias.W), float32(b.Eps), n, c, h, w)
	p.xshape = append(p.xshape[:0], x.Shape...)
	p.out, p.fusedReLU = as32(y.Data), true
	r.out, r.pooled = nil, true // never materialised; see ReLU.pooled
	return y, true
}

// forwardReLU is Forward followed by r.Forward (an in-place ReLU) in one
// pass over the output, bit-identical to the two calls; ok is false, and
// nothing done, where BatchNorm would not take its kern training path.
func (b *BatchNorm[T]) forwardReLU(x Tensor[T], r *ReLU[T]) (y Tensor[T], ok bool) {
	x32, ok := f32(x.Data)
	if !ok || !b.Train || !r.InPlace || len(x.Shape) != 4 || x.Shape[1] != b.C {
		return Tensor[T]{}, false
	}
	n, L := x.Shape[0], x.Shape[2]*x.Shape[3]
	if n*L < 2 {
		return Tensor[T]{}, false // Forward panics with its message
	}
	b.n, b.L = n, L
	y = ensure(&b.yBuf, x.Shape...)
	b.Tracked++
	b.forwardKern(x, x32, y, true)
	r.out = y.Data[:y.Len()]
	return y, true
}

// backwardCoeffs is the first half of Backward on the kern path: it sets
// the parameter gradients and leaves the input gradient unwritten, as
// b.grad (see kern.BatchNormGrad), for the convolution before to compute
// where it reads it. ok is false, and nothing done, off the kern path.
func (b *BatchNorm[T]) backwardCoeffs(dy Tensor[T]) (*kern.BatchNormGrad, bool) {
	if !b.kernPath {
		return nil, false
	}
	dy32, ok := f32(dy.Data)
	if !ok {
		return nil, false
	}
	n, c, L := b.n, b.C, b.L
	x32 := as32(b.x.Data)
	kern.BatchNormBackwardCoeffs(&b.grad, as32(b.Weight.G), as32(b.Bias.G), dy32, x32,
		b.mean[:c], b.vr[:c], as32(b.Weight.W), float32(b.Eps), n, c, L)
	// Where the convolution needs the gradient written out whole
	// (Winograd), it goes over this layer's input, the convolution's
	// output, which nothing reads after this backward pass: no
	// output-sized scratch per layer (resnet18, 512 views: 128 MiB).
	b.grad.Into = x32[:n*c*L]
	return &b.grad, true
}

// Backward implements Layer. In training mode the gradient flows through the
// batch statistics; in evaluation mode the layer is an affine map.
func (b *BatchNorm[T]) Backward(dy Tensor[T]) Tensor[T] {
	n, c, L := b.n, b.C, b.L
	dxBuf := &b.dxBuf
	if b.gradInOut {
		dxBuf = b.yStore()
	}
	if b.kernPath {
		dx := ensure(dxBuf, dy.Shape...)
		kern.BatchNormBackward(as32(dx.Data), as32(b.Weight.G), as32(b.Bias.G), as32(dy.Data), as32(b.x.Data),
			b.mean[:c], b.vr[:c], as32(b.Weight.W), float32(b.Eps), n, c, L)
		return dx
	}
	m := float64(n * L)
	xhat := b.xhat[:len(dy.Data)]
	dx := ensure(dxBuf, dy.Shape...)
	parallelFor(c, grainFor(2*n*L), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var sg, sb float64
			for i := 0; i < n; i++ {
				o := (i*c + ch) * L
				hs := xhat[o : o+L]
				for j, g := range dy.Data[o : o+L] {
					sb += float64(g)
					sg += float64(g) * float64(hs[j])
				}
			}
			b.Weight.G[ch] = T(sg)
			b.Bias.G[ch] = T(sb)
			k := float64(b.Weight.W[ch]) * b.invStd[ch]
			tk := T(k)
			if !b.Train {
				for i := 0; i < n; i++ {
					o := (i*c + ch) * L
					for j, g := range dy.Data[o : o+L] {
						dx.Data[o+j] = g * tk
					}
				}
				continue
			}
			mb, mg := T(sb/m), T(sg/m)
			for i := 0; i < n; i++ {
				o := (i*c + ch) * L
				hs := xhat[o : o+L]
				for j, g := range dy.Data[o : o+L] {
					dx.Data[o+j] = tk * (g - mb - hs[j]*mg)
				}
			}
		}
	})
	return dx
}
