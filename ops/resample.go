package ops

import "fmt"

// Resample resizes src to w×h into dst, reusing dst's buffer, with the
// resampler the recipes use: torchvision's antialiased bilinear (a triangle
// filter whose support widens with the downscale factor), in integer
// arithmetic that is bit-identical on every SIMD tier. It is pairflow's one
// resampler: Resize and the crops in recipes, shardify's --max-side and its
// contact sheets all go through it. s holds the per-size plans and row
// buffers (one Scratch per goroutine). dst must not share pixels with src.
func Resample(s *Scratch, dst, src *Image, w, h int) error {
	if err := geoCheck(src); err != nil {
		return err
	}
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return fmt.Errorf("%w: size %dx%d outside [1, %d]", ErrParam, w, h, MaxSide)
	}
	dst.Reshape(w, h, src.C)
	resizeInto(s, dst, src)
	return nil
}
