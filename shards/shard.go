package shards

import (
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strconv"
)

// Shard reads records of one shard file by index from an io.ReaderAt. Reading
// record i reads only that record's bytes; OpenShard reads the header,
// dictionary, index and trailer once. A Shard is safe for concurrent use.
type Shard struct {
	name    string
	ra      io.ReaderAt
	size    int64
	offsets []int64 // len Len()+1; offsets[Len()] is the end-of-records marker
	dict    []byte
	dec     *decoder
}

var emptyCRC = maskedCRC(nil)

// OpenShard validates the header, dictionary, trailer, index and
// end-of-records marker of the shard held by ra (size bytes long). name is
// used in error messages. Close releases the shard's decoder; ra stays the
// caller's to close.
func OpenShard(ra io.ReaderAt, size int64, name string) (*Shard, error) {
	if size < minShardSize {
		return nil, newErr(name, -1, size, ErrTruncated, "file of %d bytes is shorter than the smallest shard (%d bytes)", size, minShardSize)
	}
	var h [headerSize]byte
	if err := readAt(ra, h[:], 0, name, -1); err != nil {
		return nil, err
	}
	dictLen, dictCRC, err := parseHeader(name, h[:])
	if err != nil {
		return nil, err
	}
	first := int64(headerSize + dictLen)
	if first+frameOverhead*2+16+trailerSize > size {
		return nil, newErr(name, -1, headerSize, ErrTruncated, "dictionary of %d bytes overruns the %d-byte file", dictLen, size)
	}
	dict := make([]byte, dictLen)
	if err := readAt(ra, dict, headerSize, name, -1); err != nil {
		return nil, err
	}
	if maskedCRC(dict) != dictCRC {
		return nil, newErr(name, -1, headerSize, ErrChecksum, "dictionary checksum mismatch")
	}

	var t [trailerSize]byte
	toff := size - trailerSize
	if err := readAt(ra, t[:], toff, name, -1); err != nil {
		return nil, err
	}
	if [4]byte(t[20:]) != trailerMagic {
		return nil, newErr(name, -1, toff, ErrCorrupt, "bad trailer magic %q (truncated or not a shard)", t[20:])
	}
	if maskedCRC(t[:16]) != binary.LittleEndian.Uint32(t[16:]) {
		return nil, newErr(name, -1, toff, ErrChecksum, "trailer checksum mismatch")
	}
	indexOff := int64(binary.LittleEndian.Uint64(t[0:]))
	n64 := binary.LittleEndian.Uint64(t[8:])
	if n64 > MaxShardRecords || n64 > uint64(size/minFrame) {
		return nil, newErr(name, -1, toff, ErrCorrupt, "record count %d out of bounds", n64)
	}
	n := int(n64)
	il := indexBodyLen(n)
	if indexOff != toff-int64(frameOverhead+il) || indexOff < first+frameOverhead {
		return nil, newErr(name, -1, toff, ErrCorrupt, "index offset %d inconsistent with %d records in a %d-byte file", indexOff, n, size)
	}
	frame := make([]byte, frameOverhead+il)
	if err := readAt(ra, frame, indexOff, name, -1); err != nil {
		return nil, err
	}
	body, msg, sentinel := checkFrame(frame)
	if msg != "" {
		return nil, newErr(name, -1, indexOff, sentinel, "index %s", msg)
	}
	if binary.LittleEndian.Uint64(body) != n64 {
		return nil, newErr(name, -1, indexOff, ErrCorrupt, "index holds %d records, trailer says %d", binary.LittleEndian.Uint64(body), n)
	}
	offsets := make([]int64, n+1)
	prev := first - minFrame
	for i := range offsets {
		o := binary.LittleEndian.Uint64(body[8+8*i:])
		want := prev + minFrame
		if i == 0 {
			want = first
		}
		if (i == 0 && int64(o) != first) || o < uint64(want) || o > uint64(indexOff-frameOverhead) {
			return nil, newErr(name, i, indexOff+int64(frameOverhead-4+8+8*i), ErrCorrupt, "index entry %d (offset %d) out of order or out of bounds", i, o)
		}
		offsets[i] = int64(o)
		prev = int64(o)
	}
	termOff := offsets[n]
	if termOff != indexOff-frameOverhead {
		return nil, newErr(name, n, termOff, ErrCorrupt, "end-of-records marker at %d, index starts at %d", termOff, indexOff)
	}
	var term [frameOverhead]byte
	if err := readAt(ra, term[:], termOff, name, n); err != nil {
		return nil, err
	}
	if body, msg, sentinel := checkFrame(term[:]); msg != "" || len(body) != 0 {
		if msg == "" {
			msg, sentinel = "end-of-records marker is not empty", ErrCorrupt
		}
		return nil, newErr(name, n, termOff, sentinel, "end-of-records marker: %s", msg)
	}
	dec, err := newDecoder(dict)
	if err != nil {
		return nil, newErr(name, -1, headerSize, ErrCorrupt, "zstd dictionary: %v", err)
	}
	return &Shard{name: name, ra: ra, size: size, offsets: offsets, dict: dict, dec: dec}, nil
}

// readAt reads len(b) bytes at off, mapping a short read to ErrTruncated.
func readAt(ra io.ReaderAt, b []byte, off int64, name string, rec int) error {
	_, err := ra.ReadAt(b, off)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newErr(name, rec, off, ErrTruncated, "unexpected end of file reading %d bytes", len(b))
	}
	return &Error{Path: name, Record: rec, Offset: off, Msg: err.Error(), Err: err}
}

// checkFrame checks a complete frame (length, length CRC, body, body CRC)
// and returns its body, or a problem description and its sentinel.
func checkFrame(f []byte) (body []byte, msg string, sentinel error) {
	if len(f) < frameOverhead {
		return nil, "frame shorter than 16 bytes", ErrTruncated
	}
	if maskedCRC(f[:8]) != binary.LittleEndian.Uint32(f[8:]) {
		return nil, "length checksum mismatch", ErrChecksum
	}
	if l := binary.LittleEndian.Uint64(f); l != uint64(len(f)-frameOverhead) {
		return nil, "length field " + strconv.FormatUint(l, 10) + " disagrees with the index (" + strconv.FormatUint(uint64(len(f)-frameOverhead), 10) + ")", ErrCorrupt
	}
	body = f[12 : len(f)-4]
	if maskedCRC(body) != binary.LittleEndian.Uint32(f[len(f)-4:]) {
		return nil, "payload checksum mismatch", ErrChecksum
	}
	return body, "", nil
}

// Name returns the name given to OpenShard.
func (s *Shard) Name() string { return s.name }

// Len returns the number of records in the shard.
func (s *Shard) Len() int { return len(s.offsets) - 1 }

// Record reads record i into r, reusing r's buffers (no allocation in steady
// state). r.Payload and r.Meta alias r's buffer until the next read into r.
// Both CRCs are checked.
func (s *Shard) Record(i int, r *Record) error {
	if i < 0 || i >= s.Len() {
		return newErr(s.name, i, -1, ErrInvalid, "index out of range [0, %d)", s.Len())
	}
	off, end := s.offsets[i], s.offsets[i+1]
	n := int(end - off)
	r.buf = slices.Grow(r.buf[:0], n)[:n]
	if err := readAt(s.ra, r.buf, off, s.name, i); err != nil {
		return err
	}
	body, msg, sentinel := checkFrame(r.buf)
	if msg != "" {
		return newErr(s.name, i, off, sentinel, "%s", msg)
	}
	return s.fill(r, body, i, off)
}

func (s *Shard) fill(r *Record, body []byte, i int, off int64) error {
	if msg := parseBody(r, body); msg != "" {
		return newErr(s.name, i, off, ErrCorrupt, "%s", msg)
	}
	r.dec, r.path, r.index, r.offset = s.dec, s.name, i, off
	return nil
}

// Close releases the shard's zstd decoder. It does not close the ReaderAt.
func (s *Shard) Close() error {
	s.dec.close()
	return nil
}
