// Package pix holds pairflow's pixel buffer, Image: 8-bit gray or RGB pixels
// in HWC order. It is the one type the decoder (imageio) writes and the
// augmentation operators (ops, where it is ops.Image) read and write, so that
// neither of those packages imports the other. It does nothing else.
package pix

import "fmt"

// MaxSide bounds the width and height of any image pairflow decodes or an
// operator creates, so a corrupt recipe or header cannot make pairflow
// allocate without limit.
const MaxSide = 1 << 15

// Image is an 8-bit image in HWC order: the sample of channel c at (x, y) is
// Pix[y*Stride+x*C+c]. C is 1 (gray) or 3 (RGB). Sub-images share Pix with
// their parent and keep its Stride.
type Image struct {
	W, H, C int
	Stride  int
	Pix     []uint8
}

// NewImage allocates a w×h image with c channels and a tight stride.
func NewImage(w, h, c int) *Image {
	m := &Image{}
	m.Reshape(w, h, c)
	return m
}

// Reshape makes m a tight w×h×c image, reusing Pix when it is large enough.
// The pixel values are unspecified afterwards.
func (m *Image) Reshape(w, h, c int) {
	n := w * h * c
	if cap(m.Pix) < n {
		m.Pix = make([]uint8, n)
	}
	m.W, m.H, m.C, m.Stride, m.Pix = w, h, c, w*c, m.Pix[:n]
}

// Sub returns the sub-image of m with top-left corner (x, y) and size w×h.
// It shares pixels with m. It panics if the rectangle is not inside m.
func (m *Image) Sub(x, y, w, h int) Image {
	if x < 0 || y < 0 || w < 0 || h < 0 || x+w > m.W || y+h > m.H {
		panic(fmt.Sprintf("pix: sub-image (%d,%d %dx%d) outside %dx%d", x, y, w, h, m.W, m.H))
	}
	if w == 0 || h == 0 {
		return Image{W: w, H: h, C: m.C, Stride: m.Stride}
	}
	off := y*m.Stride + x*m.C
	end := off + (h-1)*m.Stride + w*m.C
	return Image{W: w, H: h, C: m.C, Stride: m.Stride, Pix: m.Pix[off:end:end]}
}

// Row returns the w*C samples of row y.
func (m *Image) Row(y int) []uint8 {
	off := y * m.Stride
	return m.Pix[off : off+m.W*m.C]
}

// Validate reports whether m's fields describe its Pix consistently.
func (m *Image) Validate() error {
	switch {
	case m.C != 1 && m.C != 3:
		return fmt.Errorf("pix: image has %d channels, want 1 or 3", m.C)
	case m.W < 0 || m.H < 0 || m.W > MaxSide || m.H > MaxSide:
		return fmt.Errorf("pix: image size %dx%d outside [0, %d]", m.W, m.H, MaxSide)
	case m.Stride < m.W*m.C:
		return fmt.Errorf("pix: stride %d below row size %d", m.Stride, m.W*m.C)
	case m.W > 0 && m.H > 0 && len(m.Pix) < (m.H-1)*m.Stride+m.W*m.C:
		return fmt.Errorf("pix: %d pixel bytes too few for %dx%dx%d stride %d", len(m.Pix), m.W, m.H, m.C, m.Stride)
	}
	return nil
}
