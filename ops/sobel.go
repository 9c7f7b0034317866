package ops

import (
	"encoding/json"
	"math"
)

func init() { Register("sobel", decodeSobel) }

// Sobel replaces an image by the gradient magnitude of its luma:
// sqrt(gx^2 + gy^2) of the 3x3 Sobel derivatives (borders replicated),
// rounded half to even and clipped to 255, with 1 or 3 (replicated) output
// channels. torchvision has no Sobel; the reference is cfSobelRowRef.
type Sobel struct{ channels int }

// NewSobel returns a Sobel with 1 or 3 output channels.
func NewSobel(channels int) (*Sobel, error) {
	if channels != 1 && channels != 3 {
		return nil, cfErrf("channels %d, want 1 or 3", channels)
	}
	return &Sobel{channels: channels}, nil
}

func decodeSobel(data json.RawMessage) (Op, error) {
	v := struct {
		Op       string
		Channels int
	}{Channels: 1}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	return NewSobel(v.Channels)
}

// Spec implements Op.
func (o *Sobel) Spec() Spec { return Spec{"op": "sobel", "channels": o.channels} }

// Apply implements Op.
func (o *Sobel) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	p.Applied |= OpSobel
	return cfSobel(s, src, o.channels), nil
}

// cfSobel returns the Sobel magnitude of m's luma in a scratch image.
func cfSobel(s *Scratch, m *Image, outC int) *Image {
	W, H := m.W, m.H
	// Luma plane with a replicated 1-pixel border, then the output (so that
	// the plane is not one of s's rotating images).
	pw := W + 2
	plane := cfGrowU8(&cfScratch(s).bytes, pw*(H+2)+W)
	dst := s.Image(W, H, outC)
	if W == 0 || H == 0 {
		return dst
	}
	for y := 0; y < H; y++ {
		prow := plane[(y+1)*pw : (y+2)*pw]
		if m.C == 3 {
			cfGray(prow[1:W+1], m.Row(y), 1)
		} else {
			copy(prow[1:W+1], m.Row(y))
		}
		prow[0], prow[W+1] = prow[1], prow[W]
	}
	copy(plane[:pw], plane[pw:2*pw])
	copy(plane[(H+1)*pw:(H+2)*pw], plane[H*pw:(H+1)*pw])
	line := plane[(H+2)*pw:]
	for y := 0; y < H; y++ {
		a, b, c := plane[y*pw:(y+1)*pw], plane[(y+1)*pw:(y+2)*pw], plane[(y+2)*pw:(y+3)*pw]
		if outC == 1 {
			cfSobelRow(dst.Row(y), a, b, c)
			continue
		}
		cfSobelRow(line, a, b, c)
		out := dst.Row(y)
		for x, v := range line {
			out[3*x], out[3*x+1], out[3*x+2] = v, v, v
		}
	}
	return dst
}

// cfSobelRowRef computes one output row from three rows a, b, c (above,
// centre, below) of the padded luma plane (len(dst)+2 samples each).
func cfSobelRowRef(dst, a, b, c []uint8) {
	_, _, _ = a[len(dst)+1], b[len(dst)+1], c[len(dst)+1]
	for x := range dst {
		gx := (int32(a[x+2]) + 2*int32(b[x+2]) + int32(c[x+2])) - (int32(a[x]) + 2*int32(b[x]) + int32(c[x]))
		gy := (int32(c[x]) + 2*int32(c[x+1]) + int32(c[x+2])) - (int32(a[x]) + 2*int32(a[x+1]) + int32(a[x+2]))
		mag := float32(math.Sqrt(float64(gx*gx + gy*gy))) // == float32 sqrt, correctly rounded
		dst[x] = cfRound(mag)
	}
}
