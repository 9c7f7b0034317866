package ops

import (
	"encoding/json"
	"fmt"
	"math"
)

// RandomRot90 turns the image counter-clockwise by a uniform random number
// of quarter turns (0 to 3), as torch.rot90(img, k, dims=[-2, -1]) does;
// a quarter turn swaps width and height. Params.Rot90 records k. JSON:
// {"op":"random_rot90"}.
type RandomRot90 struct{}

// Apply rotates src.
func (o RandomRot90) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	k := r.Intn(4)
	p.Applied |= OpRot90
	p.Rot90 = uint8(k)
	if k == 0 {
		return src, nil
	}
	w, h := src.W, src.H
	if k != 2 {
		w, h = h, w
	}
	dst := s.Image(w, h, src.C)
	Rot90(dst, src, k)
	return dst, nil
}

// OutSize reports the size for a w×h input: unchanged only for squares.
// It returns (0, 0) for non-square inputs, whose size depends on the draw.
func (o RandomRot90) OutSize(w, h int) (int, int) {
	if w == h {
		return w, h
	}
	return 0, 0
}

// Spec returns the op's JSON form.
func (o RandomRot90) Spec() Spec { return Spec{"op": "random_rot90"} }

// Rot90 writes src turned counter-clockwise by k quarter turns into dst,
// which must have the turned size and src's channels and must not overlap
// src.
func Rot90(dst, src *Image, k int) {
	c := src.C
	W, H := src.W, src.H
	k &= 3
	if k == 0 {
		copyImage(dst, src)
		return
	}
	if k == 2 {
		for y := 0; y < H; y++ {
			in := src.Pix[(H-1-y)*src.Stride : (H-1-y)*src.Stride+W*c]
			out := dst.Pix[y*dst.Stride : y*dst.Stride+W*c]
			rot90Reverse(out, in, c)
		}
		return
	}
	// Quarter turns: output row y is a column of src, read with a stride.
	for y := 0; y < dst.H; y++ {
		out := dst.Pix[y*dst.Stride : y*dst.Stride+dst.W*c]
		var o, step int // src offset of output pixel 0, and its step per x
		if k == 1 {
			o, step = (W-1-y)*c, src.Stride // (sx, sy) = (W-1-y, x)
		} else {
			o, step = (H-1)*src.Stride+y*c, -src.Stride // (sx, sy) = (y, H-1-x)
		}
		if c == 3 {
			for x := 0; x < len(out); x += 3 {
				p := src.Pix[o : o+3 : o+3]
				out[x], out[x+1], out[x+2] = p[0], p[1], p[2]
				o += step
			}
		} else {
			for x := range out {
				out[x] = src.Pix[o]
				o += step
			}
		}
	}
}

// rot90Reverse writes the pixels of in in reverse order into out.
func rot90Reverse(out, in []uint8, c int) {
	n := len(in)
	if c == 3 {
		for x := 0; x < n; x += 3 {
			p := in[n-3-x : n-x : n-x]
			q := out[x : x+3 : x+3]
			q[0], q[1], q[2] = p[0], p[1], p[2]
		}
		return
	}
	for x := range in {
		out[x] = in[n-1-x]
	}
}

// RandomRotation rotates the image counter-clockwise about its centre by an
// angle drawn uniformly from Degrees, keeping the size, with bilinear
// interpolation and a constant fill outside, like torchvision's
// RandomRotation(degrees, interpolation=BILINEAR, fill=fill) on tensors.
// Params.Angle records the angle. JSON:
// {"op":"random_rotation","degrees":[-30,30],"fill":0}.
type RandomRotation struct {
	degrees [2]float64
	fill    uint8
}

// NewRandomRotation returns the op.
func NewRandomRotation(degrees [2]float64, fill uint8) (*RandomRotation, error) {
	if !(degrees[0] <= degrees[1]) || math.IsInf(degrees[0], 0) || math.IsInf(degrees[1], 0) {
		return nil, fmt.Errorf("%w: degrees %v", ErrParam, degrees)
	}
	return &RandomRotation{degrees: degrees, fill: fill}, nil
}

// Apply rotates src.
func (o *RandomRotation) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	a := r.Uniform(o.degrees[0], o.degrees[1])
	p.Applied |= OpRotate
	p.Angle = float32(a)
	dst := s.Image(src.W, src.H, src.C)
	Rotate(dst, src, a, o.fill)
	return dst, nil
}

// Spec returns the op's JSON form.
func (o *RandomRotation) Spec() Spec {
	return Spec{"op": "random_rotation", "degrees": o.degrees, "fill": o.fill}
}

// Rotate writes src rotated counter-clockwise by deg degrees about its
// centre into dst (same size and channels, not overlapping src), following
// torchvision's F.rotate on a uint8 tensor with bilinear interpolation and
// fill=[fill]*C: the sampling grid and the interpolation are computed in
// float32 as grid_sample does (align_corners=False, zero padding), and the
// fill enters through the interpolated mask: out = v·m + (1−m)·fill, rounded
// half to even.
func Rotate(dst, src *Image, deg float64, fill uint8) {
	W, H, c := src.W, src.H, src.C
	if W == 0 || H == 0 {
		return
	}
	// torchvision: matrix = _get_inverse_affine_matrix(center=0, -angle, ...)
	rot := -deg * math.Pi / 180
	ca, sa := math.Cos(rot), math.Sin(rot)
	// matrix = [d, -b, 0, -c, a, 0] with a=d=cos, b=-sin, c=sin.
	m := [6]float64{ca, sa, 0, -sa, ca, 0}
	hw, hh := float32(0.5*float64(W)), float32(0.5*float64(H))
	t00, t01, t02 := float32(m[0])/hw, float32(m[1])/hw, float32(m[2])/hw
	t10, t11, t12 := float32(m[3])/hh, float32(m[4])/hh, float32(m[5])/hh
	fW, fH := float32(W), float32(H)
	ff := float32(fill)
	for y := 0; y < H; y++ {
		yg := float32(y) - float32(H)*0.5 + 0.5
		row := dst.Pix[y*dst.Stride : y*dst.Stride+W*c]
		for x := 0; x < W; x++ {
			xg := float32(x) - float32(W)*0.5 + 0.5
			gx := xg*t00 + yg*t01 + t02
			gy := xg*t10 + yg*t11 + t12
			ix := ((gx+1)*fW - 1) / 2
			iy := ((gy+1)*fH - 1) / 2
			x0f, y0f := rotFloor(ix), rotFloor(iy)
			wx1, wy1 := ix-x0f, iy-y0f
			wx0, wy0 := (x0f+1)-ix, (y0f+1)-iy
			out := row[x*c : x*c+c]
			// Corners (x0,y0), (x0+1,y0), (x0,y0+1), (x0+1,y0+1), summed
			// in that order; a corner outside the image counts as 0 in
			// both the value and the mask (grid_sample's zero padding).
			if !(x0f >= -1 && x0f < fW && y0f >= -1 && y0f < fH) {
				for ch := range out {
					out[ch] = rotRound(ff) // all four corners outside: mask 0
				}
				continue
			}
			x0, y0 := int(x0f), int(y0f)
			w00, w10, w01, w11 := wx0*wy0, wx1*wy0, wx0*wy1, wx1*wy1
			in0, in1 := x0 >= 0, x0+1 < W
			if y0 < 0 || !in0 {
				w00 = 0
			}
			if y0 < 0 || !in1 {
				w10 = 0
			}
			if y0+1 >= H || !in0 {
				w01 = 0
			}
			if y0+1 >= H || !in1 {
				w11 = 0
			}
			// Clamped offsets: a corner with weight 0 may read any pixel.
			cx0, cx1 := max(x0, 0)*c, min(x0+1, W-1)*c
			ry0, ry1 := max(y0, 0)*src.Stride, min(y0+1, H-1)*src.Stride
			mask := w00 + w10 + w01 + w11
			p00, p10 := src.Pix[ry0+cx0:ry0+cx0+c], src.Pix[ry0+cx1:ry0+cx1+c]
			p01, p11 := src.Pix[ry1+cx0:ry1+cx0+c], src.Pix[ry1+cx1:ry1+cx1+c]
			for ch := range out {
				v := w00*float32(p00[ch]) + w10*float32(p10[ch]) + w01*float32(p01[ch]) + w11*float32(p11[ch])
				out[ch] = rotRound(v*mask + (1-mask)*ff)
			}
		}
	}
}

// rotRound rounds half to even and clamps to a byte. For v below 2^23,
// adding 2^23 in float32 (unit spacing there, round-to-nearest-even) and
// subtracting it again is exactly math.RoundToEven.
func rotRound(v float32) uint8 {
	if !(v > 0) { // also NaN
		return 0
	}
	if v >= 255 {
		return 255
	}
	const two23 = 1 << 23
	return uint8((v + two23) - two23)
}

// rotFloor is math.Floor for the finite float32 sample coordinates (far
// inside the int range; NaN and ±Inf give a value the caller treats as
// outside the image).
func rotFloor(v float32) float32 {
	if !(v > -1<<30 && v < 1<<30) {
		return -1 << 30
	}
	f := float32(int32(v))
	if f > v {
		f--
	}
	return f
}

func init() {
	Register("random_rot90", func(b json.RawMessage) (Op, error) {
		var j struct {
			Op string `json:"op"`
		}
		if err := geoStrict(b, &j); err != nil {
			return nil, err
		}
		return RandomRot90{}, nil
	})
	Register("random_rotation", func(b json.RawMessage) (Op, error) {
		var j struct {
			Op      string          `json:"op"`
			Degrees json.RawMessage `json:"degrees"`
			Fill    uint8           `json:"fill"`
		}
		if err := geoStrict(b, &j); err != nil {
			return nil, err
		}
		var d [2]float64
		var n float64
		if err := json.Unmarshal(j.Degrees, &n); err == nil {
			d = [2]float64{-n, n} // torchvision: a single number means (-n, n)
		} else if err := json.Unmarshal(j.Degrees, &d); err != nil {
			return nil, fmt.Errorf("%w: degrees %s: want n or [lo, hi]", ErrParam, j.Degrees)
		}
		return NewRandomRotation(d, j.Fill)
	})
}
