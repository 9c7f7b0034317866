package ops

import (
	"encoding/json"
	"fmt"
	"math"
)

// RandomResizedCrop crops a random box of random area and aspect ratio and
// resizes it to a fixed size with antialiased bilinear interpolation, like
// torchvision's RandomResizedCrop(size, scale, ratio, antialias=True). JSON:
//
//	{"op":"random_resized_crop","size":224,"scale":[0.08,1],"ratio":[0.75,1.3333333333333333]}
//
// The box is drawn by torchvision's rule (get_params): up to ten tries of
// area·U(scale) and exp(U(log ratio)) with the sides rounded half to even,
// accepted when they fit, placed uniformly; otherwise the centre crop of the
// whole image clamped to the ratio range. Params.Crop records the box in the
// op's input pixels.
type RandomResizedCrop struct {
	size  geoSize
	scale [2]float64
	ratio [2]float64
}

// NewRandomResizedCrop returns the op for an h×w output.
func NewRandomResizedCrop(h, w int, scale, ratio [2]float64) (*RandomResizedCrop, error) {
	o := &RandomResizedCrop{size: geoSize{H: h, W: w}, scale: scale, ratio: ratio}
	if err := o.size.validate(); err != nil {
		return nil, err
	}
	if !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1) {
		return nil, fmt.Errorf("%w: scale %v: want 0 < lo <= hi <= 1", ErrParam, scale)
	}
	if !(ratio[0] > 0 && ratio[0] <= ratio[1] && !math.IsInf(ratio[1], 0)) {
		return nil, fmt.Errorf("%w: ratio %v: want 0 < lo <= hi", ErrParam, ratio)
	}
	return o, nil
}

// CropBox draws the crop box for a width×height image (torchvision's
// RandomResizedCrop.get_params with r as the random source).
func (o *RandomResizedCrop) CropBox(r *Rand, width, height int) Box {
	area := float64(width) * float64(height)
	lr0, lr1 := math.Log(o.ratio[0]), math.Log(o.ratio[1])
	for range 10 {
		target := area * r.Uniform(o.scale[0], o.scale[1])
		ar := math.Exp(r.Uniform(lr0, lr1))
		w := int(math.RoundToEven(math.Sqrt(target * ar)))
		h := int(math.RoundToEven(math.Sqrt(target / ar)))
		if 0 < w && w <= width && 0 < h && h <= height {
			y := r.Intn(height - h + 1)
			x := r.Intn(width - w + 1)
			return Box{int32(x), int32(y), int32(w), int32(h)}
		}
	}
	return rrcFallback(width, height, o.ratio)
}

// rrcFallback is torchvision's centre crop when no try fits.
func rrcFallback(width, height int, ratio [2]float64) Box {
	in := float64(width) / float64(height)
	w, h := width, height
	switch {
	case in < ratio[0]:
		h = int(math.RoundToEven(float64(w) / ratio[0]))
	case in > ratio[1]:
		w = int(math.RoundToEven(float64(h) * ratio[1]))
	}
	w, h = min(max(w, 1), width), min(max(h, 1), height)
	return Box{int32((width - w) / 2), int32((height - h) / 2), int32(w), int32(h)}
}

// OutSize returns the fixed view size.
func (o *RandomResizedCrop) OutSize(w, h int) (int, int) { return o.size.W, o.size.H }

func (o *RandomResizedCrop) freshOutput() bool { return true }

// Apply crops and resizes src.
func (o *RandomResizedCrop) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	b := o.CropBox(r, src.W, src.H)
	p.Applied |= OpCrop
	p.Crop = b
	sub := src.Sub(int(b.X), int(b.Y), int(b.W), int(b.H))
	dst := s.Image(o.size.W, o.size.H, src.C)
	resizeInto(s, dst, &sub)
	return dst, nil
}

// Spec returns the op's JSON form.
func (o *RandomResizedCrop) Spec() Spec {
	return Spec{"op": "random_resized_crop", "size": o.size, "scale": o.scale, "ratio": o.ratio}
}

// ResizedCrop crops box (which may extend past src: outside is fill) and
// resizes it to w×h, like torchvision's F.resized_crop with antialias=True.
// It is the deterministic core of RandomResizedCrop, exported for tools and
// tests.
func ResizedCrop(s *Scratch, src *Image, b Box, w, h int, fill uint8) (*Image, error) {
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	if err := (geoSize{H: h, W: w}).validate(); err != nil {
		return nil, err
	}
	if b.W <= 0 || b.H <= 0 || b.W > MaxSide || b.H > MaxSide {
		return nil, fmt.Errorf("%w: crop box %dx%d", ErrParam, b.W, b.H)
	}
	dst := s.Image(w, h, src.C)
	if b.X >= 0 && b.Y >= 0 && int(b.X+b.W) <= src.W && int(b.Y+b.H) <= src.H {
		sub := src.Sub(int(b.X), int(b.Y), int(b.W), int(b.H))
		resizeInto(s, dst, &sub)
		return dst, nil
	}
	if err := (geoSize{H: int(b.H), W: int(b.W)}).validate(); err != nil {
		return nil, err
	}
	tmp := s.Image(int(b.W), int(b.H), src.C)
	cropFill(tmp, src, int(b.X), int(b.Y), fill)
	resizeInto(s, dst, tmp)
	return dst, nil
}

// cropFill copies the dst.W×dst.H box at (x0, y0) of src into dst; samples
// outside src get fill.
func cropFill(dst, src *Image, x0, y0 int, fill uint8) {
	c := src.C
	// Columns of the box inside src.
	ix0 := min(max(x0, 0), src.W)
	ix1 := min(max(x0+dst.W, 0), src.W)
	if ix1 < ix0 {
		ix1 = ix0
	}
	for y := 0; y < dst.H; y++ {
		row := dst.Pix[y*dst.Stride : y*dst.Stride+dst.W*c]
		sy := y0 + y
		if sy < 0 || sy >= src.H || ix1 == ix0 {
			geoFill(row, fill)
			continue
		}
		left := (ix0 - x0) * c
		mid := (ix1 - ix0) * c
		geoFill(row[:left], fill)
		copy(row[left:left+mid], src.Pix[sy*src.Stride+ix0*c:])
		geoFill(row[left+mid:], fill)
	}
}

func geoFill(b []uint8, v uint8) {
	for i := range b {
		b[i] = v
	}
}

// CenterCrop takes the centred h×w box, like torchvision's CenterCrop: the
// offset is round((in-out)/2) (half to even), and an image smaller than the
// box is padded with fill (0 by default) first. JSON:
// {"op":"center_crop","size":[h,w],"fill":0}.
type CenterCrop struct {
	size geoSize
	fill uint8
}

// NewCenterCrop returns a CenterCrop to h×w.
func NewCenterCrop(h, w int, fill uint8) (*CenterCrop, error) {
	o := &CenterCrop{size: geoSize{H: h, W: w}, fill: fill}
	if err := o.size.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// Box returns the crop box for a width×height input.
func (o *CenterCrop) Box(width, height int) Box {
	cw, ch := o.size.W, o.size.H
	var x, y int
	if cw > width || ch > height {
		// torchvision pads (cw-w)//2 left/top, then crops at round((w'-cw)/2).
		pl, pt := max(cw-width, 0)/2, max(ch-height, 0)/2
		pw, ph := width+max(cw-width, 0), height+max(ch-height, 0)
		x = int(math.RoundToEven(float64(pw-cw)/2)) - pl
		y = int(math.RoundToEven(float64(ph-ch)/2)) - pt
	} else {
		x = int(math.RoundToEven(float64(width-cw) / 2))
		y = int(math.RoundToEven(float64(height-ch) / 2))
	}
	return Box{int32(x), int32(y), int32(cw), int32(ch)}
}

// OutSize returns the fixed view size.
func (o *CenterCrop) OutSize(w, h int) (int, int) { return o.size.W, o.size.H }

func (o *CenterCrop) freshOutput() bool { return true }

// Apply crops src.
func (o *CenterCrop) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	b := o.Box(src.W, src.H)
	p.Applied |= OpCrop
	p.Crop = b
	dst := s.Image(o.size.W, o.size.H, src.C)
	cropFill(dst, src, int(b.X), int(b.Y), o.fill)
	return dst, nil
}

// Spec returns the op's JSON form.
func (o *CenterCrop) Spec() Spec {
	return Spec{"op": "center_crop", "size": o.size, "fill": o.fill}
}

// RandomCrop takes an h×w box at a uniform position after padding the image
// by Padding (left, top, right, bottom) with fill, like torchvision's
// RandomCrop(size, padding, pad_if_needed, fill). With pad_if_needed a side
// smaller than the box is padded by the difference on both ends first (as
// torchvision does). Where torchvision would raise (box still larger than
// the padded image) the box is placed at offset 0 and the rest is fill.
// JSON: {"op":"random_crop","size":32,"padding":[4,4,4,4],"pad_if_needed":false,"fill":0}.
type RandomCrop struct {
	size        geoSize
	padding     [4]int
	padIfNeeded bool
	fill        uint8
}

// NewRandomCrop returns a RandomCrop to h×w with padding (l, t, r, b).
func NewRandomCrop(h, w int, padding [4]int, padIfNeeded bool, fill uint8) (*RandomCrop, error) {
	o := &RandomCrop{size: geoSize{H: h, W: w}, padding: padding, padIfNeeded: padIfNeeded, fill: fill}
	if err := o.size.validate(); err != nil {
		return nil, err
	}
	for _, v := range padding {
		if v < 0 || v > MaxSide {
			return nil, fmt.Errorf("%w: padding %v", ErrParam, padding)
		}
	}
	return o, nil
}

// CropBox draws the box, in input coordinates, for a width×height input.
func (o *RandomCrop) CropBox(r *Rand, width, height int) Box {
	l, t := o.padding[0], o.padding[1]
	pw := width + o.padding[0] + o.padding[2]
	ph := height + o.padding[1] + o.padding[3]
	if o.padIfNeeded && pw < o.size.W {
		d := o.size.W - pw
		l, pw = l+d, pw+2*d
	}
	if o.padIfNeeded && ph < o.size.H {
		d := o.size.H - ph
		t, ph = t+d, ph+2*d
	}
	y, x := 0, 0
	if ph >= o.size.H {
		y = r.Intn(ph - o.size.H + 1)
	}
	if pw >= o.size.W {
		x = r.Intn(pw - o.size.W + 1)
	}
	return Box{int32(x - l), int32(y - t), int32(o.size.W), int32(o.size.H)}
}

// OutSize returns the fixed view size.
func (o *RandomCrop) OutSize(w, h int) (int, int) { return o.size.W, o.size.H }

func (o *RandomCrop) freshOutput() bool { return true }

// Apply crops src.
func (o *RandomCrop) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	b := o.CropBox(r, src.W, src.H)
	p.Applied |= OpCrop
	p.Crop = b
	dst := s.Image(o.size.W, o.size.H, src.C)
	cropFill(dst, src, int(b.X), int(b.Y), o.fill)
	return dst, nil
}

// Spec returns the op's JSON form.
func (o *RandomCrop) Spec() Spec {
	return Spec{"op": "random_crop", "size": o.size, "padding": o.padding, "pad_if_needed": o.padIfNeeded, "fill": o.fill}
}

// geoPadding reads torchvision's padding forms: n, [lr, tb] or [l, t, r, b].
type geoPadding [4]int

func (g *geoPadding) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*g = geoPadding{n, n, n, n}
		return nil
	}
	var v []int
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("padding %s: want n, [lr, tb] or [l, t, r, b]", b)
	}
	switch len(v) {
	case 2:
		*g = geoPadding{v[0], v[1], v[0], v[1]}
	case 4:
		*g = geoPadding{v[0], v[1], v[2], v[3]}
	default:
		return fmt.Errorf("padding %s: want n, [lr, tb] or [l, t, r, b]", b)
	}
	return nil
}

func init() {
	Register("random_resized_crop", func(b json.RawMessage) (Op, error) {
		j := struct {
			Op    string     `json:"op"`
			Size  geoSize    `json:"size"`
			Scale [2]float64 `json:"scale"`
			Ratio [2]float64 `json:"ratio"`
		}{Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4.0, 4.0 / 3.0}}
		if err := geoStrict(b, &j); err != nil {
			return nil, err
		}
		return NewRandomResizedCrop(j.Size.H, j.Size.W, j.Scale, j.Ratio)
	})
	Register("center_crop", func(b json.RawMessage) (Op, error) {
		var j struct {
			Op   string  `json:"op"`
			Size geoSize `json:"size"`
			Fill uint8   `json:"fill"`
		}
		if err := geoStrict(b, &j); err != nil {
			return nil, err
		}
		return NewCenterCrop(j.Size.H, j.Size.W, j.Fill)
	})
	Register("random_crop", func(b json.RawMessage) (Op, error) {
		var j struct {
			Op          string     `json:"op"`
			Size        geoSize    `json:"size"`
			Padding     geoPadding `json:"padding"`
			PadIfNeeded bool       `json:"pad_if_needed"`
			Fill        uint8      `json:"fill"`
		}
		if err := geoStrict(b, &j); err != nil {
			return nil, err
		}
		return NewRandomCrop(j.Size.H, j.Size.W, j.Padding, j.PadIfNeeded, j.Fill)
	})
}
