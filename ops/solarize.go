package ops

import (
	"encoding/json"
	"math"
)

func init() { Register("random_solarize", decodeRandomSolarize) }

// RandomSolarize inverts every sample at or above a threshold (x -> 255-x),
// with probability p, as torchvision's RandomSolarize on uint8 tensors. The
// image is changed in place.
type RandomSolarize struct {
	threshold float64
	p         float64
}

// NewRandomSolarize returns a RandomSolarize; threshold is in [0, 255] (a
// fractional threshold t acts as ceil(t) on 8-bit samples).
func NewRandomSolarize(threshold, p float64) (*RandomSolarize, error) {
	if !(threshold >= 0 && threshold <= 255) {
		return nil, cfErrf("threshold %v outside [0, 255]", threshold)
	}
	if err := cfProb("p", p); err != nil {
		return nil, err
	}
	return &RandomSolarize{threshold: threshold, p: p}, nil
}

func decodeRandomSolarize(data json.RawMessage) (Op, error) {
	v := struct {
		Op        string
		Threshold *float64
		P         float64
	}{P: 0.5}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	if v.Threshold == nil {
		return nil, cfErrf("threshold missing")
	}
	return NewRandomSolarize(*v.Threshold, v.P)
}

// Spec implements Op.
func (o *RandomSolarize) Spec() Spec {
	return Spec{"op": "random_solarize", "threshold": o.threshold, "p": o.p}
}

// Apply implements Op.
func (o *RandomSolarize) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	th := uint8(math.Ceil(o.threshold))
	p.Applied |= OpSolarize
	p.Solarized = r.Bernoulli(o.p)
	p.SolarizeThreshold = th
	if p.Solarized {
		cfSolarize(src, th)
	}
	return src, nil
}

// cfSolarize inverts the samples of m that are >= th, in place.
func cfSolarize(m *Image, th uint8) {
	cfRows(m, func(row []uint8) { cfSolarizeRow(row, th) })
}

// cfSolarizeRef is the reference of cfSolarizeRow: p[i] = 255-p[i] where
// p[i] >= th, through a 256-entry table (branch-free per sample).
func cfSolarizeRef(p []uint8, th uint8) {
	var lut [256]uint8
	for x := range lut {
		lut[x] = uint8(x)
		if x >= int(th) {
			lut[x] = 255 - uint8(x)
		}
	}
	for i, x := range p {
		p[i] = lut[x]
	}
}
