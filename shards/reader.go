package shards

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"slices"
)

// readBufSize is the Reader's buffer size. Bodies at least this large are
// read straight into the Record's buffer (bufio bypasses its buffer for
// them), so large payloads are copied once, by the kernel.
const readBufSize = 32 << 10

// Reader reads one shard sequentially from an io.Reader (a file, a pipe, an
// HTTP body), checking every CRC, and at the end the index and trailer
// against what it read. It is not safe for concurrent use.
type Reader struct {
	name     string
	br       *bufio.Reader
	off      int64
	offsets  []int64
	dec      *decoder
	err      error
	scratch  [trailerSize]byte // frame headers, CRCs and the trailer (kept off the heap per read)
	nextHdr  [12]byte          // the next frame's header, read ahead
	haveNext bool
	nextErr  error // error reading ahead, reported by the next Next
}

// NewReader reads and checks the shard header (and dictionary) from rd. name
// is used in error messages. If rd is a *bufio.Reader of at least 32 KiB it
// is used as is (so a caller can reuse one across shards); otherwise rd is
// wrapped in a 32 KiB bufio.Reader. The stream must hold exactly one shard: bytes
// after the trailer are an error.
func NewReader(rd io.Reader, name string) (*Reader, error) {
	return newReader(rd, name, nil)
}

// newReader is NewReader, reusing the decoder of shard s (may be nil) when the
// stream's dictionary is the one s holds.
func newReader(rd io.Reader, name string, s *Shard) (*Reader, error) {
	br, ok := rd.(*bufio.Reader)
	if !ok || br.Size() < readBufSize {
		br = bufio.NewReaderSize(rd, readBufSize)
	}
	r := &Reader{name: name, br: br}
	var h [headerSize]byte
	if err := r.readFull(h[:], -1); err != nil {
		return nil, err
	}
	dictLen, dictCRC, err := parseHeader(name, h[:])
	if err != nil {
		return nil, err
	}
	dict := make([]byte, dictLen)
	if err := r.readFull(dict, -1); err != nil {
		return nil, err
	}
	if maskedCRC(dict) != dictCRC {
		return nil, newErr(name, -1, headerSize, ErrChecksum, "dictionary checksum mismatch")
	}
	if s != nil && bytes.Equal(dict, s.dict) {
		r.dec = s.dec
	} else if r.dec, err = newDecoder(dict); err != nil {
		return nil, newErr(name, -1, headerSize, ErrCorrupt, "zstd dictionary: %v", err)
	}
	return r, nil
}

// readFull reads exactly len(b) bytes, advancing r.off; a short read is
// ErrTruncated at the offset where the read started.
func (r *Reader) readFull(b []byte, rec int) error {
	n, err := io.ReadFull(r.br, b)
	off := r.off
	r.off += int64(n)
	if err == nil {
		return nil
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return newErr(r.name, rec, off, ErrTruncated, "unexpected end of file (%d of %d bytes)", n, len(b))
	}
	return &Error{Path: r.name, Record: rec, Offset: off, Msg: err.Error(), Err: err}
}

// maxReadAhead bounds the allocation readAhead makes from an unchecked
// length; longer records go through readBody.
const maxReadAhead = 4 << 20

// readAhead reads n bytes into buf and, if the stream has them, the next 12
// bytes into r.nextHdr.
func (r *Reader) readAhead(buf []byte, n, rec int) ([]byte, error) {
	buf = slices.Grow(buf[:0], n+12)[:n+12]
	got, err := io.ReadFull(r.br, buf)
	if got < n {
		r.off += int64(got)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return buf, newErr(r.name, rec, r.off-int64(got), ErrTruncated, "unexpected end of file (%d of %d bytes)", got, n)
		}
		return buf, &Error{Path: r.name, Record: rec, Offset: r.off - int64(got), Msg: err.Error(), Err: err}
	}
	r.off += int64(n)
	if got == n+12 {
		copy(r.nextHdr[:], buf[n:])
		r.haveNext = true
	} else if got > n || err != nil {
		// The next frame header is cut short; report it when it is read.
		off := r.off
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			r.nextErr = newErr(r.name, rec+1, off, ErrTruncated, "unexpected end of file (%d of 12 bytes)", got-n)
		} else {
			r.nextErr = &Error{Path: r.name, Record: rec + 1, Offset: off, Msg: err.Error(), Err: err}
		}
	}
	return buf[:n], nil
}

// readBody reads n bytes into buf without trusting n for the allocation: the
// buffer grows at most twofold beyond the bytes actually read.
func (r *Reader) readBody(buf []byte, n, rec int) ([]byte, error) {
	if cap(buf) >= n {
		buf = buf[:n]
		return buf, r.readFull(buf, rec)
	}
	buf = buf[:0]
	for len(buf) < n {
		chunk := min(n-len(buf), max(len(buf), 1<<20))
		buf = slices.Grow(buf, chunk)
		l := len(buf)
		buf = buf[:l+chunk]
		if err := r.readFull(buf[l:], rec); err != nil {
			return buf, err
		}
	}
	return buf, nil
}

// Count returns the number of records read so far.
func (r *Reader) Count() int { return len(r.offsets) }

// Next reads the next record into rec, reusing rec's buffers (no allocation
// in steady state); rec.Payload and rec.Meta alias rec's buffer until the next
// read into rec. At the end of the shard, after checking the index and
// trailer, Next returns io.EOF. Any other error is an *Error and is sticky.
func (r *Reader) Next(rec *Record) error {
	if r.err != nil {
		return r.err
	}
	if r.nextErr != nil {
		r.err = r.nextErr
		return r.err
	}
	r.err = r.next(rec)
	return r.err
}

func (r *Reader) next(rec *Record) error {
	i := len(r.offsets)
	start := r.off
	h := r.scratch[:12]
	if r.haveNext { // read ahead with the previous record
		h = r.nextHdr[:]
		r.haveNext = false
		r.off += 12
	} else if err := r.readFull(h, i); err != nil {
		return err
	}
	if maskedCRC(h[:8]) != binary.LittleEndian.Uint32(h[8:]) {
		return newErr(r.name, i, start, ErrChecksum, "length checksum mismatch")
	}
	l := binary.LittleEndian.Uint64(h[:8])
	if l == 0 {
		return r.finish(start)
	}
	if l < bodyFixed+1 || l > MaxRecordBytes {
		return newErr(r.name, i, start, ErrCorrupt, "record length %d outside [%d, %d]", l, bodyFixed+1, MaxRecordBytes)
	}
	if len(r.offsets) >= MaxShardRecords {
		return newErr(r.name, i, start, ErrCorrupt, "more than %d records", MaxShardRecords)
	}
	var err error
	if need := int(l) + 4; need >= readBufSize && need <= maxReadAhead {
		// A large record: read it and the next frame's 12-byte header in
		// one read straight into rec.buf (bufio does not copy reads of at
		// least its size), so the bytes are copied once, by the kernel.
		rec.buf, err = r.readAhead(rec.buf, need, i)
	} else {
		rec.buf, err = r.readBody(rec.buf, need, i)
	}
	if e, ok := err.(*Error); ok {
		e.Offset = start // errors about a record name the offset of its frame
		return e
	} else if err != nil {
		return err
	}
	body := rec.buf[:l]
	if maskedCRC(body) != binary.LittleEndian.Uint32(rec.buf[l:]) {
		return newErr(r.name, i, start, ErrChecksum, "payload checksum mismatch")
	}
	if msg := parseBody(rec, body); msg != "" {
		return newErr(r.name, i, start, ErrCorrupt, "%s", msg)
	}
	rec.dec, rec.path, rec.index, rec.offset = r.dec, r.name, i, start
	r.offsets = append(r.offsets, start)
	return nil
}

// finish checks the end-of-records marker, the index and the trailer, and
// that nothing follows.
func (r *Reader) finish(termOff int64) error {
	n := len(r.offsets)
	c := r.scratch[:4]
	if err := r.readFull(c, n); err != nil {
		if e, ok := err.(*Error); ok {
			e.Offset = termOff
		}
		return err
	}
	if binary.LittleEndian.Uint32(c) != emptyCRC {
		return newErr(r.name, n, termOff, ErrChecksum, "end-of-records marker checksum mismatch")
	}
	indexOff := r.off
	il := indexBodyLen(n)
	frame := make([]byte, frameOverhead+il) // bounded by the records actually read
	if err := r.readFull(frame[:12], -1); err != nil {
		return err
	}
	if maskedCRC(frame[:8]) != binary.LittleEndian.Uint32(frame[8:]) {
		return newErr(r.name, -1, indexOff, ErrChecksum, "index length checksum mismatch")
	}
	if l := binary.LittleEndian.Uint64(frame); l != uint64(il) {
		return newErr(r.name, -1, indexOff, ErrCorrupt, "index length %d, want %d for %d records", l, il, n)
	}
	if err := r.readFull(frame[12:], -1); err != nil {
		return err
	}
	body, msg, sentinel := checkFrame(frame)
	if msg != "" {
		return newErr(r.name, -1, indexOff, sentinel, "index %s", msg)
	}
	if binary.LittleEndian.Uint64(body) != uint64(n) {
		return newErr(r.name, -1, indexOff, ErrCorrupt, "index holds %d records, read %d", binary.LittleEndian.Uint64(body), n)
	}
	for i := 0; i <= n; i++ {
		want := termOff
		if i < n {
			want = r.offsets[i]
		}
		if o := binary.LittleEndian.Uint64(body[8+8*i:]); o != uint64(want) {
			return newErr(r.name, i, indexOff, ErrCorrupt, "index entry %d is %d, record is at %d", i, o, want)
		}
	}
	t := r.scratch[:]
	toff := r.off
	if err := r.readFull(t, -1); err != nil {
		return err
	}
	if [4]byte(t[20:]) != trailerMagic || maskedCRC(t[:16]) != binary.LittleEndian.Uint32(t[16:]) {
		return newErr(r.name, -1, toff, ErrChecksum, "trailer checksum or magic mismatch")
	}
	if int64(binary.LittleEndian.Uint64(t[0:])) != indexOff || binary.LittleEndian.Uint64(t[8:]) != uint64(n) {
		return newErr(r.name, -1, toff, ErrCorrupt, "trailer disagrees with the index")
	}
	if _, err := r.br.ReadByte(); err != io.EOF {
		return newErr(r.name, -1, r.off, ErrCorrupt, "data after the trailer")
	}
	return io.EOF
}
