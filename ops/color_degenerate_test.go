package ops

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestColorFilterOpsDegenerate runs every colour/filter op, decoded from
// JSON, on empty, 1x1, thin, gray and unaligned sub-images: no panic, the
// same bytes for the same seed, and the output shape each op promises.
func TestColorFilterOpsDegenerate(t *testing.T) {
	specs := []string{
		`{"op":"color_jitter","brightness":0.8,"contrast":0.8,"saturation":0.8,"hue":0.5}`,
		`{"op":"random_grayscale","p":1}`,
		`{"op":"grayscale","channels":1}`,
		`{"op":"grayscale","channels":3}`,
		`{"op":"gaussian_blur","kernel_size":23,"sigma":[0,2]}`,
		`{"op":"gaussian_blur","kernel_fraction":0.1,"sigma":0}`,
		`{"op":"random_erasing","p":1,"value":"random","holes":4}`,
		`{"op":"sobel","channels":3}`,
		`{"op":"sobel","channels":1}`,
		`{"op":"gaussian_noise","sigma":[0,0.2]}`,
		`{"op":"random_solarize","threshold":0,"p":1}`,
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for _, js := range specs {
		op, err := Decode([]byte(js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		for _, sz := range [][2]int{{0, 0}, {0, 5}, {1, 1}, {1, 9}, {9, 1}, {2, 2}, {31, 17}} {
			for _, c := range []int{1, 3} {
				src := cfRandImage(rng, sz[0], sz[1], c)
				var first []uint8
				for rep := 0; rep < 2; rep++ {
					_, sub := cfGuarded(src, 1)
					var s Scratch
					var p Params
					r := NewRand(9, 1, 2, 3)
					out, err := op.Apply(&s, &sub, &r, &p)
					if err != nil {
						t.Fatalf("%s %v C=%d: %v", js, sz, c, err)
					}
					if out.W != sz[0] || out.H != sz[1] {
						t.Fatalf("%s %v: output %dx%d", js, sz, out.W, out.H)
					}
					got := cfTight(out)
					if rep == 0 {
						first = got
					} else if !bytes.Equal(got, first) {
						t.Fatalf("%s %v C=%d: not deterministic", js, sz, c)
					}
				}
			}
		}
	}
	// Invalid images are errors, not panics.
	bad := &Image{W: 4, H: 4, C: 3, Stride: 12, Pix: make([]uint8, 10)}
	for _, js := range specs {
		op, _ := Decode([]byte(js))
		var s Scratch
		var p Params
		var r Rand
		if _, err := op.Apply(&s, bad, &r, &p); err == nil {
			t.Errorf("%s accepted a short Pix", js)
		}
	}
}
