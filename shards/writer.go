package shards

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/pairflow/pairflow/store"
)

// Defaults for WriterOptions.
const (
	DefaultMaxShardBytes = 128 << 20
	DefaultZstdLevel     = 3
	// The dictionary is built from the split's first dictSamples records
	// (or fewer, once their payloads reach dictSampleBytes).
	dictSamples     = 256
	dictSampleBytes = 4 << 20
	dictHistory     = 32 << 10
	dictID          = 1
)

// WriterOptions configure Create. The zero value of each optional field
// selects its default; every value is recorded in the manifest.
type WriterOptions struct {
	// Split names the split; shard files are "<Split>-00000.pfs", ...
	// Required: 1..64 of [A-Za-z0-9_.-], starting with a letter or digit.
	Split string
	// MaxShardBytes rolls to a new shard before a record would make the
	// shard file larger than this (a single larger record gets a shard of
	// its own). 0 means DefaultMaxShardBytes.
	MaxShardBytes int64
	// MaxShardRecords caps records per shard. 0 means MaxShardRecords.
	MaxShardRecords int
	// ZstdLevel is the zstd level (1..22) for raw-zstd records. 0 means
	// DefaultZstdLevel.
	ZstdLevel int
	// Dictionary builds a zstd dictionary from the split's first records
	// (zstd.BuildDict, deterministic) and stores it in every shard.
	// It helps small raw-zstd records; it is ignored for other encodings.
	Dictionary bool
	// Classes are the label names, in label order, when known.
	Classes []string
	// Options are the packer's output-shaping options, recorded verbatim.
	Options map[string]string

	// Store configures the client when Create is given an s3:// URL.
	Store store.Options
	// Overwrite lets Create replace a dataset already at an s3:// URL
	// (without it that is ErrExists). A local directory is always
	// replaced, as before.
	Overwrite bool
}

// Writer writes one split. It is not safe for concurrent use.
type Writer struct {
	dir     string
	opts    WriterOptions
	keys    map[string]struct{}
	skipped []Skipped
	shards  []ShardInfo
	written []string // files this Writer created and renamed into place
	total   int64

	pending      []Record // dictionary phase: records held back, deep copies
	pendingBytes int
	dictDone     bool
	dict         []byte
	enc          *encoder

	up *uploader // non-nil when writing to object storage

	cur    *shardFile
	frame  []byte // record body being written
	comp   []byte // compressed pixels
	err    error  // sticky I/O error
	closed bool
}

type shardFile struct {
	name, tmp string
	f         *os.File
	bw        *bufio.Writer
	h         hash.Hash
	off       int64
	offsets   []int64
}

// Create prepares dir for writing split opts.Split. It creates dir if needed
// and removes what an earlier (perhaps interrupted) run of the same split left
// there: the manifest first, then shard files and temporary files.
//
// dir may also be an s3:// URL: shards are then written to a local staging
// directory (under os.TempDir) and uploaded as each is finished, and the
// manifest is uploaded last (with a conditional put that fails if one
// appeared meanwhile, where the store supports it), so readers never see a
// partial split and an interrupted run leaves no manifest. If a manifest is
// there already, Create refuses (ErrExists) unless opts.Overwrite, which
// removes the old manifest first and then the split's old shards.
func Create(dir string, opts WriterOptions) (*Writer, error) {
	if !validSplit(opts.Split) {
		return nil, fmt.Errorf("shards: invalid split name %q: %w", opts.Split, ErrInvalid)
	}
	switch {
	case opts.MaxShardBytes < 0:
		return nil, fmt.Errorf("shards: MaxShardBytes %d is negative: %w", opts.MaxShardBytes, ErrInvalid)
	case opts.MaxShardRecords < 0 || opts.MaxShardRecords > MaxShardRecords:
		return nil, fmt.Errorf("shards: MaxShardRecords %d outside [0, %d]: %w", opts.MaxShardRecords, MaxShardRecords, ErrInvalid)
	case opts.ZstdLevel < 0 || opts.ZstdLevel > 22:
		return nil, fmt.Errorf("shards: ZstdLevel %d outside [0, 22]: %w", opts.ZstdLevel, ErrInvalid)
	}
	for _, c := range opts.Classes {
		if !utf8Valid(c) {
			return nil, fmt.Errorf("shards: class name %q is not UTF-8: %w", c, ErrInvalid)
		}
	}
	if opts.MaxShardBytes == 0 {
		opts.MaxShardBytes = DefaultMaxShardBytes
	}
	if opts.MaxShardRecords == 0 {
		opts.MaxShardRecords = MaxShardRecords
	}
	if opts.ZstdLevel == 0 {
		opts.ZstdLevel = DefaultZstdLevel
	}
	opts.Classes = slices.Clone(opts.Classes)
	opts.Options = maps.Clone(opts.Options)
	var up *uploader
	if store.IsRemote(dir) {
		var err error
		if up, err = newUploader(dir, opts); err != nil {
			return nil, err
		}
		dir = up.staging
	} else {
		loc, err := store.ParseLocation(dir)
		if err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
		dir = loc.Path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	if err := clean(dir, opts.Split); err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, opts: opts, keys: make(map[string]struct{}), dictDone: !opts.Dictionary, up: up}
	if w.dictDone {
		enc, err := newEncoder(opts.ZstdLevel, nil)
		if err != nil {
			return nil, fmt.Errorf("shards: %w", err)
		}
		w.enc = enc
	}
	return w, nil
}

// isSplitFile reports whether name is a shard or temporary file of split.
func isSplitFile(name, split string) bool {
	base := strings.TrimPrefix(name, ".")
	tmp := base != name
	if tmp {
		var ok bool
		if base, ok = strings.CutSuffix(base, ".tmp"); !ok {
			return false
		}
		if base == ManifestName {
			return true
		}
	}
	num, ok := strings.CutPrefix(base, split+"-")
	if !ok {
		return false
	}
	num, ok = strings.CutSuffix(num, ".pfs")
	if !ok || len(num) < 5 {
		return false
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func clean(dir, split string) error {
	if err := os.Remove(filepath.Join(dir, ManifestName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("shards: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("shards: %w", err)
	}
	for _, e := range ents {
		if isSplitFile(e.Name(), split) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("shards: %w", err)
			}
		}
	}
	return nil
}

// Append adds r to the split. For raw encodings r.Payload holds
// Width*Height*Channels uncompressed HWC pixels, which Append compresses.
// Append does not keep r or its slices. An invalid record or a duplicate key
// is rejected (ErrInvalid, ErrDuplicateKey) and the Writer stays usable; an
// I/O error is sticky and Close will report it.
func (w *Writer) Append(r *Record) error {
	if w.closed {
		return fmt.Errorf("shards: Append: %w", ErrClosed)
	}
	if w.err != nil {
		return w.err
	}
	if err := r.validate(); err != nil {
		return fmt.Errorf("shards: record %q: %s: %w", r.Key, err, ErrInvalid)
	}
	if r.compressed() {
		return fmt.Errorf("shards: record %q was read from a shard and holds compressed pixels; pass AppendPixels' result as Payload: %w", r.Key, ErrInvalid)
	}
	if r.Encoding.IsRaw() && len(r.Payload) != r.PixelLen() {
		return fmt.Errorf("shards: record %q: %d payload bytes, want %dx%dx%d = %d uncompressed pixels: %w",
			r.Key, len(r.Payload), r.Width, r.Height, r.Channels, r.PixelLen(), ErrInvalid)
	}
	if _, dup := w.keys[r.Key]; dup {
		return fmt.Errorf("shards: record %q: %w", r.Key, ErrDuplicateKey)
	}
	w.keys[strings.Clone(r.Key)] = struct{}{}
	w.total++
	if !w.dictDone {
		c := Record{Key: r.Key, Label: r.Label, HasLabel: r.HasLabel, Meta: bytes.Clone(r.Meta),
			Width: r.Width, Height: r.Height, Channels: r.Channels, Encoding: r.Encoding, Payload: bytes.Clone(r.Payload)}
		w.pending = append(w.pending, c)
		w.pendingBytes += len(r.Payload) // bounds the memory held back

		if len(w.pending) >= dictSamples || w.pendingBytes >= dictSampleBytes {
			return w.flushPending()
		}
		return nil
	}
	return w.write(r)
}

// flushPending builds the dictionary from the held-back records and writes them.
func (w *Writer) flushPending() error {
	// Samples: the pixels of every held-back raw-zstd record. History: the
	// leading samples, whole, up to half the sample bytes or dictHistory.
	var samples [][]byte
	total := 0
	for i := range w.pending {
		if p := &w.pending[i]; p.Encoding == RawZstd {
			samples = append(samples, p.Payload)
			total += len(p.Payload)
		}
	}
	var hist []byte
	for _, p := range samples {
		if len(hist)+len(p) > min(total/2, dictHistory) {
			break
		}
		hist = append(hist, p...)
	}
	// zstd.BuildDict needs a few samples; with fewer, or if it fails, the
	// split has no dictionary. Either way the rule is deterministic.
	if len(samples) >= 8 && len(hist) > 0 {
		d, err := buildDict(samples, hist, w.opts.ZstdLevel)
		if err == nil && len(d) <= MaxDictBytes {
			w.dict = d
		}
	}
	enc, err := newEncoder(w.opts.ZstdLevel, w.dict)
	if err != nil {
		w.dict = nil
		if enc, err = newEncoder(w.opts.ZstdLevel, nil); err != nil {
			return w.fail(err)
		}
	}
	w.enc, w.dictDone = enc, true
	pending := w.pending
	w.pending, w.pendingBytes = nil, 0
	for i := range pending {
		if err := w.write(&pending[i]); err != nil {
			return err
		}
	}
	return nil
}

func buildDict(samples [][]byte, hist []byte, level int) (d []byte, err error) {
	defer func() {
		if p := recover(); p != nil { // BuildDict is not hardened against every input
			d, err = nil, fmt.Errorf("zstd.BuildDict: %v", p)
		}
	}()
	return zstd.BuildDict(zstd.BuildDictOptions{
		ID:       dictID,
		Contents: samples,
		History:  hist,
		Level:    zstd.EncoderLevelFromZstd(level),
	})
}

func (w *Writer) fail(err error) error {
	if w.err == nil {
		w.err = fmt.Errorf("shards: %w", err)
	}
	return w.err
}

// write compresses r if raw and appends its frame to the current shard,
// rolling to a new shard first if r would not fit.
func (w *Writer) write(r *Record) error {
	p := r.Payload
	if r.Encoding.IsRaw() {
		if r.Encoding == RawS2 {
			w.comp = slices.Grow(w.comp[:0], s2.MaxEncodedLen(len(p)))
		}
		w.comp = w.enc.compress(w.comp, r.Encoding, p)
		p = w.comp
	}
	bodyLen := bodyFixed + len(r.Key) + len(r.Meta) + len(p)
	if bodyLen > MaxRecordBytes {
		return fmt.Errorf("shards: record %q: body of %d bytes above %d: %w", r.Key, bodyLen, MaxRecordBytes, ErrInvalid)
	}
	if c := w.cur; c != nil {
		n := len(c.offsets)
		size := c.off + int64(frameOverhead+bodyLen) + frameOverhead + frameOverhead + int64(indexBodyLen(n+1)) + trailerSize
		if n >= w.opts.MaxShardRecords || size > w.opts.MaxShardBytes {
			if err := w.finishShard(); err != nil {
				return err
			}
		}
	}
	if w.cur == nil {
		if err := w.startShard(); err != nil {
			return err
		}
	}
	c := w.cur
	w.frame = appendBody(w.frame[:0], r, p)
	var hdr [12]byte
	binary.LittleEndian.PutUint64(hdr[:8], uint64(len(w.frame)))
	binary.LittleEndian.PutUint32(hdr[8:], maskedCRC(hdr[:8]))
	var crc [4]byte
	binary.LittleEndian.PutUint32(crc[:], maskedCRC(w.frame))
	c.offsets = append(c.offsets, c.off)
	c.bw.Write(hdr[:])
	c.bw.Write(w.frame)
	if _, err := c.bw.Write(crc[:]); err != nil {
		return w.fail(err)
	}
	c.off += int64(frameOverhead + len(w.frame))
	return nil
}

func (w *Writer) startShard() error {
	name := ShardName(w.opts.Split, len(w.shards))
	tmp := filepath.Join(w.dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return w.fail(err)
	}
	h := sha256.New()
	c := &shardFile{name: name, tmp: tmp, f: f, h: h, bw: bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)}
	w.cur = c
	hdr := appendHeader(nil, w.dict)
	if _, err := c.bw.Write(hdr); err != nil {
		return w.fail(err)
	}
	c.off = int64(len(hdr))
	return nil
}

// finishShard writes the terminator, index and trailer, syncs the temporary
// file and renames it into place.
func (w *Writer) finishShard() error {
	c := w.cur
	w.cur = nil
	n := len(c.offsets)
	tail := appendFrame(nil, nil) // end-of-records marker
	termOff := c.off
	indexOff := termOff + int64(len(tail))
	idx := make([]byte, 0, indexBodyLen(n))
	idx = le64(idx, uint64(n))
	for _, o := range c.offsets {
		idx = le64(idx, uint64(o))
	}
	idx = le64(idx, uint64(termOff))
	tail = appendFrame(tail, idx)
	tail = appendTrailer(tail, indexOff, n)
	if _, err := c.bw.Write(tail); err != nil {
		c.f.Close()
		return w.fail(err)
	}
	size := c.off + int64(len(tail))
	err := c.bw.Flush()
	if err == nil {
		err = c.f.Sync()
	}
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(c.tmp, filepath.Join(w.dir, c.name))
	}
	if err != nil {
		return w.fail(err)
	}
	w.written = append(w.written, c.name)
	w.shards = append(w.shards, ShardInfo{File: c.name, Records: n, Bytes: size, SHA256: hex.EncodeToString(c.h.Sum(nil))})
	if w.up != nil {
		if err := w.up.shard(c.name, size); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

func le64(b []byte, v uint64) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24), byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56))
}

// Skip records that the input at path (relative to the input root,
// slash- or OS-separated) was left out, and why. Entries are sorted in the
// manifest; an exact duplicate is recorded once. An absolute or escaping path
// is an error (ErrInvalid).
func (w *Writer) Skip(path, reason string) error {
	p := filepath.ToSlash(filepath.Clean(path))
	if !validRelPath(p) || filepath.IsAbs(path) {
		return fmt.Errorf("shards: skipped path %q must be relative to the input root: %w", path, ErrInvalid)
	}
	w.skipped = append(w.skipped, Skipped{Path: p, Reason: strings.ToValidUTF8(reason, "\uFFFD")})
	return nil
}

// Len returns the number of records appended so far.
func (w *Writer) Len() int64 { return w.total }

// Close writes the held-back records and the last shard, then the manifest
// (under a temporary name, renamed into place). If any write failed, Close
// removes what this Writer wrote and returns the error: the split then has
// no manifest and does not open.
func (w *Writer) Close() error {
	if w.closed {
		return fmt.Errorf("shards: Close: %w", ErrClosed)
	}
	if w.err == nil && !w.dictDone {
		w.flushPending()
	}
	if w.err == nil && w.cur != nil {
		w.finishShard()
	}
	if w.err != nil {
		err := w.err
		w.Abort()
		return err
	}
	w.closed = true
	if w.enc != nil {
		w.enc.close()
	}
	slices.SortFunc(w.skipped, func(a, b Skipped) int {
		if skippedLess(a, b) {
			return -1
		} else if skippedLess(b, a) {
			return 1
		}
		return 0
	})
	w.skipped = slices.Compact(w.skipped)
	m := &Manifest{
		Format:  FormatName,
		Version: Version,
		Split:   w.opts.Split,
		Records: w.total,
		Classes: w.opts.Classes,
		Layout: Layout{MaxShardBytes: w.opts.MaxShardBytes, MaxShardRecords: w.opts.MaxShardRecords,
			ZstdLevel: w.opts.ZstdLevel, Dictionary: w.opts.Dictionary},
		Options: w.opts.Options,
		Shards:  w.shards,
		Skipped: w.skipped,
	}
	if m.Shards == nil {
		m.Shards = []ShardInfo{}
	}
	b, err := m.Marshal()
	if err == nil && w.up != nil {
		if err = w.up.manifest(b); err == nil {
			w.up.done()
		}
	} else if err == nil {
		err = writeFileAtomic(w.dir, ManifestName, b)
	}
	if err != nil {
		w.closed = false
		if !strings.HasPrefix(err.Error(), "shards: ") {
			err = fmt.Errorf("shards: %w", err)
		}
		w.err = err
		w.Abort()
		return w.err
	}
	return nil
}

func writeFileAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil { // make the renames durable; best effort
		d.Sync()
		d.Close()
	}
	return nil
}

// Abort stops writing and removes every file this Writer created (finished
// shards and the temporary file). No manifest is written. Abort after Close
// is a no-op.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	var errs []error
	if c := w.cur; c != nil {
		c.f.Close()
		if err := os.Remove(c.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		w.cur = nil
	}
	for _, name := range w.written {
		if err := os.Remove(filepath.Join(w.dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if w.enc != nil {
		w.enc.close()
	}
	if w.up != nil {
		errs = append(errs, w.up.abort())
	}
	return errors.Join(errs...)
}
