package ops

import (
	"encoding/json"
	"math"
)

func init() { Register("random_erasing", decodeRandomErasing) }

// cfEraseMean and cfEraseStd map a standard-normal deviate to an 8-bit fill
// for "random" erasing: torchvision's RandomErasing(value="random") fills
// with N(0, 1) in the normalised space it usually runs in, which is
// mean + std*z in pixel units with the ImageNet statistics.
// Gray images use the averages of the three.
var (
	cfEraseMean = [3]float32{0.485 * 255, 0.456 * 255, 0.406 * 255}
	cfEraseStd  = [3]float32{0.229 * 255, 0.224 * 255, 0.225 * 255}
)

const (
	cfEraseGrayMean = (0.485 + 0.456 + 0.406) / 3 * 255
	cfEraseGrayStd  = (0.229 + 0.224 + 0.225) / 3 * 255
)

// RandomErasing (Cutout) erases `holes` rectangles, with probability p, using
// torchvision's RandomErasing.get_params for each: up to 10 tries of an area
// fraction drawn from scale and a log-uniform aspect ratio from ratio; a hole
// whose tries all fail is skipped, as in torchvision. A hole is filled with
// a constant value, or with per-sample random values (see cfEraseMean). The
// boxes are appended to Params.Erased. The image is changed in place.
type RandomErasing struct {
	p            float64
	scale, ratio [2]float64
	value        uint8
	random       bool
	holes        int
}

// MaxHoles bounds RandomErasing's holes.
const MaxHoles = 64

// NewRandomErasing returns a RandomErasing. scale must lie in [0, 1] and
// ratio in (0, inf), each lo <= hi; holes in [1, MaxHoles]. With random set,
// value is ignored.
func NewRandomErasing(p float64, scale, ratio [2]float64, value uint8, random bool, holes int) (*RandomErasing, error) {
	switch {
	case cfProb("p", p) != nil:
		return nil, cfProb("p", p)
	case !cfFinite(scale[0], scale[1]) || !(0 <= scale[0] && scale[0] <= scale[1] && scale[1] <= 1):
		return nil, cfErrf("scale [%v, %v] not within [0, 1] with lo <= hi", scale[0], scale[1])
	case !cfFinite(ratio[0], ratio[1]) || !(0 < ratio[0] && ratio[0] <= ratio[1]):
		return nil, cfErrf("ratio [%v, %v] invalid (want 0 < lo <= hi)", ratio[0], ratio[1])
	case holes < 1 || holes > MaxHoles:
		return nil, cfErrf("holes %d outside [1, %d]", holes, MaxHoles)
	}
	return &RandomErasing{p: p, scale: scale, ratio: ratio, value: value, random: random, holes: holes}, nil
}

func decodeRandomErasing(data json.RawMessage) (Op, error) {
	v := struct {
		Op           string
		P            float64
		Scale, Ratio []float64
		Value        json.RawMessage
		Holes        int
	}{P: 0.5, Scale: []float64{0.02, 0.33}, Ratio: []float64{0.3, 3.3}, Holes: 1}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	if len(v.Scale) != 2 || len(v.Ratio) != 2 {
		return nil, cfErrf("scale and ratio must be [lo, hi] pairs")
	}
	var value uint8
	random := false
	if len(v.Value) > 0 {
		var num float64
		var str string
		switch {
		case json.Unmarshal(v.Value, &num) == nil:
			if !(num >= 0 && num <= 255 && num == math.Trunc(num)) {
				return nil, cfErrf("value %v not an integer in [0, 255]", num)
			}
			value = uint8(num)
		case json.Unmarshal(v.Value, &str) == nil && str == "random":
			random = true
		default:
			return nil, cfErrf(`value: want a number in [0, 255] or "random"`)
		}
	}
	return NewRandomErasing(v.P, [2]float64{v.Scale[0], v.Scale[1]}, [2]float64{v.Ratio[0], v.Ratio[1]}, value, random, v.Holes)
}

// Spec implements Op.
func (o *RandomErasing) Spec() Spec {
	sp := Spec{"op": "random_erasing", "p": o.p, "scale": []float64{o.scale[0], o.scale[1]},
		"ratio": []float64{o.ratio[0], o.ratio[1]}, "holes": o.holes, "value": int(o.value)}
	if o.random {
		sp["value"] = "random"
	}
	return sp
}

// Apply implements Op.
func (o *RandomErasing) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	p.Applied |= OpErase
	if !r.Bernoulli(o.p) || src.W == 0 || src.H == 0 {
		return src, nil
	}
	for range o.holes {
		box, ok := o.params(src.W, src.H, r)
		if !ok {
			continue
		}
		p.Erased = append(p.Erased, box)
		o.fill(s, src, box, r)
	}
	return src, nil
}

// params is torchvision's RandomErasing.get_params.
func (o *RandomErasing) params(W, H int, r *Rand) (Box, bool) {
	area := float64(W * H)
	lr0, lr1 := math.Log(o.ratio[0]), math.Log(o.ratio[1])
	for range 10 {
		ea := area * r.Uniform(o.scale[0], o.scale[1])
		ar := math.Exp(r.Uniform(lr0, lr1))
		hf := math.RoundToEven(math.Sqrt(ea * ar))
		wf := math.RoundToEven(math.Sqrt(ea / ar))
		if !(hf >= 0 && hf < float64(H) && wf >= 0 && wf < float64(W)) { // also rejects NaN
			continue
		}
		h, w := int(hf), int(wf)
		i := r.Intn(H - h + 1)
		j := r.Intn(W - w + 1)
		return Box{X: int32(j), Y: int32(i), W: int32(w), H: int32(h)}, true
	}
	return Box{}, false
}

func (o *RandomErasing) fill(s *Scratch, m *Image, b Box, r *Rand) {
	x0, n := int(b.X)*m.C, int(b.W)*m.C
	if n == 0 {
		return
	}
	var z []float32
	if o.random {
		z = cfGrowF32(&cfScratch(s).f32, n)
	}
	for y := int(b.Y); y < int(b.Y+b.H); y++ {
		row := m.Row(y)[x0 : x0+n]
		if !o.random {
			for i := range row {
				row[i] = o.value
			}
			continue
		}
		cfNormals(z, r, 1)
		if m.C == 1 {
			for i := range row {
				row[i] = cfRound(cfEraseGrayMean + float32(cfEraseGrayStd*z[i]))
			}
			continue
		}
		for i := 0; i+2 < len(row); i += 3 {
			row[i] = cfRound(cfEraseMean[0] + float32(cfEraseStd[0]*z[i]))
			row[i+1] = cfRound(cfEraseMean[1] + float32(cfEraseStd[1]*z[i+1]))
			row[i+2] = cfRound(cfEraseMean[2] + float32(cfEraseStd[2]*z[i+2]))
		}
	}
}
