package ops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var cfUpdate = flag.Bool("cf.update", false, "rewrite ops/testdata/color/determinism.json")

// TestColorFilterDeterminism pins the bytes and draws of every colour/filter
// op for fixed seeds on the committed photo crop: a change of kernel, of
// random-number consumption or of a formula shows up here. Regenerate with
// go test ./ops -run ColorFilterDeterminism -cf.update (and say why).
func TestColorFilterDeterminism(t *testing.T) {
	specs := []string{
		`{"op":"color_jitter","brightness":0.8,"contrast":0.8,"saturation":0.8,"hue":0.2}`,
		`{"op":"random_grayscale","p":0.5}`,
		`{"op":"grayscale","channels":1}`,
		`{"op":"gaussian_blur","kernel_fraction":0.1,"sigma":[0.1,2.0]}`,
		`{"op":"random_erasing","p":0.9,"value":"random","holes":3}`,
		`{"op":"sobel","channels":3}`,
		`{"op":"gaussian_noise","sigma":[0.01,0.1],"p":0.8}`,
		`{"op":"random_solarize","threshold":128,"p":0.5}`,
	}
	src := cfLoadPNG(t, filepath.Join("testdata", "color", "photo_kleiber.png"))
	got := map[string]string{}
	var s Scratch
	for _, js := range specs {
		op, err := Decode([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		for sample := uint64(0); sample < 3; sample++ {
			m := NewImage(src.W, src.H, 3)
			copy(m.Pix, src.Pix)
			r := NewRand(2026, 1, sample, 0)
			var p Params
			out, err := op.Apply(&s, m, &r, &p)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			h.Write(cfTight(out))
			pj, _ := json.Marshal(p)
			h.Write(pj)
			got[fmt.Sprintf("%s#%d", js, sample)] = hex.EncodeToString(h.Sum(nil))[:24]
		}
	}
	path := filepath.Join("testdata", "color", "determinism.json")
	if *cfUpdate {
		data, _ := json.MarshalIndent(got, "", " ")
		if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -cf.update to create it)", err)
	}
	var want map[string]string
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Errorf("%d entries, golden has %d", len(got), len(want))
	}
	for k, v := range got {
		if want[k] != v {
			t.Errorf("%s: hash %s, golden %s", k, v, want[k])
		}
	}
}
