package shards

import (
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// decoder decompresses raw-zstd payloads of one shard. Shards without a
// dictionary share one package-wide decoder.
type decoder struct {
	zd    *zstd.Decoder
	owned bool // zd belongs to this shard and is closed with it
}

var decoderOpts = []zstd.DOption{
	zstd.WithDecoderConcurrency(0), // DecodeAll may run on GOMAXPROCS goroutines at once
	zstd.WithDecoderMaxMemory(MaxPixelBytes + 1<<20),
	zstd.WithDecoderMaxWindow(MaxPixelBytes),
	zstd.WithDecodeAllCapLimit(true),
}

var sharedDecoder = sync.OnceValues(func() (*decoder, error) {
	zd, err := zstd.NewReader(nil, decoderOpts...)
	if err != nil {
		return nil, err
	}
	return &decoder{zd: zd}, nil
})

// newDecoder returns the decoder for a shard with dictionary dict (may be empty).
func newDecoder(dict []byte) (*decoder, error) {
	if len(dict) == 0 {
		return sharedDecoder()
	}
	zd, err := zstd.NewReader(nil, append(slices.Clip(decoderOpts), zstd.WithDecoderDicts(dict))...)
	if err != nil {
		return nil, err
	}
	return &decoder{zd: zd, owned: true}, nil
}

func (d *decoder) close() {
	if d != nil && d.owned {
		d.zd.Close()
	}
}

// AppendPixels appends the record's Width*Height*Channels decoded HWC pixels
// to dst and returns the extended slice. It works for raw encodings only
// (ErrNotRaw otherwise). It allocates only when dst lacks capacity; pass
// buf[:0] of a reused buffer to decode without allocating. For a Record
// built by the caller (not read from a shard) it copies Payload.
func (r *Record) AppendPixels(dst []byte) ([]byte, error) {
	if !r.Encoding.IsRaw() {
		return dst, fmt.Errorf("shards: record %q has encoding %v: %w", r.Key, r.Encoding, ErrNotRaw)
	}
	n := r.PixelLen()
	if !r.compressed() {
		if len(r.Payload) != n {
			return dst, fmt.Errorf("shards: record %q: %d payload bytes, want %dx%dx%d = %d: %w",
				r.Key, len(r.Payload), r.Width, r.Height, r.Channels, n, ErrInvalid)
		}
		return append(dst, r.Payload...), nil
	}
	// Check the sizes the payload declares before growing dst.
	switch r.Encoding {
	case RawS2:
		if dl, err := s2.DecodedLen(r.Payload); err != nil || dl != n {
			return dst, r.corrupt("S2 payload decodes to %d bytes, want %d (%v)", dl, n, err)
		}
	case RawZstd:
		var h zstd.Header
		if err := h.Decode(r.Payload); err != nil || h.Skippable {
			return dst, r.corrupt("zstd frame header: %v", err)
		}
		if h.HasFCS && h.FrameContentSize != uint64(n) {
			return dst, r.corrupt("zstd frame holds %d bytes, want %d", h.FrameContentSize, n)
		}
	}
	dst = slices.Grow(dst, n)
	l := len(dst)
	switch r.Encoding {
	case RawS2:
		out, err := s2.Decode(dst[l:l+n], r.Payload)
		if err != nil || len(out) != n || &out[0] != &dst[l : l+1][0] {
			return dst, r.corrupt("S2 payload: %v", err)
		}
	case RawZstd:
		dec := r.dec
		if dec == nil {
			var err error
			if dec, err = sharedDecoder(); err != nil {
				return dst, err
			}
		}
		out, err := dec.zd.DecodeAll(r.Payload, dst[:l:l+n])
		if err != nil || len(out) != l+n {
			return dst, r.corrupt("zstd payload decodes to %d bytes, want %d (%v)", len(out)-l, n, err)
		}
	}
	return dst[:l+n], nil
}

func (r *Record) corrupt(format string, args ...any) error {
	return newErr(r.path, r.index, r.offset, ErrCorrupt, format, args...)
}

// encoder compresses raw pixels for the Writer.
type encoder struct {
	zenc *zstd.Encoder
}

func newEncoder(level int, dict []byte) (*encoder, error) {
	opts := []zstd.EOption{
		zstd.WithEncoderLevel(zstd.EncoderLevelFromZstd(level)),
		zstd.WithEncoderConcurrency(1),
		zstd.WithEncoderCRC(false), // the record CRC covers the payload
		zstd.WithZeroFrames(true),
	}
	if len(dict) > 0 {
		opts = append(opts, zstd.WithEncoderDict(dict))
	}
	zenc, err := zstd.NewWriter(nil, opts...)
	if err != nil {
		return nil, err
	}
	return &encoder{zenc: zenc}, nil
}

func (e *encoder) compress(dst []byte, enc Encoding, pix []byte) []byte {
	if enc == RawS2 {
		return s2.Encode(dst[:cap(dst)], pix)
	}
	return e.zenc.EncodeAll(pix, dst[:0])
}

func (e *encoder) close() { e.zenc.Close() }
