package ops

import (
	"encoding/json"
	"fmt"
	"math"
)

func init() {
	Register("color_jitter", decodeColorJitter)
	Register("random_grayscale", decodeRandomGrayscale)
	Register("grayscale", decodeGrayscale)
}

// ColorJitter changes brightness, contrast, saturation and hue by factors
// drawn uniformly from its ranges, applying the four adjustments in a random
// order, as torchvision's ColorJitter does on uint8 tensors:
//
//   - brightness f: blend with black, trunc(clamp(f*x));
//   - contrast f: blend with the mean of the image's luma;
//   - saturation f: blend each pixel with its luma;
//   - hue h: rotate the hue by h turns in HSV space.
//
// On gray (1-channel) images only brightness and contrast change pixels, as
// in torchvision. The image is changed in place.
type ColorJitter struct {
	rng [4][2]float64 // brightness, contrast, saturation, hue
	on  [4]bool
}

// JitterRange turns torchvision's scalar jitter strength into a range:
// [max(0, 1-s), 1+s] for brightness, contrast and saturation, and [-s, s] for
// hue (call it with center 0).
func JitterRange(s, center float64) [2]float64 {
	if center == 0 {
		return [2]float64{-s, s}
	}
	return [2]float64{max(0, center-s), center + s}
}

// NewColorJitter returns a ColorJitter drawing its factors from the given
// [lo, hi] ranges. A range [1, 1] ([0, 0] for hue) turns that adjustment off.
// Brightness, contrast and saturation factors must be >= 0; hue must lie in
// [-0.5, 0.5].
func NewColorJitter(brightness, contrast, saturation, hue [2]float64) (*ColorJitter, error) {
	j := &ColorJitter{rng: [4][2]float64{brightness, contrast, saturation, hue}}
	names := [4]string{"brightness", "contrast", "saturation", "hue"}
	for k, r := range j.rng {
		lo, hi := r[0], r[1]
		center, bmin, bmax := 1.0, 0.0, math.Inf(1)
		if k == 3 {
			center, bmin, bmax = 0, -0.5, 0.5
		}
		if !cfFinite(lo, hi) || !(bmin <= lo && lo <= hi && hi <= bmax) {
			return nil, cfErrf("%s range [%v, %v] not within [%v, %v] with lo <= hi", names[k], lo, hi, bmin, bmax)
		}
		j.on[k] = !(lo == center && hi == center)
	}
	return j, nil
}

func decodeColorJitter(data json.RawMessage) (Op, error) {
	var v struct {
		Op                                    string
		Brightness, Contrast, Saturation, Hue json.RawMessage
	}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	var rng [4][2]float64
	for k, raw := range [4]json.RawMessage{v.Brightness, v.Contrast, v.Saturation, v.Hue} {
		center := 1.0
		if k == 3 {
			center = 0
		}
		r, err := cfParseRange(raw, center)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", [4]string{"brightness", "contrast", "saturation", "hue"}[k], err)
		}
		rng[k] = r
	}
	return NewColorJitter(rng[0], rng[1], rng[2], rng[3])
}

// cfParseRange reads a jitter range: absent (off), a number s (torchvision's
// strength, see JitterRange) or a [lo, hi] pair.
func cfParseRange(raw json.RawMessage, center float64) ([2]float64, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return [2]float64{center, center}, nil
	}
	var s float64
	if err := json.Unmarshal(raw, &s); err == nil {
		if !(s >= 0 && !math.IsInf(s, 1)) || (center == 0 && s > 0.5) {
			return [2]float64{}, cfErrf("strength %v negative, infinite or (for hue) above 0.5", s)
		}
		return JitterRange(s, center), nil
	}
	var pair []float64
	if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 {
		return [2]float64{}, cfErrf("want a number or a [lo, hi] pair")
	}
	return [2]float64{pair[0], pair[1]}, nil
}

// Spec implements Op.
func (j *ColorJitter) Spec() Spec {
	sp := Spec{"op": "color_jitter"}
	for k, name := range [4]string{"brightness", "contrast", "saturation", "hue"} {
		if j.on[k] {
			sp[name] = []float64{j.rng[k][0], j.rng[k][1]}
		}
	}
	return sp
}

// Apply implements Op.
func (j *ColorJitter) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	order := r.Perm4()
	f := [4]float64{1, 1, 1, 0}
	for k := range f {
		if j.on[k] {
			f[k] = r.Uniform(j.rng[k][0], j.rng[k][1])
		}
	}
	p.Applied |= OpJitter
	p.Brightness, p.Contrast, p.Saturation, p.Hue = float32(f[0]), float32(f[1]), float32(f[2]), float32(f[3])
	p.JitterOrder = order
	for _, k := range order {
		if j.on[k] {
			adjustColor(s, src, int(k), f[k])
		}
	}
	return src, nil
}

// adjustColor applies adjustment k (0 brightness, 1 contrast, 2 saturation,
// 3 hue) with factor f to m in place. Tests call it with fixed factors.
func adjustColor(s *Scratch, m *Image, k int, f float64) {
	switch k {
	case 0:
		a := float32(f)
		cfRows(m, func(row []uint8) { cfAffine(row, row, a, 0) })
	case 1:
		mean := cfLumaMean(s, m)
		a := float32(f)
		b := float32(float32(1-f) * mean)
		cfRows(m, func(row []uint8) { cfAffine(row, row, a, b) })
	case 2:
		if m.C != 3 {
			return
		}
		a, c := float32(f), float32(1-f)
		cfRows(m, func(row []uint8) { cfSaturate(row, row, a, c) })
	case 3:
		if m.C != 3 {
			return
		}
		h := float32(f)
		cfRows(m, func(row []uint8) { cfHue(row, row, h) })
	}
}

// cfLumaMean is torch.mean(rgb_to_grayscale(img).to(float32)): the float32
// mean of the truncated luma (of the samples, for gray images).
func cfLumaMean(s *Scratch, m *Image) float32 {
	n := m.W * m.H
	if n == 0 {
		return 0
	}
	// One call over a tight image: the AVX2 sums leave a row's last block to
	// the reference, a quarter of the pixels of a 32-wide row.
	var sum uint64
	if m.C == 1 {
		cfRows(m, func(row []uint8) { sum += cfSumU8(row) })
	} else {
		cfRows(m, func(row []uint8) { sum += cfLumaSum(row) })
	}
	return float32(sum) / float32(n)
}

// Grayscale converts an image to its ITU-R 601 luma (torchvision's
// rgb_to_grayscale: 0.2989 R + 0.587 G + 0.114 B, truncated) with 1 or 3
// output channels. A gray input is copied to the requested channel count.
type Grayscale struct{ channels int }

// NewGrayscale returns a Grayscale with 1 or 3 output channels.
func NewGrayscale(channels int) (*Grayscale, error) {
	if channels != 1 && channels != 3 {
		return nil, cfErrf("channels %d, want 1 or 3", channels)
	}
	return &Grayscale{channels: channels}, nil
}

func decodeGrayscale(data json.RawMessage) (Op, error) {
	v := struct {
		Op       string
		Channels int
	}{Channels: 3}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	return NewGrayscale(v.Channels)
}

// Spec implements Op.
func (g *Grayscale) Spec() Spec { return Spec{"op": "grayscale", "channels": g.channels} }

// Apply implements Op.
func (g *Grayscale) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	p.Applied |= OpGrayscale
	p.Gray = true
	return cfToGray(s, src, g.channels), nil
}

// cfToGray converts m to luma with outC channels, in place when the channel
// count allows it.
func cfToGray(s *Scratch, m *Image, outC int) *Image {
	switch {
	case m.C == 3 && outC == 3:
		cfRows(m, func(row []uint8) { cfGray(row, row, 3) })
		return m
	case m.C == outC: // gray to gray
		return m
	}
	dst := s.Image(m.W, m.H, outC)
	for y := 0; y < m.H && m.W > 0; y++ {
		src, out := m.Row(y), dst.Row(y)
		if m.C == 3 {
			cfGray(out, src, 1)
			continue
		}
		for x, v := range src {
			out[3*x], out[3*x+1], out[3*x+2] = v, v, v
		}
	}
	return dst
}

// RandomGrayscale converts an RGB image to luma replicated to 3 channels
// with probability p (torchvision's RandomGrayscale); gray images pass
// through unchanged.
type RandomGrayscale struct{ p float64 }

// NewRandomGrayscale returns a RandomGrayscale with probability p.
func NewRandomGrayscale(p float64) (*RandomGrayscale, error) {
	if err := cfProb("p", p); err != nil {
		return nil, err
	}
	return &RandomGrayscale{p: p}, nil
}

func decodeRandomGrayscale(data json.RawMessage) (Op, error) {
	v := struct {
		Op string
		P  float64
	}{P: 0.1}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	return NewRandomGrayscale(v.P)
}

// Spec implements Op.
func (g *RandomGrayscale) Spec() Spec { return Spec{"op": "random_grayscale", "p": g.p} }

// Apply implements Op.
func (g *RandomGrayscale) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	p.Applied |= OpGrayscale
	p.Gray = r.Bernoulli(g.p)
	if p.Gray && src.C == 3 {
		cfRows(src, func(row []uint8) { cfGray(row, row, 3) })
	}
	return src, nil
}
