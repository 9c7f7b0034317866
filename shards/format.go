package shards

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"unicode/utf8"
)

// Version is the shard file format version this package writes and the
// only one it reads. The manifest has its own, ManifestVersion.
const Version = 1

// Bounds on what a shard may contain. A reader rejects anything larger as
// corrupt, so a hostile file cannot make it allocate without limit.
const (
	MaxKeyBytes     = 1024      // key length in bytes (at least 1)
	MaxMetaBytes    = 16 << 10  // metadata length in bytes
	MaxSide         = 1 << 15   // image width and height
	MaxPixelBytes   = 1 << 28   // width*height*channels of a raw record
	MaxRecordBytes  = 1 << 28   // record body length
	MaxDictBytes    = 1 << 20   // per-shard zstd dictionary length
	MaxShardRecords = 1 << 22   // records in one shard
	MaxManifestSize = 256 << 20 // index.json size in bytes
)

// Layout constants (see FORMAT.md).
const (
	headerSize    = 24
	trailerSize   = 24
	frameOverhead = 16 // u64 length, u32 length CRC, u32 body CRC
	bodyFixed     = 20 // fixed part of a record body
	minFrame      = frameOverhead + bodyFixed + 1
	minShardSize  = headerSize + frameOverhead + frameOverhead + 16 + trailerSize
	flagLabel     = 1
)

var (
	headerMagic  = [8]byte{0x89, 'P', 'F', 'S', '\r', '\n', 0x1a, '\n'}
	trailerMagic = [4]byte{'P', 'F', 'S', 'E'}
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
)

// maskedCRC is TFRecord's masked CRC-32C of b.
func maskedCRC(b []byte) uint32 { return mask(crc32.Checksum(b, castagnoli)) }

func mask(c uint32) uint32 { return ((c >> 15) | (c << 17)) + 0xa282ead8 }

// Encoding says how a record's payload holds its pixels.
type Encoding uint8

// Encodings. The numeric values are part of the file format.
const (
	RawZstd Encoding = 1 // uint8 HWC pixels, one zstd frame (maybe against the shard dictionary)
	RawS2   Encoding = 2 // uint8 HWC pixels, one S2 block
	JPEG    Encoding = 3 // the original encoded file, as-is
	PNG     Encoding = 4
	WebP    Encoding = 5
	GIF     Encoding = 6
	BMP     Encoding = 7
	TIFF    Encoding = 8
)

var encodingNames = [...]string{"", "raw-zstd", "raw-s2", "jpeg", "png", "webp", "gif", "bmp", "tiff"}

// String returns the encoding's name: "raw-zstd", "raw-s2", "jpeg", "png",
// "webp", "gif", "bmp" or "tiff".
func (e Encoding) String() string {
	if e.Valid() {
		return encodingNames[e]
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

// Valid reports whether e is a known encoding.
func (e Encoding) Valid() bool { return e >= RawZstd && e <= TIFF }

// IsRaw reports whether e stores compressed raw pixels.
func (e Encoding) IsRaw() bool { return e == RawZstd || e == RawS2 }

// ParseEncoding returns the encoding named s (as String writes it).
func ParseEncoding(s string) (Encoding, error) {
	for i, n := range encodingNames {
		if i > 0 && n == s {
			return Encoding(i), nil
		}
	}
	return 0, fmt.Errorf("shards: unknown encoding %q (want raw-zstd, raw-s2, jpeg, png, webp, gif, bmp or tiff): %w", s, ErrInvalid)
}

// Record is one image. On the write side the caller fills the exported fields;
// on the read side a read fills them, reusing the Record's internal buffers.
type Record struct {
	Key      string // unique in the split, 1..MaxKeyBytes bytes of UTF-8
	Label    int32  // meaningful only if HasLabel
	HasLabel bool
	Meta     []byte // optional, at most MaxMetaBytes
	// Geometry. Raw encodings require 1 <= Width, Height <= MaxSide and
	// Channels 1 or 3. For encoded images they are what the writer knew (0 if
	// unknown) and Channels is 0..4.
	Width, Height, Channels int
	Encoding                Encoding
	// Payload: on Append, raw encodings take Width*Height*Channels
	// uncompressed pixels; others the encoded file. After a read, Payload is
	// the stored bytes (compressed for raw encodings, see AppendPixels).
	Payload []byte

	buf    []byte // frame buffer that Payload and Meta alias after a read
	keys   []byte // arena of key bytes; never rewritten once handed out
	stored []byte // the payload as read; Payload still equal to it means compressed
	dec    *decoder
	path   string
	index  int
	offset int64
}

// compressed reports whether Payload holds stored (compressed) raw pixels:
// the record was read from a shard and the caller has not replaced Payload.
func (r *Record) compressed() bool {
	return r.Encoding.IsRaw() && len(r.Payload) == len(r.stored) && len(r.stored) > 0 && &r.Payload[0] == &r.stored[0]
}

// PixelLen returns Width*Height*Channels.
func (r *Record) PixelLen() int { return r.Width * r.Height * r.Channels }

// setKey sets r.Key from b without allocating in steady state: key bytes are
// appended to an arena that is never overwritten (a full arena is dropped
// and a new one allocated), so the returned strings stay immutable.
func (r *Record) setKey(b []byte) {
	if len(b) == len(r.Key) && string(b) == r.Key {
		return
	}
	if cap(r.keys)-len(r.keys) < len(b) {
		r.keys = make([]byte, 0, max(4096, len(b)))
	}
	n := len(r.keys)
	r.keys = append(r.keys, b...)
	r.Key = unsafeString(r.keys[n : n+len(b)])
}

// validate checks a record handed to Append.
func (r *Record) validate() error {
	switch {
	case len(r.Key) == 0 || len(r.Key) > MaxKeyBytes:
		return fmt.Errorf("key length %d outside [1, %d]", len(r.Key), MaxKeyBytes)
	case !utf8.ValidString(r.Key):
		return fmt.Errorf("key %q is not valid UTF-8", r.Key)
	case len(r.Meta) > MaxMetaBytes:
		return fmt.Errorf("metadata length %d above %d", len(r.Meta), MaxMetaBytes)
	case !r.Encoding.Valid():
		return fmt.Errorf("unknown %v", r.Encoding)
	case !r.HasLabel && r.Label != 0:
		return fmt.Errorf("label %d set but HasLabel false", r.Label)
	}
	return checkGeometry(r.Encoding, r.Width, r.Height, r.Channels)
}

func checkGeometry(e Encoding, w, h, c int) error {
	if e.IsRaw() {
		if w < 1 || h < 1 || w > MaxSide || h > MaxSide || (c != 1 && c != 3) || w*h*c > MaxPixelBytes {
			return fmt.Errorf("raw geometry %dx%dx%d outside bounds (sides 1..%d, channels 1 or 3, at most %d bytes)", w, h, c, MaxSide, MaxPixelBytes)
		}
		return nil
	}
	if w < 0 || h < 0 || w > MaxSide || h > MaxSide || c < 0 || c > 4 {
		return fmt.Errorf("geometry %dx%dx%d outside bounds (sides 0..%d, channels 0..4)", w, h, c, MaxSide)
	}
	return nil
}

// appendFrame appends a record frame with the given body to dst.
func appendFrame(dst, body []byte) []byte {
	var h [12]byte
	binary.LittleEndian.PutUint64(h[:8], uint64(len(body)))
	binary.LittleEndian.PutUint32(h[8:], maskedCRC(h[:8]))
	dst = append(dst, h[:]...)
	dst = append(dst, body...)
	return binary.LittleEndian.AppendUint32(dst, maskedCRC(body))
}

// appendBody appends r's record body, with payload p, to dst.
func appendBody(dst []byte, r *Record, p []byte) []byte {
	var f [bodyFixed]byte
	f[0] = byte(r.Encoding)
	if r.HasLabel {
		f[1] = flagLabel
	}
	f[2] = byte(r.Channels)
	binary.LittleEndian.PutUint32(f[4:], uint32(r.Width))
	binary.LittleEndian.PutUint32(f[8:], uint32(r.Height))
	binary.LittleEndian.PutUint32(f[12:], uint32(r.Label))
	binary.LittleEndian.PutUint16(f[16:], uint16(len(r.Key)))
	binary.LittleEndian.PutUint16(f[18:], uint16(len(r.Meta)))
	dst = append(dst, f[:]...)
	dst = append(dst, r.Key...)
	dst = append(dst, r.Meta...)
	return append(dst, p...)
}

// parseBody fills r from a record body (which r keeps aliasing). It returns
// a description of the first problem found, or "".
func parseBody(r *Record, b []byte) string {
	if len(b) < bodyFixed+1 {
		return fmt.Sprintf("record body of %d bytes is shorter than %d", len(b), bodyFixed+1)
	}
	enc := Encoding(b[0])
	if !enc.Valid() {
		return fmt.Sprintf("unknown encoding %d", b[0])
	}
	if b[1]&^flagLabel != 0 || b[3] != 0 {
		return fmt.Sprintf("reserved bits set (flags %#x, reserved %#x)", b[1], b[3])
	}
	w := binary.LittleEndian.Uint32(b[4:])
	h := binary.LittleEndian.Uint32(b[8:])
	if w > MaxSide || h > MaxSide {
		return fmt.Sprintf("image size %dx%d above %d", w, h, MaxSide)
	}
	c := int(b[2])
	if err := checkGeometry(enc, int(w), int(h), c); err != nil {
		return err.Error()
	}
	label := int32(binary.LittleEndian.Uint32(b[12:]))
	hasLabel := b[1]&flagLabel != 0
	if !hasLabel && label != 0 {
		return "label set without the label flag"
	}
	kl := int(binary.LittleEndian.Uint16(b[16:]))
	ml := int(binary.LittleEndian.Uint16(b[18:]))
	if kl < 1 || kl > MaxKeyBytes || ml > MaxMetaBytes {
		return fmt.Sprintf("key length %d or metadata length %d out of bounds", kl, ml)
	}
	if bodyFixed+kl+ml > len(b) {
		return fmt.Sprintf("key (%d bytes) and metadata (%d bytes) overrun the %d-byte record", kl, ml, len(b))
	}
	key := b[bodyFixed : bodyFixed+kl]
	if !utf8.Valid(key) {
		return "key is not valid UTF-8"
	}
	r.setKey(key)
	r.Encoding, r.HasLabel, r.Label = enc, hasLabel, label
	r.Width, r.Height, r.Channels = int(w), int(h), c
	r.Meta = b[bodyFixed+kl : bodyFixed+kl+ml : bodyFixed+kl+ml]
	if ml == 0 {
		r.Meta = nil
	}
	if enc.IsRaw() && bodyFixed+kl+ml == len(b) {
		return "raw record with an empty payload"
	}
	r.Payload = b[bodyFixed+kl+ml:]
	r.stored = r.Payload
	return ""
}

func appendHeader(dst, dict []byte) []byte {
	var h [headerSize]byte
	copy(h[:], headerMagic[:])
	binary.LittleEndian.PutUint32(h[8:], Version)
	binary.LittleEndian.PutUint32(h[12:], uint32(len(dict)))
	binary.LittleEndian.PutUint32(h[16:], maskedCRC(dict))
	binary.LittleEndian.PutUint32(h[20:], maskedCRC(h[:20]))
	dst = append(dst, h[:]...)
	return append(dst, dict...)
}

// parseHeader checks the fixed header and returns the dictionary length and
// its masked CRC.
func parseHeader(path string, h []byte) (dictLen int, dictCRC uint32, err error) {
	if [8]byte(h[:8]) != headerMagic {
		return 0, 0, newErr(path, -1, 0, ErrCorrupt, "not a pairflow shard (bad magic %q)", h[:8])
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != Version {
		return 0, 0, newErr(path, -1, 8, ErrVersion, "shard format version %d, this reader knows only version %d", v, Version)
	}
	if maskedCRC(h[:20]) != binary.LittleEndian.Uint32(h[20:]) {
		return 0, 0, newErr(path, -1, 0, ErrChecksum, "header checksum mismatch")
	}
	dl := binary.LittleEndian.Uint32(h[12:])
	if dl > MaxDictBytes {
		return 0, 0, newErr(path, -1, 12, ErrCorrupt, "dictionary length %d above %d", dl, MaxDictBytes)
	}
	return int(dl), binary.LittleEndian.Uint32(h[16:]), nil
}

func appendTrailer(dst []byte, indexOff int64, n int) []byte {
	var t [trailerSize]byte
	binary.LittleEndian.PutUint64(t[0:], uint64(indexOff))
	binary.LittleEndian.PutUint64(t[8:], uint64(n))
	binary.LittleEndian.PutUint32(t[16:], maskedCRC(t[:16]))
	copy(t[20:], trailerMagic[:])
	return append(dst, t[:]...)
}

// indexBodyLen is the length of the index frame's body for n records.
func indexBodyLen(n int) int { return 8 + 8*(n+1) }

func utf8Valid(s string) bool { return utf8.ValidString(s) }
