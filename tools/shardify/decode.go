package main

import (
	"errors"
	"sync"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
)

// decoders holds one imageio.Decoder (which keeps scratch space) per
// concurrent caller.
var decoders = sync.Pool{New: func() any { return new(imageio.Decoder) }}

var errUnknownFormat = errors.New("unsupported or unrecognised image format")

// decodeImage decodes an encoded image with imageio: the header is
// checked against maxPixels before any pixel is decoded, gray sources stay
// gray and others become RGB, EXIF orientation is applied. It returns the
// format's shards encoding name ("jpeg", "png", ...).
func decodeImage(data []byte, maxPixels int64) (*ops.Image, string, error) {
	enc, ok := imageio.Sniff(data)
	if !ok {
		return nil, "", errUnknownFormat
	}
	d := decoders.Get().(*imageio.Decoder)
	defer decoders.Put(d)
	d.MaxPixels = maxPixels
	m := &ops.Image{}
	if err := d.Decode(m, data); err != nil {
		return nil, enc.String(), err
	}
	return m, enc.String(), nil
}
