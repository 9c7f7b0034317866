package trainer

import "github.com/pairflow/pairflow/trainer/internal/kern"

// Walk calls fn on l and on every layer inside it, depth first in forward
// order.
func Walk[T Float](l Layer[T], fn func(Layer[T])) {
	fn(l)
	switch v := l.(type) {
	case *Encoder[T]:
		for _, c := range v.Layers {
			Walk(c, fn)
		}
	case *Sequential[T]:
		for _, c := range v.Layers {
			Walk(c, fn)
		}
	case *BasicBlock[T]:
		Walk[T](v.main, fn)
		if v.Down != nil {
			Walk[T](v.Down, fn)
			Walk[T](v.DownBN, fn)
		}
		Walk[T](v.Relu2, fn)
	}
}

// ForwardFLOPs counts 2·multiply-adds of the convolutions and linear layers
// in l during its last Forward call (as train_bench.py counts them).
func ForwardFLOPs[T Float](l Layer[T]) int64 {
	var f int64
	Walk(l, func(c Layer[T]) {
		switch v := c.(type) {
		case *Conv2d[T]:
			f += 2 * int64(v.g.n*v.g.ho*v.g.wo) * int64(v.Out*v.In*v.K*v.K)
		case *ConvTranspose2d[T]:
			f += 2 * int64(v.g.n*v.g.ho*v.g.wo) * int64(v.Out*v.In*v.K*v.K)
		case *Linear[T]:
			if len(v.x.Shape) == 2 {
				f += 2 * int64(v.x.Shape[0]) * int64(v.In*v.Out)
			}
		}
	})
	return f
}

// SetThreads bounds the goroutines the matrix kernels use and returns the
// previous bound; results do not depend on it. Other parallel loops follow
// GOMAXPROCS.
func SetThreads(n int) int { return kern.SetThreads(n) }
