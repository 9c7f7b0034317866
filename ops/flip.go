package ops

import (
	"encoding/json"
	"fmt"
)

// RandomHorizontalFlip mirrors the image left-right with probability P, like
// torchvision's RandomHorizontalFlip (one uniform draw u; flip when u < P).
// It works in place. Params.HFlip records the outcome. JSON:
// {"op":"random_horizontal_flip","p":0.5}.
type RandomHorizontalFlip struct{ p float64 }

// RandomVerticalFlip mirrors the image top-bottom with probability P, like
// torchvision's RandomVerticalFlip. It works in place. Params.VFlip records
// the outcome. JSON: {"op":"random_vertical_flip","p":0.5}.
type RandomVerticalFlip struct{ p float64 }

func geoProb(p float64) error {
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("%w: probability %v outside [0, 1]", ErrParam, p)
	}
	return nil
}

// NewRandomHorizontalFlip returns the op; p is the flip probability.
func NewRandomHorizontalFlip(p float64) (*RandomHorizontalFlip, error) {
	if err := geoProb(p); err != nil {
		return nil, err
	}
	return &RandomHorizontalFlip{p}, nil
}

// NewRandomVerticalFlip returns the op; p is the flip probability.
func NewRandomVerticalFlip(p float64) (*RandomVerticalFlip, error) {
	if err := geoProb(p); err != nil {
		return nil, err
	}
	return &RandomVerticalFlip{p}, nil
}

// Apply flips src in place when the coin says so.
func (o *RandomHorizontalFlip) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	f := r.Float64() < o.p
	p.Applied |= OpHFlip
	p.HFlip = f
	if f {
		FlipH(src)
	}
	return src, nil
}

// Spec returns the op's JSON form.
func (o *RandomHorizontalFlip) Spec() Spec { return Spec{"op": "random_horizontal_flip", "p": o.p} }

// Apply flips src in place when the coin says so.
func (o *RandomVerticalFlip) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	f := r.Float64() < o.p
	p.Applied |= OpVFlip
	p.VFlip = f
	if f {
		FlipV(src)
	}
	return src, nil
}

// Spec returns the op's JSON form.
func (o *RandomVerticalFlip) Spec() Spec { return Spec{"op": "random_vertical_flip", "p": o.p} }

// FlipH mirrors m left-right in place.
func FlipH(m *Image) {
	n := m.W * m.C
	for y := 0; y < m.H; y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+n]
		switch m.C {
		case 3:
			for i, j := 0, n-3; i < j; i, j = i+3, j-3 {
				a, b := row[i:i+3:i+3], row[j:j+3:j+3]
				a[0], a[1], a[2], b[0], b[1], b[2] = b[0], b[1], b[2], a[0], a[1], a[2]
			}
		case 1:
			for i, j := 0, n-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
}

// FlipV mirrors m top-bottom in place.
func FlipV(m *Image) {
	n := m.W * m.C
	for y, z := 0, m.H-1; y < z; y, z = y+1, z-1 {
		a := m.Pix[y*m.Stride : y*m.Stride+n]
		b := m.Pix[z*m.Stride : z*m.Stride+n]
		for i := range a {
			a[i], b[i] = b[i], a[i]
		}
	}
}

func init() {
	dec := func(b json.RawMessage) (float64, error) {
		j := struct {
			Op string  `json:"op"`
			P  float64 `json:"p"`
		}{P: 0.5}
		err := geoStrict(b, &j)
		return j.P, err
	}
	Register("random_horizontal_flip", func(b json.RawMessage) (Op, error) {
		p, err := dec(b)
		if err != nil {
			return nil, err
		}
		return NewRandomHorizontalFlip(p)
	})
	Register("random_vertical_flip", func(b json.RawMessage) (Op, error) {
		p, err := dec(b)
		if err != nil {
			return nil, err
		}
		return NewRandomVerticalFlip(p)
	})
}
