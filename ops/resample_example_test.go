package ops_test

import (
	"fmt"

	"github.com/pairflow/pairflow/ops"
)

// Halving a row of three-pixel black and white stripes with each filter:
// both average each edge pair to mid-grey; Lanczos-3's negative lobes keep
// the stripes' full contrast (0 and 255) where the bilinear triangle
// blurs them to 32 and 223.
func ExampleResampleFilter() {
	src := ops.NewImage(12, 1, 1)
	copy(src.Pix, []uint8{0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255})
	var s ops.Scratch
	var dst ops.Image
	for _, f := range []ops.Filter{ops.Bilinear, ops.Lanczos3} {
		if err := ops.ResampleFilter(&s, &dst, src, 6, 1, f); err != nil {
			panic(err)
		}
		fmt.Println(f, dst.Pix)
	}
	// Output:
	// bilinear [0 128 223 32 128 255]
	// lanczos3 [0 129 255 0 126 255]
}
