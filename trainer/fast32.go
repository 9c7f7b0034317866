package trainer

import (
	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// useKern routes the float32 layers to trainer/internal/kern's convolution
// and elementwise kernels. When false (tests compare both), float32 runs the
// same generic code as the float64 reference, with only its matrix products
// on kern's SGEMM.
var useKern = true

// f32 returns s as []float32 when T is float32 and the kern path is on.
func f32[T Float](s []T) ([]float32, bool) {
	if !useKern {
		return nil, false
	}
	v, ok := any(s).([]float32)
	return v, ok
}

// as32 is s as []float32; only called once f32 has said yes.
func as32[T Float](s []T) []float32 { return any(s).([]float32) }

func kernConvShape(g geom, out int) kern.ConvShape {
	return kern.ConvShape{N: g.n, Cin: g.c, H: g.h, W: g.w, Cout: out, KH: g.k, KW: g.k, StrideH: g.s, StrideW: g.s, PadH: g.p, PadW: g.p}
}
