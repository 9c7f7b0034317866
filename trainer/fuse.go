package trainer

import "time"

// fuseLayers lets Sequential run adjacent layers as one pass over memory
// where kern has a kernel for the group, bit-identical to running them in
// turn: BatchNorm, in-place ReLU and MaxPool2d (forward, writing only the
// pooled output), BatchNorm and in-place ReLU (forward), and in-place ReLU
// then MaxPool2d (backward: the pool's gradient masked by the ReLU's, from
// the pooled output), and convolution then BatchNorm (backward: the
// BatchNorm's input gradient computed row by row where the convolution
// reads it, never written out). When false (tests compare both) every layer
// runs on its own. A Profile books a fused group's time under "bn" forward,
// "maxpool" for the ReLU and pool backward, "bn" and "conv" for the
// BatchNorm's reduction and the rest of the convolution-BatchNorm backward.
// (After a forward pass that fused a max pool, the ReLU's output was never
// written: the pool's Backward applies the ReLU's mask and the ReLU's
// Backward passes the gradient through, so the layers' own Backward calls
// stay correct too.)
var fuseLayers = true

// fusedForward runs ls[i] and the layers after it as one pass when they
// form a fused group and the kern path applies, and returns how many layers
// after ls[i] it ran too (0: it did nothing). The time goes to ls[i]'s
// kind ("bn").
func fusedForward[T Float](p *Profile, ls []Layer[T], i int, x Tensor[T]) (Tensor[T], int) {
	if !fuseLayers || i+1 >= len(ls) {
		return Tensor[T]{}, 0
	}
	bn, ok1 := ls[i].(*BatchNorm[T])
	r, ok2 := ls[i+1].(*ReLU[T])
	if !ok1 || !ok2 {
		return Tensor[T]{}, 0
	}
	t0 := time.Now()
	var y Tensor[T]
	var ok bool
	skip := 1
	if i+2 < len(ls) {
		if mp, isPool := ls[i+2].(*MaxPool2d[T]); isPool {
			y, ok = bn.forwardReLUPool(x, r, mp)
			skip = 2
		}
	}
	if !ok {
		y, ok = bn.forwardReLU(x, r)
		skip = 1
	}
	if !ok {
		return Tensor[T]{}, 0
	}
	if p != nil {
		p.Forward[bn.Kind()] += time.Since(t0)
	}
	return y, skip
}

// fusedBackward runs the gradients of ls[i] and ls[i-1] as one when they
// form a fused pair and the kern path applies, reporting whether it did:
// in-place ReLU then MaxPool2d (the time goes to "maxpool"), and
// convolution then BatchNorm (the BatchNorm's reduction is booked to "bn",
// the convolution, which computes the BatchNorm's input gradient row by row
// as it reads it, to "conv").
func fusedBackward[T Float](p *Profile, ls []Layer[T], i int, dy Tensor[T]) (Tensor[T], bool) {
	if i < 1 {
		return Tensor[T]{}, false
	}
	if bn, ok := ls[i].(*BatchNorm[T]); ok && fuseLayers {
		conv, ok := ls[i-1].(*Conv2d[T])
		if !ok || !conv.canBackwardBN() {
			return Tensor[T]{}, false
		}
		t0 := time.Now()
		g, ok := bn.backwardCoeffs(dy)
		if !ok {
			return Tensor[T]{}, false
		}
		t1 := time.Now()
		dx := conv.backwardBN(g)
		if p != nil {
			p.Backward[bn.Kind()] += t1.Sub(t0)
			p.Backward[conv.Kind()] += time.Since(t1)
		}
		return dx, true
	}
	mp, ok1 := ls[i].(*MaxPool2d[T])
	r, ok2 := ls[i-1].(*ReLU[T])
	if !ok1 || !ok2 || !fuseLayers {
		return Tensor[T]{}, false
	}
	t0 := time.Now()
	dx, ok := mp.backwardReLU(dy, r)
	if ok && p != nil {
		p.Backward[mp.Kind()] += time.Since(t0)
	}
	return dx, ok
}
