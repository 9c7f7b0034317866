// Package convert turns one input sample into one shard record: it decodes
// encoded images (refusing those whose header claims too many pixels),
// downscales them when asked, and encodes the result as the chosen
// encoding. It holds no state between samples, so samples can be converted
// in any order on any number of goroutines and give the same records.
package convert

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"image/png"
	"math"
	"sync"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/sheet"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

// Encodings lists the --encoding values.
var Encodings = []string{"raw-zstd", "raw-s2", "keep", "jpeg"}

// DefaultMaxPixels is the default pixel budget: the pipeline's
// (imageio.DefaultMaxPixels, 64 Mi pixels), so that whatever packs by default
// can be read by a default pipeline.
const DefaultMaxPixels = imageio.DefaultMaxPixels

// ErrOptions reports an invalid option.
var ErrOptions = errors.New("invalid option")

// DecodeFunc decodes an encoded image into 8-bit gray or RGB pixels and
// names its format ("jpeg", "png", "webp", "gif", "bmp", "tiff"). It must
// refuse, before decoding, an image whose header claims more than maxPixels.
type DecodeFunc func(data []byte, maxPixels int64) (img *ops.Image, format string, err error)

// Options shape the records. They are part of what makes the output: the
// same input and Options give the same records.
type Options struct {
	Encoding  string     // one of Encodings
	Quality   int        // JPEG quality 1..100 for "jpeg" and re-encoded "keep"
	MaxSide   int        // 0: no limit; else downscale (ops.ResampleFilter) so the longer side ≤ MaxSide
	Filter    ops.Filter // MaxSide's resampling filter; the zero value is ops.Bilinear, the recipes' one
	MaxPixels int64      // pixel budget per image; 0 means DefaultMaxPixels
}

// Converter converts items with fixed Options. It is safe for concurrent use.
type Converter struct {
	opt    Options
	enc    shards.Encoding // for raw and jpeg
	decode DecodeFunc
}

// New validates opt and returns a Converter using decode for encoded inputs.
func New(opt Options, decode DecodeFunc) (*Converter, error) {
	c := &Converter{opt: opt, decode: decode}
	if c.opt.MaxPixels == 0 {
		c.opt.MaxPixels = DefaultMaxPixels
	}
	switch opt.Encoding {
	case "raw-zstd":
		c.enc = shards.RawZstd
	case "raw-s2":
		c.enc = shards.RawS2
	case "jpeg":
		c.enc = shards.JPEG
	case "keep":
	default:
		return nil, fmt.Errorf("convert: %w: encoding %q (want raw-zstd, raw-s2, keep or jpeg)", ErrOptions, opt.Encoding)
	}
	if opt.Quality < 1 || opt.Quality > 100 {
		return nil, fmt.Errorf("convert: %w: quality %d outside 1..100", ErrOptions, opt.Quality)
	}
	if opt.MaxSide < 0 || opt.MaxSide > ops.MaxSide {
		return nil, fmt.Errorf("convert: %w: max-side %d outside 0..%d", ErrOptions, opt.MaxSide, ops.MaxSide)
	}
	if opt.Filter != ops.Bilinear && opt.Filter != ops.Lanczos3 {
		return nil, fmt.Errorf("convert: %w: unknown resampling filter %v", ErrOptions, opt.Filter)
	}
	if c.opt.MaxPixels < 0 {
		return nil, fmt.Errorf("convert: %w: max-pixels %d is negative", ErrOptions, opt.MaxPixels)
	}
	return c, nil
}

// Result is the outcome of converting one item: a record, or a skip reason.
type Result struct {
	Rec  shards.Record
	Path string // the item's Path, for messages
	Skip string // non-empty: the item is skipped for this reason
	// InBytes is the input bytes the item accounted for; PixelBytes the
	// decoded pixel bytes (after any downscale) the record holds.
	InBytes, PixelBytes int64
}

// Convert converts one item. Problems with the item give a Result with Skip
// set; it never returns an error for bad input.
func (c *Converter) Convert(it source.Item) Result {
	r := Result{Path: it.Path, InBytes: it.InBytes, Skip: it.Skip}
	if r.Skip != "" {
		return r
	}
	r.Rec = shards.Record{Key: it.Key, Label: it.Label, HasLabel: it.HasLabel, Meta: it.Meta}
	if len(r.Rec.Meta) > shards.MaxMetaBytes {
		r.Rec.Meta = nil
	}
	img := it.Raw
	data := it.Data
	var format string
	if img == nil {
		if data == nil && it.Load != nil {
			b, err := it.Load()
			if err != nil {
				r.Skip = "read: " + err.Error()
				return r
			}
			data = b
		}
		if len(data) == 0 {
			r.Skip = "empty file"
			return r
		}
		m, f, err := c.decode(data, c.opt.MaxPixels)
		if err != nil {
			r.Skip = "decode: " + err.Error()
			return r
		}
		img, format = m, f
	} else if int64(img.W)*int64(img.H) > c.opt.MaxPixels {
		r.Skip = fmt.Sprintf("%dx%d image exceeds the %d-pixel budget", img.W, img.H, c.opt.MaxPixels)
		return r
	}
	if err := img.Validate(); err != nil || img.W < 1 || img.H < 1 {
		r.Skip = fmt.Sprintf("decoded image %dx%dx%d unusable", img.W, img.H, img.C)
		return r
	}
	nw, nh, resize := FitInside(img.W, img.H, c.opt.MaxSide)
	if c.opt.Encoding == "keep" && !resize {
		if format == "" {
			r.Skip = "keep needs encoded input"
			return r
		}
		enc, err := shards.ParseEncoding(format)
		if err != nil {
			r.Skip = "unsupported format " + format
			return r
		}
		r.Rec.Encoding, r.Rec.Payload = enc, data
		r.Rec.Width, r.Rec.Height, r.Rec.Channels = img.W, img.H, img.C
		r.PixelBytes = int64(img.W * img.H * img.C)
		return r
	}
	if resize {
		m := &ops.Image{}
		s := scratchPool.Get().(*ops.Scratch)
		err := ops.ResampleFilter(s, m, img, nw, nh, c.opt.Filter)
		scratchPool.Put(s)
		if err != nil {
			r.Skip = "resize: " + err.Error()
			return r
		}
		img = m
	}
	r.Rec.Width, r.Rec.Height, r.Rec.Channels = img.W, img.H, img.C
	r.PixelBytes = int64(img.W * img.H * img.C)
	enc := c.enc
	if c.opt.Encoding == "keep" {
		// Downscaled "keep": lossy sources become JPEG, lossless ones PNG.
		enc = shards.PNG
		if format == "jpeg" || format == "webp" {
			enc = shards.JPEG
		}
	}
	r.Rec.Encoding = enc
	switch enc {
	case shards.RawZstd, shards.RawS2:
		r.Rec.Payload = tight(img)
	case shards.JPEG:
		b, err := EncodeJPEG(img, c.opt.Quality)
		if err != nil {
			r.Skip = "jpeg encode: " + err.Error()
		}
		r.Rec.Payload = b
	case shards.PNG:
		b, err := EncodePNG(img)
		if err != nil {
			r.Skip = "png encode: " + err.Error()
		}
		r.Rec.Payload = b
	}
	return r
}

// tight returns img's pixels without row padding.
func tight(img *ops.Image) []byte {
	if img.Stride == img.W*img.C {
		return img.Pix[:img.H*img.Stride]
	}
	out := make([]byte, 0, img.W*img.H*img.C)
	for y := 0; y < img.H; y++ {
		out = append(out, img.Row(y)...)
	}
	return out
}

// EncodeJPEG encodes img as baseline JPEG (4:2:0 for RGB) at quality q.
func EncodeJPEG(img *ops.Image, q int) ([]byte, error) {
	var buf bytes.Buffer
	err := jpeg.Encode(&buf, sheet.ToImage(img), &jpeg.Options{Quality: q})
	return buf.Bytes(), err
}

// EncodePNG encodes img as PNG with default compression.
func EncodePNG(img *ops.Image) ([]byte, error) {
	var buf bytes.Buffer
	err := png.Encode(&buf, sheet.ToImage(img))
	return buf.Bytes(), err
}

// FitInside returns the size of a w×h image scaled so its longer side is
// at most maxSide, aspect ratio preserved (rounded, at least 1), and whether
// that is a change.
func FitInside(w, h, maxSide int) (int, int, bool) {
	if maxSide <= 0 || (w <= maxSide && h <= maxSide) {
		return w, h, false
	}
	if w >= h {
		nh := max(1, int(math.Round(float64(h)*float64(maxSide)/float64(w))))
		return maxSide, nh, true
	}
	nw := max(1, int(math.Round(float64(w)*float64(maxSide)/float64(h))))
	return nw, maxSide, true
}

// scratchPool holds the resampler's per-goroutine buffers: Convert runs on
// many goroutines at once.
var scratchPool = sync.Pool{New: func() any { return new(ops.Scratch) }}
