package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
	"golang.org/x/image/webp"

	"github.com/pairflow/pairflow/pix"
	"github.com/pairflow/pairflow/shards"
)

// DefaultMaxPixels is the default pixel budget: 64 megapixels.
const DefaultMaxPixels = 64 << 20

// Sentinel errors; errors from this package wrap one of them.
var (
	// ErrFormat: the bytes are not an image in a supported format.
	ErrFormat = errors.New("imageio: unsupported image format")
	// ErrTooLarge: the image is over the pixel budget (see BudgetError).
	ErrTooLarge = errors.New("imageio: image over the pixel budget")
	// ErrDecode: the image is malformed.
	ErrDecode = errors.New("imageio: malformed image")
	// ErrInvalid: bad arguments (channels, geometry).
	ErrInvalid = errors.New("imageio: invalid argument")
)

// BudgetError reports an image refused from its header, before decoding.
type BudgetError struct {
	Format        shards.Encoding
	Width, Height int
	MaxPixels     int64
}

func (e *BudgetError) Error() string {
	what := "raw-pixel" // DecodeRaw: no encoding (Format 0 would print as "encoding(0)")
	if e.Format.Valid() {
		what = e.Format.String()
	}
	return fmt.Sprintf("imageio: %s image of %dx%d pixels exceeds the budget of %d pixels (and sides of %d)",
		what, e.Width, e.Height, e.MaxPixels, pix.MaxSide)
}

// Unwrap returns ErrTooLarge.
func (e *BudgetError) Unwrap() error { return ErrTooLarge }

// Config is what an image header says.
type Config struct {
	Format        shards.Encoding
	Width, Height int
	Channels      int // 1 for gray sources, 3 otherwise (what Channels 0 decodes to)
}

// DecodeConfig reads only the header of an encoded image.
func DecodeConfig(b []byte) (Config, error) {
	f, ok := Sniff(b)
	if !ok {
		return Config{}, ErrFormat
	}
	cfg, err := codecs[f].decodeConfig(bytes.NewReader(b))
	if err != nil {
		return Config{}, fmt.Errorf("%w: %v header: %v", ErrDecode, f, err)
	}
	c := 3
	if isGrayModel(cfg.ColorModel) {
		c = 1
	}
	return Config{Format: f, Width: cfg.Width, Height: cfg.Height, Channels: c}, nil
}

// codecs holds the standard-library and x/image decoders of every encoded
// format Sniff recognises.
var codecs = map[shards.Encoding]struct {
	decode       func(io.Reader) (image.Image, error)
	decodeConfig func(io.Reader) (image.Config, error)
}{
	shards.JPEG: {jpeg.Decode, jpeg.DecodeConfig},
	shards.PNG:  {png.Decode, png.DecodeConfig},
	shards.GIF:  {gif.Decode, gif.DecodeConfig},
	shards.BMP:  {bmp.Decode, bmp.DecodeConfig},
	shards.TIFF: {tiff.Decode, tiff.DecodeConfig},
	shards.WebP: {webp.Decode, webp.DecodeConfig},
}

// Decoder decodes images into reusable pix.Images. The zero value decodes
// with the source's channel count, the default budget and orientation
// applied. A Decoder holds scratch space: use one per goroutine.
type Decoder struct {
	Channels          int   // 0 (natural), 1 (gray) or 3 (RGB)
	MaxPixels         int64 // width*height budget; 0 means DefaultMaxPixels
	IgnoreOrientation bool  // do not apply EXIF orientation

	scratch []uint8
}

func (d *Decoder) budget() int64 {
	if d.MaxPixels > 0 {
		return d.MaxPixels
	}
	return DefaultMaxPixels
}

// Decode decodes the encoded image b into dst, reshaping it (and reusing
// dst.Pix when large enough). dst is tight (Stride = W*C) afterwards.
func (d *Decoder) Decode(dst *pix.Image, b []byte) error {
	if d.Channels != 0 && d.Channels != 1 && d.Channels != 3 {
		return fmt.Errorf("%w: channels %d, want 0, 1 or 3", ErrInvalid, d.Channels)
	}
	cfg, err := fastConfig(b)
	if err != nil {
		return err
	}
	if err := d.check(cfg); err != nil {
		return err
	}
	c := d.Channels
	if c == 0 {
		c = cfg.Channels
	}
	if cfg.Format == shards.JPEG {
		if done, err := decodeJPEG(dst, b, cfg, c); done {
			if err != nil {
				return err
			}
			d.orient(dst, b)
			return nil
		}
	}
	m, err := codecs[cfg.Format].decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%w: %v: %v", ErrDecode, cfg.Format, err)
	}
	if b := m.Bounds(); b != image.Rect(0, 0, cfg.Width, cfg.Height) {
		// A GIF's first frame may cover only part of the logical screen:
		// it is placed at its offset on a black canvas of the screen's size.
		if cfg.Format != shards.GIF {
			return fmt.Errorf("%w: %v: decoded bounds %v, header says %dx%d", ErrDecode, cfg.Format, b, cfg.Width, cfg.Height)
		}
		canvas := image.NewRGBA(image.Rect(0, 0, cfg.Width, cfg.Height))
		draw.Draw(canvas, b, m, b.Min, draw.Over)
		m = canvas
	}
	convert(dst, m, c)
	if cfg.Format == shards.JPEG {
		d.orient(dst, b)
	}
	return nil
}

// orient applies the EXIF orientation of the JPEG b to dst, unless
// d.IgnoreOrientation is set.
func (d *Decoder) orient(dst *pix.Image, b []byte) {
	if d.IgnoreOrientation {
		return
	}
	if o := Orientation(b); o != 1 {
		d.scratch = orient(dst, o, d.scratch)
	}
}

// fastConfig is DecodeConfig, reading a JPEG's frame header straight from
// the bytes (image/jpeg's DecodeConfig allocates a whole decoder to do it).
func fastConfig(b []byte) (Config, error) {
	if w, h, comps, ok := jpegSOF(b); ok {
		c := 3
		if comps == 1 {
			c = 1
		}
		return Config{Format: shards.JPEG, Width: w, Height: h, Channels: c}, nil
	}
	return DecodeConfig(b)
}

func (d *Decoder) check(cfg Config) error {
	w, h := int64(cfg.Width), int64(cfg.Height)
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%w: %v header gives size %dx%d", ErrDecode, cfg.Format, w, h)
	}
	if w > pix.MaxSide || h > pix.MaxSide || w*h > d.budget() {
		return &BudgetError{Format: cfg.Format, Width: cfg.Width, Height: cfg.Height, MaxPixels: d.budget()}
	}
	return nil
}

// DecodeRaw puts w×h×c uint8 HWC pixels (c = 1 or 3) into dst, converting to
// d.Channels. It copies pix.
func (d *Decoder) DecodeRaw(dst *pix.Image, pix []byte, w, h, c int) error {
	if err := d.checkRaw(w, h, c, len(pix)); err != nil {
		return err
	}
	out := d.Channels
	if out == 0 {
		out = c
	}
	rawInto(dst, pix, w, h, c, out)
	return nil
}

func (d *Decoder) checkRaw(w, h, c, n int) error {
	if c != 1 && c != 3 || w <= 0 || h <= 0 || n != w*h*c {
		return fmt.Errorf("%w: %d raw bytes for %dx%dx%d", ErrInvalid, n, w, h, c)
	}
	if d.Channels != 0 && d.Channels != 1 && d.Channels != 3 {
		return fmt.Errorf("%w: channels %d, want 0, 1 or 3", ErrInvalid, d.Channels)
	}
	if w > pix.MaxSide || h > pix.MaxSide || int64(w)*int64(h) > d.budget() {
		return &BudgetError{Width: w, Height: h, MaxPixels: d.budget()}
	}
	return nil
}

// rawInto converts tight w×h×c pixels to out channels in dst.
func rawInto(dst *pix.Image, pix []byte, w, h, c, out int) {
	dst.Reshape(w, h, out)
	switch {
	case c == out:
		copy(dst.Pix, pix)
	case c == 1: // gray → RGB
		for i, v := range pix {
			dst.Pix[3*i], dst.Pix[3*i+1], dst.Pix[3*i+2] = v, v, v
		}
	default: // RGB → gray
		for i := range dst.Pix {
			dst.Pix[i] = luma(pix[3*i], pix[3*i+1], pix[3*i+2])
		}
	}
}

// DecodeRecord decodes a record read by package shards into dst: raw
// encodings are decompressed (straight into dst.Pix when no channel
// conversion is needed), others decoded as images. The record's geometry is
// checked against the budget first.
func (d *Decoder) DecodeRecord(dst *pix.Image, r *shards.Record) error {
	if !r.Encoding.IsRaw() {
		return d.Decode(dst, r.Payload)
	}
	if err := d.checkRaw(r.Width, r.Height, r.Channels, r.PixelLen()); err != nil {
		if be, ok := err.(*BudgetError); ok {
			be.Format = r.Encoding
		}
		return err
	}
	out := d.Channels
	if out == 0 || out == r.Channels {
		pix, err := r.AppendPixels(dst.Pix[:0])
		if err != nil {
			return err
		}
		dst.W, dst.H, dst.C, dst.Stride, dst.Pix = r.Width, r.Height, r.Channels, r.Width*r.Channels, pix
		return nil
	}
	pix, err := r.AppendPixels(d.scratch[:0])
	if err != nil {
		return err
	}
	d.scratch = pix
	rawInto(dst, pix, r.Width, r.Height, r.Channels, out)
	return nil
}

// Decode decodes the encoded image b into dst with a zero Decoder set to
// the given channels (0, 1 or 3).
func Decode(dst *pix.Image, b []byte, channels int) error {
	d := Decoder{Channels: channels}
	return d.Decode(dst, b)
}
