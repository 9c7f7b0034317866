package ops

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzColorFilterDecode feeds arbitrary JSON to the decoders of the colour
// and filter ops: they must return an op or an error, never panic, and an op
// they accept must survive a Spec round trip and run on a small image.
func FuzzColorFilterDecode(f *testing.F) {
	for _, s := range []string{
		`{"op":"color_jitter","brightness":0.8,"contrast":[0.2,1.8],"saturation":0,"hue":0.5}`,
		`{"op":"random_grayscale","p":0.2}`,
		`{"op":"grayscale","channels":3}`,
		`{"op":"gaussian_blur","kernel_size":23,"sigma":[0.1,2.0]}`,
		`{"op":"gaussian_blur","kernel_fraction":0.1,"sigma":1e308}`,
		`{"op":"random_erasing","p":1,"value":"random","holes":4,"scale":[0,1],"ratio":[1e-300,1e300]}`,
		`{"op":"sobel","channels":1}`,
		`{"op":"gaussian_noise","sigma":0.1,"p":0.5}`,
		`{"op":"random_solarize","threshold":128,"p":0.5}`,
	} {
		f.Add(s)
	}
	mine := map[string]bool{"color_jitter": true, "random_grayscale": true, "grayscale": true, "gaussian_blur": true,
		"random_erasing": true, "sobel": true, "gaussian_noise": true, "random_solarize": true}
	f.Fuzz(func(t *testing.T, s string) {
		var head struct{ Op string }
		if json.Unmarshal([]byte(s), &head) != nil || !mine[head.Op] || strings.Count(s, "[") > 8 {
			return
		}
		op, err := Decode([]byte(s))
		if err != nil {
			return
		}
		js, err := json.Marshal(op.Spec())
		if err != nil {
			t.Fatalf("%s: spec does not marshal: %v", s, err)
		}
		if _, err := Decode(js); err != nil {
			t.Fatalf("%s: spec %s does not decode: %v", s, js, err)
		}
		m := NewImage(7, 5, 3)
		var sc Scratch
		var p Params
		r := NewRand(1, 2, 3, 4)
		if _, err := op.Apply(&sc, m, &r, &p); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	})
}
