// Package sheet draws pairflow images onto PNG canvases. It is the one
// helper for pictures that commands write — shardify inspect's contact
// sheet, preview's grid of pairs — and for turning a pix.Image into a
// standard-library image (shardify's converters encode through ToImage).
// It does not resample with a filter: thumbnails are nearest-neighbour, and
// callers that want a filtered thumbnail resize first and Put the result.
package sheet

import (
	"fmt"
	"image"
	"image/color"
	"image/png"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/pix"
)

// ToImage wraps or converts m as a standard-library image: *image.Gray for
// one channel (sharing pixels), *image.RGBA for three (copied, opaque).
func ToImage(m *pix.Image) image.Image {
	if m.C == 1 {
		return &image.Gray{Pix: m.Pix, Stride: m.Stride, Rect: image.Rect(0, 0, m.W, m.H)}
	}
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for y := 0; y < m.H; y++ {
		in, o := m.Row(y), out.Pix[y*out.Stride:]
		for x := 0; x < m.W; x++ {
			o[4*x], o[4*x+1], o[4*x+2], o[4*x+3] = in[3*x], in[3*x+1], in[3*x+2], 255
		}
	}
	return out
}

// Canvas is an RGBA picture that images and labels are drawn onto.
type Canvas struct {
	*image.RGBA
}

// New returns a w×h canvas filled with bg.
func New(w, h int, bg color.RGBA) *Canvas {
	c := &Canvas{image.NewRGBA(image.Rect(0, 0, w, h))}
	for i := 0; i < len(c.Pix); i += 4 {
		c.Pix[i], c.Pix[i+1], c.Pix[i+2], c.Pix[i+3] = bg.R, bg.G, bg.B, bg.A
	}
	return c
}

// Put draws m at (x0, y0) pixel for pixel, clipped to the canvas.
func (c *Canvas) Put(m *pix.Image, x0, y0 int) {
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			c.set(x0+x, y0+y, m, m.Pix[y*m.Stride+x*m.C:])
		}
	}
}

// Fit draws m into the cell×cell square at (x0, y0), scaled by nearest
// neighbour so that its longer side is cell, aspect kept, top-left aligned.
func (c *Canvas) Fit(m *pix.Image, x0, y0, cell int) {
	if m.W == 0 || m.H == 0 {
		return
	}
	scale := float64(cell) / float64(max(m.W, m.H))
	w, h := max(int(float64(m.W)*scale), 1), max(int(float64(m.H)*scale), 1)
	for y := 0; y < h; y++ {
		sy := min(int(float64(y)/scale), m.H-1)
		for x := 0; x < w; x++ {
			sx := min(int(float64(x)/scale), m.W-1)
			c.set(x0+x, y0+y, m, m.Pix[sy*m.Stride+sx*m.C:])
		}
	}
}

func (c *Canvas) set(x, y int, m *pix.Image, p []uint8) {
	if !(image.Point{x, y}.In(c.Rect)) {
		return
	}
	r, g, b := p[0], p[0], p[0]
	if m.C == 3 {
		g, b = p[1], p[2]
	}
	d := c.PixOffset(x, y)
	c.Pix[d], c.Pix[d+1], c.Pix[d+2], c.Pix[d+3] = r, g, b, 255
}

// Label writes s in a 7×13 pixel font with its baseline at (x, y).
func (c *Canvas) Label(x, y int, s string, col color.RGBA) {
	d := font.Drawer{Dst: c.RGBA, Src: image.NewUniform(col), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// WritePNG writes the canvas to path as a PNG through internal/atomicfile
// (temporary file, fsync, rename), so that path never holds a cut picture.
func (c *Canvas) WritePNG(path string) error {
	f, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := png.Encode(f, c.RGBA); err != nil {
		f.Abort()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}
