package ops

// ParamKind is the type of one drawn value in Params.
type ParamKind uint8

// The kinds of drawn values.
const (
	ParamBool    ParamKind = iota // a bool
	ParamUint8                    // a uint8
	ParamInt32                    // an int32
	ParamFloat32                  // a float32
	ParamBox                      // a Box (x, y, w, h int32)
	ParamBoxes                    // a list of Boxes
	ParamOrder                    // four uint8s ([4]uint8: ColorJitter's order)
	ParamPresent                  // no value: true whenever the op was reached
)

// ParamValue is one named value an op draws, with access to where Params
// keeps it. Exactly the accessor of its Kind is set (none for ParamPresent);
// each returns a pointer into the Params it is given, so reading and writing
// a value allocate nothing.
type ParamValue struct {
	Name    string
	Kind    ParamKind
	Bool    func(*Params) *bool
	Uint8   func(*Params) *uint8
	Int32   func(*Params) *int32
	Float32 func(*Params) *float32
	Box     func(*Params) *Box
	Boxes   func(*Params) *[]Box
	Order   func(*Params) *[4]uint8
}

// ParamField is one op's entry in ParamFields: its bit in OpSet, the name of
// its field in the Arrow augmentation struct and in preview's JSON, and its
// values. An op with Values of length one stores that value directly under
// Name (its value's own name is unused); an op with several stores a struct
// of them.
type ParamField struct {
	Op     OpSet
	Name   string
	Values []ParamValue
}

// Struct reports whether f is stored as a struct of its values.
func (f *ParamField) Struct() bool { return len(f.Values) > 1 }

// ParamFields is the one table of what each op records in Params, in the
// order of OpSet's bits and of the Arrow augmentation struct's fields
// (arrowpair/SCHEMA.md §3.4). The Arrow builder and reader and preview's JSON
// are derived from it: a new op adds its bit, its Params fields and its row
// here, and nothing else changes by hand. Do not modify it at run time.
var ParamFields = []ParamField{
	{OpCrop, "crop", []ParamValue{{Name: "crop", Kind: ParamBox, Box: func(p *Params) *Box { return &p.Crop }}}},
	{OpHFlip, "hflip", []ParamValue{{Name: "hflip", Kind: ParamBool, Bool: func(p *Params) *bool { return &p.HFlip }}}},
	{OpVFlip, "vflip", []ParamValue{{Name: "vflip", Kind: ParamBool, Bool: func(p *Params) *bool { return &p.VFlip }}}},
	{OpRot90, "rot90", []ParamValue{{Name: "rot90", Kind: ParamUint8, Uint8: func(p *Params) *uint8 { return &p.Rot90 }}}},
	{OpRotate, "angle", []ParamValue{{Name: "angle", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.Angle }}}},
	{OpJitter, "jitter", []ParamValue{
		{Name: "brightness", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.Brightness }},
		{Name: "contrast", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.Contrast }},
		{Name: "saturation", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.Saturation }},
		{Name: "hue", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.Hue }},
		{Name: "order", Kind: ParamOrder, Order: func(p *Params) *[4]uint8 { return &p.JitterOrder }},
	}},
	{OpGrayscale, "gray", []ParamValue{{Name: "gray", Kind: ParamBool, Bool: func(p *Params) *bool { return &p.Gray }}}},
	{OpBlur, "blur", []ParamValue{
		{Name: "sigma", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.BlurSigma }},
		{Name: "kernel", Kind: ParamInt32, Int32: func(p *Params) *int32 { return &p.BlurKernel }},
	}},
	{OpErase, "erased", []ParamValue{{Name: "erased", Kind: ParamBoxes, Boxes: func(p *Params) *[]Box { return &p.Erased }}}},
	{OpSobel, "sobel", []ParamValue{{Name: "sobel", Kind: ParamPresent}}},
	{OpNoise, "noise_sigma", []ParamValue{{Name: "noise_sigma", Kind: ParamFloat32, Float32: func(p *Params) *float32 { return &p.NoiseSigma }}}},
	{OpSolarize, "solarize", []ParamValue{
		{Name: "applied", Kind: ParamBool, Bool: func(p *Params) *bool { return &p.Solarized }},
		{Name: "threshold", Kind: ParamUint8, Uint8: func(p *Params) *uint8 { return &p.SolarizeThreshold }},
	}},
}

// ParamsMap returns what p records as nested maps, one key per reached op
// (ParamFields' names): the JSON form of a view's draw.
func ParamsMap(p *Params) map[string]any {
	m := map[string]any{}
	for i := range ParamFields {
		f := &ParamFields[i]
		if !p.Has(f.Op) {
			continue
		}
		if !f.Struct() {
			m[f.Name] = f.Values[0].value(p)
			continue
		}
		s := make(map[string]any, len(f.Values))
		for j := range f.Values {
			s[f.Values[j].Name] = f.Values[j].value(p)
		}
		m[f.Name] = s
	}
	return m
}

func boxMap(b Box) map[string]int32 { return map[string]int32{"x": b.X, "y": b.Y, "w": b.W, "h": b.H} }

// value returns v's value in p as a JSON-friendly Go value.
func (v *ParamValue) value(p *Params) any {
	switch v.Kind {
	case ParamBool:
		return *v.Bool(p)
	case ParamUint8:
		return *v.Uint8(p)
	case ParamInt32:
		return *v.Int32(p)
	case ParamFloat32:
		return *v.Float32(p)
	case ParamBox:
		return boxMap(*v.Box(p))
	case ParamBoxes:
		boxes := []map[string]int32{}
		for _, b := range *v.Boxes(p) {
			boxes = append(boxes, boxMap(b))
		}
		return boxes
	case ParamOrder:
		o := *v.Order(p)
		return []int{int(o[0]), int(o[1]), int(o[2]), int(o[3])}
	default: // ParamPresent
		return true
	}
}
