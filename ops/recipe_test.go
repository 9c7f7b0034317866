package ops

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// The -update flag regenerates testdata/geometry/determinism.json. It is
// defined here unless another test file of the package defines it (package
// variables initialise before init functions run).
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files")
	}
}

func geoUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const geoMixRecipe = `{"version":1,"name":"geo-mix","channels":3,"ops":[
	{"op":"random_resized_crop","size":[40,48],"scale":[0.1,1]},
	{"op":"random_horizontal_flip"},
	{"op":"random_vertical_flip","p":0.3},
	{"op":"one_of","ops":[{"op":"random_rot90"},{"op":"random_rotation","degrees":25,"fill":100}],"p":[1,2]},
	{"op":"random_apply","p":0.5,"ops":[{"op":"random_crop","size":36,"padding":3,"fill":7}]}
],"output":{"format":"float32_chw","mean":[0.5,0.4,0.3],"std":[0.2,0.25,0.3]}}`

func TestParseRecipeErrors(t *testing.T) {
	cases := []struct {
		js   string
		want error
	}{
		{`{"version":2,"channels":3,"ops":[],"output":{"format":"uint8_hwc"}}`, ErrRecipeVersion},
		{`{"channels":3,"ops":[],"output":{"format":"uint8_hwc"}}`, ErrRecipe},
		{`{"version":1,"channels":2,"ops":[],"output":{"format":"uint8_hwc"}}`, ErrRecipe},
		{`{"version":1,"channels":3,"ops":[],"output":{"format":"png"}}`, ErrRecipe},
		{`{"version":1,"channels":3,"ops":[],"output":{"format":"float32_chw","mean":[0.5],"std":[1]}}`, ErrRecipe},
		{`{"version":1,"channels":1,"ops":[],"output":{"format":"float32_chw","mean":[0.5],"std":[0]}}`, ErrRecipe},
		{`{"version":1,"channels":1,"ops":[],"output":{"format":"uint8_hwc","mean":[0.5],"std":[1]}}`, ErrRecipe},
		{`{"version":1,"channels":1,"ops":[],"output":{"format":"uint8_hwc"},"colour":1}`, ErrRecipe},
		{`{"version":1,"channels":1,"ops":[{"op":"nope"}],"output":{"format":"uint8_hwc"}}`, ErrRecipe},
		{`{"version":1,"channels":1,"ops":[],"output":{"format":"uint8_hwc"}} {}`, ErrRecipe},
		{`[1,2]`, ErrRecipe},
	}
	for _, c := range cases {
		if _, err := ParseRecipe([]byte(c.js)); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.js, err, c.want)
		}
	}
	if _, err := LoadRecipe(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("LoadRecipe of a missing file succeeded")
	}
	p := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(p, []byte(`{"version":9}`), 0o644)
	if _, err := LoadRecipe(p); !errors.Is(err, ErrRecipeVersion) || !strings.Contains(err.Error(), p) {
		t.Errorf("LoadRecipe error %v does not name the file", err)
	}
}

func TestRecipeRoundTripAndFile(t *testing.T) {
	r, err := ParseRecipe([]byte(geoMixRecipe))
	if err != nil {
		t.Fatal(err)
	}
	b1, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "r.json")
	if err := os.WriteFile(p, b1, 0o644); err != nil {
		t.Fatal(err)
	}
	r2, err := LoadRecipe(p)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(r2)
	if !bytes.Equal(b1, b2) {
		t.Fatalf("round trip:\n%s\n%s", b1, b2)
	}
	if w, h, c := r.ViewShape(400, 350); w != 0 || h != 0 || c != 3 {
		// one_of(rot90 on a non-square 48x40) depends on the draw.
		t.Fatalf("ViewShape = %d %d %d", w, h, c)
	}
}

// geoView runs a recipe for one view and returns its float output.
func geoView(t *testing.T, rc *Recipe, s *Scratch, src *Image, seed, sample uint64, view uint32, p *Params) []float32 {
	t.Helper()
	r := NewRand(seed, 0, sample, view)
	v, err := rc.Apply(s, src, &r, p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, v.W*v.H*v.C)
	if err := rc.Float32(out, v); err != nil {
		t.Fatal(err)
	}
	return out
}

func geoHash(f []float32, p *Params) string {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, f)
	fmt.Fprintf(h, "%d %v %v %v %d %v", p.Applied, p.Crop, p.HFlip, p.VFlip, p.Rot90, math.Float32bits(p.Angle))
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// TestRecipeDeterminismGolden pins a fixed seed and recipe to bytes on
// every tier; `go test ./ops -run DeterminismGolden -update` rewrites it.
func TestRecipeDeterminismGolden(t *testing.T) {
	_, _, ins := geoLoadGoldens(t)
	recipes := map[string]string{"geo-mix": geoMixRecipe}
	if js, ok := presetJSON["inpainting-fmnist"]; ok {
		recipes["inpainting-fmnist"] = js
	}
	got := map[string]string{}
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		for name, js := range recipes {
			rc, err := ParseRecipe([]byte(js))
			if err != nil {
				t.Fatal(err)
			}
			var s Scratch
			for _, in := range []string{"photo224", "gray28", "small32"} {
				for seed := range uint64(6) {
					var p Params
					f := geoView(t, rc, &s, ins[in], seed, 3, 1, &p)
					key := fmt.Sprintf("%s/%s/%d", name, in, seed)
					h := geoHash(f, &p)
					if prev, ok := got[key]; ok && prev != h {
						t.Fatalf("%s: tier %v gives %s, generic %s", key, tr, h, prev)
					}
					got[key] = h
				}
			}
		}
		restore()
	}
	path := filepath.Join("testdata", "geometry", "determinism.json")
	if geoUpdating() {
		b, _ := json.MarshalIndent(got, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	var want map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("golden has %d views, test made %d", len(want), len(got))
	}
	for k, h := range got {
		if want[k] != h {
			t.Errorf("%s: hash %s, golden %s", k, h, want[k])
		}
	}
}

func TestRecipeChannelsAndSource(t *testing.T) {
	_, _, ins := geoLoadGoldens(t)
	gray, rgb := ins["gray28"], ins["small32"]
	// Gray source in a 3-channel recipe: replicated, R=G=B.
	rc3, err := ParseRecipe([]byte(`{"version":1,"channels":3,"ops":[{"op":"random_horizontal_flip","p":1}],"output":{"format":"uint8_hwc"}}`))
	if err != nil {
		t.Fatal(err)
	}
	before := append([]uint8(nil), gray.Pix...)
	var s Scratch
	var p Params
	r := NewRand(1, 0, 0, 0)
	out := make([]uint8, 28*28*3)
	if err := rc3.ApplyUint8(&s, gray, &r, &p, out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, gray.Pix) {
		t.Fatal("Apply changed the source (flip in place on the caller's image)")
	}
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			v := gray.Pix[y*gray.Stride+27-x]
			o := out[(y*28+x)*3:]
			if o[0] != v || o[1] != v || o[2] != v {
				t.Fatalf("(%d,%d): %v, want %d replicated", x, y, o[:3], v)
			}
		}
	}
	// RGB source in a 1-channel recipe: torchvision's luma, truncated.
	rc1, _ := ParseRecipe([]byte(`{"version":1,"channels":1,"ops":[],"output":{"format":"uint8_hwc"}}`))
	o1 := make([]uint8, 32*32)
	if err := rc1.ApplyUint8(&s, rgb, &r, &p, o1); err != nil {
		t.Fatal(err)
	}
	px := rgb.Pix[:3]
	if want := uint8(float32(0.2989)*float32(px[0]) + float32(0.587)*float32(px[1]) + float32(0.114)*float32(px[2])); o1[0] != want {
		t.Fatalf("luma %d, want %d", o1[0], want)
	}
	// Wrong output calls are errors.
	if err := rc1.Float32(make([]float32, 1024), &Image{W: 32, H: 32, C: 1, Stride: 32, Pix: o1}); !errors.Is(err, ErrOutput) {
		t.Fatalf("Float32 on a uint8 recipe: %v", err)
	}
	// Views are reproducible alone and differ between view indices.
	rc, _ := ParseRecipe([]byte(geoMixRecipe))
	var p1, p2 Params
	a := geoView(t, rc, &s, ins["photo224"], 5, 9, 0, &p1)
	_ = geoView(t, rc, &s, ins["photo224"], 5, 9, 1, &p2)
	var s2 Scratch
	a2 := geoView(t, rc, &s2, ins["photo224"], 5, 9, 0, &p2)
	if geoHash(a, &p1) != geoHash(a2, &p2) {
		t.Fatal("the same view recomputed on a fresh Scratch differs")
	}
}

// TestPresets decodes every preset; presets that need ops not yet
// registered are skipped with the reason.
func TestPresets(t *testing.T) {
	want := []string{"fmnist-simclr-v1", "inpainting-fmnist", "simclr-imagenet", "simclr-small", "torchvision-a"}
	if got := Presets(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Presets() = %v", got)
	}
	if _, err := Preset("nope"); !errors.Is(err, ErrUnknownPreset) {
		t.Fatalf("unknown preset: %v", err)
	}
	_, _, ins := geoLoadGoldens(t)
	shapes := map[string][3]int{
		"fmnist-simclr-v1": {28, 28, 1}, "inpainting-fmnist": {28, 28, 1},
		"simclr-imagenet": {224, 224, 3}, "simclr-small": {32, 32, 3}, "torchvision-a": {32, 32, 3},
	}
	for _, name := range want {
		t.Run(name, func(t *testing.T) {
			rc, err := Preset(name)
			if err != nil {
				if strings.Contains(err.Error(), "unknown op") {
					t.Skipf("needs an op not registered yet: %v", err)
				}
				t.Fatal(err)
			}
			b1, _ := json.Marshal(rc)
			rc2, err := ParseRecipe(b1)
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := json.Marshal(rc2); !bytes.Equal(b1, b2) {
				t.Fatalf("round trip differs:\n%s\n%s", b1, b2)
			}
			w, h, c := rc.ViewShape(400, 350)
			if sh := shapes[name]; [3]int{h, w, c} != sh {
				t.Fatalf("ViewShape %d %d %d, want %v", w, h, c, sh)
			}
			var s Scratch
			for _, in := range []string{"photo224", "gray28"} {
				for seed := range uint64(20) {
					var p Params
					f := geoView(t, rc, &s, ins[in], seed, 0, 0, &p)
					if len(f) != w*h*c || !p.Has(OpCrop) || !p.Has(OpHFlip) {
						t.Fatalf("%s seed %d: %d floats, Applied %b", in, seed, len(f), p.Applied)
					}
				}
			}
		})
	}
}

func ExampleParseRecipe() {
	rc, err := ParseRecipe([]byte(`{"version":1,"name":"demo","channels":1,
		"ops":[{"op":"center_crop","size":2}],
		"output":{"format":"float32_chw"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	src := NewImage(4, 4, 1)
	for i := range src.Pix {
		src.Pix[i] = uint8(16 * i)
	}
	var s Scratch
	var p Params
	r := NewRand(42, 0, 7, 0) // seed, epoch, sample, view
	dst := make([]float32, 2*2)
	if err := rc.ApplyFloat32(&s, src, &r, &p, dst); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f crop=%+v\n", dst, p.Crop)
	// Output: [0.3137 0.3765 0.5647 0.6275] crop={X:1 Y:1 W:2 H:2}
}

func ExamplePresets() {
	fmt.Println(Presets())
	// Output: [fmnist-simclr-v1 inpainting-fmnist simclr-imagenet simclr-small torchvision-a]
}

// FuzzParseRecipe: any input is parsed or refused without panic; what
// parses marshals and parses back to the same JSON, and runs on a small
// image without panicking.
func FuzzParseRecipe(f *testing.F) {
	for _, js := range presetJSON {
		f.Add([]byte(js))
	}
	f.Add([]byte(geoMixRecipe))
	f.Add([]byte(`{"version":1,"channels":1,"ops":[{"op":"resize","size":3}],"output":{"format":"uint8_hwc"}}`))
	f.Add([]byte(`{"version":1,"channels":3,"ops":[{"op":"center_crop","size":[9,2]},{"op":"random_rotation","degrees":90}],"output":{"format":"uint8_hwc"}}`))
	src := NewImage(7, 5, 3)
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 37)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := ParseRecipe(data)
		if err != nil {
			return
		}
		b1, err := json.Marshal(rc)
		if err != nil {
			t.Fatal(err)
		}
		rc2, err := ParseRecipe(b1)
		if err != nil {
			t.Fatalf("re-parse of %s: %v", b1, err)
		}
		if b2, _ := json.Marshal(rc2); !bytes.Equal(b1, b2) {
			t.Fatalf("round trip:\n%s\n%s", b1, b2)
		}
		if w, h, _ := rc.ViewShape(src.W, src.H); w*h > 1<<16 {
			return // large views: correct but slow to fuzz
		}
		var s Scratch
		var p Params
		r := NewRand(1, 2, 3, 4)
		rc.Apply(&s, src, &r, &p)
	})
}

func ExamplePreset() {
	rc, err := Preset("inpainting-fmnist")
	if err != nil {
		fmt.Println(err)
		return
	}
	src := NewImage(28, 28, 1) // a decoded Fashion-MNIST image
	for i := range src.Pix {
		src.Pix[i] = uint8(i)
	}
	w, h, c := rc.ViewShape(src.W, src.H)
	view := make([]float32, w*h*c)
	var s Scratch // one per worker goroutine
	var p Params
	for v := uint32(0); v < 2; v++ { // the two views of sample 5, epoch 0
		r := NewRand(1, 0, 5, v)
		if err := rc.ApplyFloat32(&s, src, &r, &p, view); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("view %d: %dx%dx%d crop %+v hflip %v\n", v, w, h, c, p.Crop, p.HFlip)
	}
	// Output:
	// view 0: 28x28x1 crop {X:0 Y:3 W:25 H:23} hflip true
	// view 1: 28x28x1 crop {X:2 Y:0 W:26 H:28} hflip false
}
