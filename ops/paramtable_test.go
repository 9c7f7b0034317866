package ops

import (
	"encoding/json"
	"testing"
)

// TestParamFields checks the table's shape: one row per OpSet bit, in bit
// order, and exactly the accessor of each value's kind set.
func TestParamFields(t *testing.T) {
	for i, f := range ParamFields {
		if f.Op != 1<<i {
			t.Errorf("row %d (%s) is op %#x, want bit %d", i, f.Name, f.Op, i)
		}
		if f.Name == "" || len(f.Values) == 0 {
			t.Errorf("row %d: name %q, %d values", i, f.Name, len(f.Values))
		}
		for _, v := range f.Values {
			set := map[ParamKind]bool{
				ParamBool: v.Bool != nil, ParamUint8: v.Uint8 != nil, ParamInt32: v.Int32 != nil,
				ParamFloat32: v.Float32 != nil, ParamBox: v.Box != nil, ParamBoxes: v.Boxes != nil, ParamOrder: v.Order != nil,
			}
			for k, ok := range set {
				if ok != (k == v.Kind) {
					t.Errorf("%s.%s (kind %d): accessor of kind %d set=%v", f.Name, v.Name, v.Kind, k, ok)
				}
			}
		}
	}
	if last := ParamFields[len(ParamFields)-1].Op; last != OpSolarize {
		t.Errorf("the table ends at op %#x, OpSet at OpSolarize", last)
	}
}

func TestParamsMap(t *testing.T) {
	p := Params{Applied: OpCrop | OpJitter | OpErase | OpSobel | OpSolarize,
		Crop: Box{1, 2, 3, 4}, Brightness: 1.5, Contrast: 0.5, Saturation: 1, Hue: -0.25, JitterOrder: [4]uint8{3, 1, 0, 2},
		Erased: []Box{{5, 6, 7, 8}}, Solarized: true, SolarizeThreshold: 128, HFlip: true}
	b, err := json.Marshal(ParamsMap(&p))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"crop":{"h":4,"w":3,"x":1,"y":2},"erased":[{"h":8,"w":7,"x":5,"y":6}],` +
		`"jitter":{"brightness":1.5,"contrast":0.5,"hue":-0.25,"order":[3,1,0,2],"saturation":1},` +
		`"sobel":true,"solarize":{"applied":true,"threshold":128}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	if m := ParamsMap(&Params{}); len(m) != 0 {
		t.Errorf("nothing reached: %v", m)
	}
}
