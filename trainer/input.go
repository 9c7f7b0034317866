package trainer

import "fmt"

// ViewBatch is a batch of N source images in two augmented views, as the
// pipeline's Arrow fixed-shape tensor columns deliver them: either uint8
// H×W×C images (U8) or float32 C×H×W images (F32), N images back to back per
// view. The trainer reads these slices directly; the only copy is the one
// into the first layer's [2N, C, H, W] input (with the uint8 → float
// conversion), views of image i at rows i and N+i.
type ViewBatch struct {
	N, C, H, W int
	U8         [2][]uint8
	F32        [2][]float32
	// Mean and Std (length C) normalise uint8 input: (v/255 − Mean)/Std.
	// Nil means 0 and 1. They are not applied to float32 input.
	Mean, Std []float32
}

// Into writes the 2N views into buf as an NCHW tensor.
func (b ViewBatch) Into(buf *[]float32) (Tensor[float32], error) {
	if b.N < 1 || b.C < 1 || b.H < 1 || b.W < 1 {
		return Tensor[float32]{}, fmt.Errorf("trainer: view batch %d×%d×%d×%d: %w", b.N, b.C, b.H, b.W, ErrShape)
	}
	per := b.C * b.H * b.W
	want := b.N * per
	x := ensure(buf, 2*b.N, b.C, b.H, b.W)
	switch {
	case b.U8[0] != nil:
		if len(b.U8[0]) != want || len(b.U8[1]) != want {
			return Tensor[float32]{}, fmt.Errorf("trainer: uint8 views of %d and %d bytes, want %d (N=%d H=%d W=%d C=%d): %w",
				len(b.U8[0]), len(b.U8[1]), want, b.N, b.H, b.W, b.C, ErrShape)
		}
		if (b.Mean != nil && len(b.Mean) != b.C) || (b.Std != nil && len(b.Std) != b.C) {
			return Tensor[float32]{}, fmt.Errorf("trainer: mean/std of length %d/%d for %d channels: %w", len(b.Mean), len(b.Std), b.C, ErrShape)
		}
		// Per channel: x = v·scale + shift with scale = 1/(255·std),
		// shift = −mean/std.
		scale, shift := make([]float32, b.C), make([]float32, b.C)
		for c := range scale {
			m, s := float32(0), float32(1)
			if b.Mean != nil {
				m = b.Mean[c]
			}
			if b.Std != nil {
				s = b.Std[c]
			}
			scale[c], shift[c] = 1/(255*s), -m/s
		}
		hw := b.H * b.W
		parallelFor(2*b.N, grainFor(per), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				src := b.U8[i/b.N][(i%b.N)*per : (i%b.N+1)*per]
				dst := x.Data[i*per : (i+1)*per]
				for c := 0; c < b.C; c++ {
					sc, sh := scale[c], shift[c]
					d := dst[c*hw : (c+1)*hw]
					for p := range d {
						d[p] = float32(src[p*b.C+c])*sc + sh
					}
				}
			}
		})
	case b.F32[0] != nil:
		if len(b.F32[0]) != want || len(b.F32[1]) != want {
			return Tensor[float32]{}, fmt.Errorf("trainer: float32 views of %d and %d values, want %d: %w", len(b.F32[0]), len(b.F32[1]), want, ErrShape)
		}
		copy(x.Data[:want], b.F32[0])
		copy(x.Data[want:], b.F32[1])
	default:
		return Tensor[float32]{}, fmt.Errorf("trainer: view batch has no data: %w", ErrShape)
	}
	return x, nil
}
