package ops_test

import (
	"fmt"

	"github.com/pairflow/pairflow/ops"
)

// A colour jitter decoded from its recipe JSON, applied to one view: the
// view's generator decides the factors and the order, and Params records
// them.
func ExampleColorJitter() {
	op, err := ops.Decode([]byte(`{"op":"color_jitter","brightness":0.4,"contrast":0.4,"saturation":0.4,"hue":0.1}`))
	if err != nil {
		panic(err)
	}
	img := ops.NewImage(2, 1, 3)
	copy(img.Pix, []uint8{200, 40, 40, 10, 120, 250})
	var s ops.Scratch
	var p ops.Params
	r := ops.NewRand(42, 0, 7, 0)
	out, err := op.Apply(&s, img, &r, &p)
	if err != nil {
		panic(err)
	}
	fmt.Printf("order %v brightness %.3f contrast %.3f saturation %.3f hue %.3f\n",
		p.JitterOrder, p.Brightness, p.Contrast, p.Saturation, p.Hue)
	fmt.Println(out.Pix)
	// Output:
	// order [2 3 1 0] brightness 0.922 contrast 1.016 saturation 0.737 hue -0.069
	// [156 45 91 27 173 194]
}
