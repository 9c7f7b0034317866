package ops

import "fmt"

// Filter selects Resample's reconstruction filter.
type Filter uint8

const (
	// Bilinear is torchvision's antialiased bilinear (a triangle filter
	// whose support widens with the downscale factor), in integer
	// arithmetic that is bit-identical on every SIMD tier: the recipes'
	// resampler and the default.
	Bilinear Filter = iota
	// Lanczos3 is Pillow's antialiased Lanczos-3 (PIL's Image.resize with
	// LANCZOS) in 14-bit fixed point, sharper than Bilinear; the benchmark
	// photo set uses it to match PIL's output. It is plain Go on every
	// tier (no SIMD path) and allocates its weights and row buffer per
	// call, so it is for data preparation, not for the recipes' hot path.
	Lanczos3
)

// String returns the filter's name as ParseFilter reads it.
func (f Filter) String() string {
	switch f {
	case Bilinear:
		return "bilinear"
	case Lanczos3:
		return "lanczos3"
	}
	return fmt.Sprintf("Filter(%d)", uint8(f))
}

// ParseFilter returns the filter named name ("bilinear" or "lanczos3").
func ParseFilter(name string) (Filter, error) {
	switch name {
	case "bilinear":
		return Bilinear, nil
	case "lanczos3":
		return Lanczos3, nil
	}
	return 0, fmt.Errorf("%w: resampling filter %q (want bilinear or lanczos3)", ErrParam, name)
}

// Resample resizes src to w×h into dst, reusing dst's buffer, with the
// Bilinear filter: it is ResampleFilter(s, dst, src, w, h, Bilinear).
func Resample(s *Scratch, dst, src *Image, w, h int) error {
	return ResampleFilter(s, dst, src, w, h, Bilinear)
}

// ResampleFilter resizes src to w×h into dst, reusing dst's buffer, with
// filter f. It is pairflow's one resampler: Resize and the crops in recipes
// (Bilinear), shardify's --max-side and its contact sheets, and the
// benchmark photo set (Lanczos3) all go through it. Both filters antialias
// when downscaling and give the same bytes on every machine and tier. s
// holds Bilinear's per-size plans and row buffers (one Scratch per
// goroutine; Lanczos3 does not use it). dst must not share pixels with src.
func ResampleFilter(s *Scratch, dst, src *Image, w, h int, f Filter) error {
	if err := geoCheck(src); err != nil {
		return err
	}
	if w < 1 || h < 1 || w > MaxSide || h > MaxSide {
		return fmt.Errorf("%w: size %dx%d outside [1, %d]", ErrParam, w, h, MaxSide)
	}
	if f > Lanczos3 {
		return fmt.Errorf("%w: unknown resampling filter %d", ErrParam, uint8(f))
	}
	dst.Reshape(w, h, src.C)
	if f == Lanczos3 {
		resampleLanczos3(dst, src)
		return nil
	}
	resizeInto(s, dst, src)
	return nil
}
