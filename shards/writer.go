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

	"github.com/pairflow/pairflow/internal/filelock"
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
	// MaxPixels is the pixel budget (width×height) the packer applied, 0 if
	// none; recorded in the manifest, where a pipeline checks it.
	MaxPixels int64

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
	lock   *filelock.Lock // LockName, see lockDir
	inputs []Input
}

// createFile opens a writer's temporary files; tests replace it to inject
// I/O errors (a full disk).
var createFile = func(name string) (writeFile, error) {
	return os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

// writeFile is what the Writer needs of an *os.File.
type writeFile interface {
	io.Writer
	Sync() error
	Close() error
}

type shardFile struct {
	name, tmp string
	f         writeFile
	bw        *bufio.Writer
	h         hash.Hash
	off       int64
	offsets   []int64
}

// Create prepares dir for writing split opts.Split. It creates dir if needed,
// takes the directory's writer lock (LockName; ErrLocked when another Writer,
// in this process or another, holds it) and removes what an earlier (perhaps
// interrupted) run of the same split left there: the manifest first, then
// shard files and temporary files. It refuses (ErrInvalid) a directory whose
// index.json belongs to another split or cannot be read as a manifest: a
// Writer deletes only files it owns.
//
// dir may also be an s3:// URL: shards are then written to a local staging
// directory (under os.TempDir) and uploaded as each is finished, and the
// manifest is uploaded last (with a conditional put that fails if one
// appeared meanwhile, where the store supports it), so readers never see a
// partial split and an interrupted run leaves no manifest. If a manifest is
// there already, Create refuses (ErrExists) unless opts.Overwrite, which
// removes the old manifest first and then the split's old shards; a marker
// object keeps a second writer of the split out (ErrExists).
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
	case opts.MaxPixels < 0:
		return nil, fmt.Errorf("shards: MaxPixels %d is negative: %w", opts.MaxPixels, ErrInvalid)
	case store.IsRemote(dir) && opts.MaxShardBytes > store.MaxS3PutBytes:
		// Each shard is one PUT: refuse now rather than after packing one.
		return nil, fmt.Errorf("shards: %s: MaxShardBytes %d is over S3's 5 GiB limit for one upload: %w", dir, opts.MaxShardBytes, ErrInvalid)
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
	lock, err := lockDir(dir)
	if err != nil {
		if up != nil {
			up.abort()
		}
		return nil, err
	}
	if err := clean(dir, opts.Split); err != nil {
		lock.Remove()
		if up != nil {
			up.abort()
		}
		return nil, err
	}
	w := &Writer{dir: dir, opts: opts, keys: make(map[string]struct{}), dictDone: !opts.Dictionary, lock: lock, up: up}
	if w.dictDone {
		enc, err := newEncoder(opts.ZstdLevel, nil)
		if err != nil {
			lock.Remove()
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
	mp := filepath.Join(dir, ManifestName)
	if st, err := os.Lstat(mp); err == nil {
		// Remove index.json only if it is this split's: a regular file that
		// reads as a manifest of the same split (any checksum).
		owner, why := manifestSplit(mp, st)
		if owner != split {
			return fmt.Errorf("shards: %s: %s; not removing it (use another directory, or remove it yourself): %w", mp, why, ErrInvalid)
		}
		if err := os.Remove(mp); err != nil {
			return fmt.Errorf("shards: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
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
	if !w.dictDone && w.maybeTooLarge(r) {
		// A record that may not fit a frame is written (and checked) at
		// once rather than held back, so that a refusal leaves nothing
		// counted: the records held so far build the dictionary first.
		if err := w.flushPending(); err != nil {
			return err
		}
	}
	if !w.dictDone {
		w.keys[strings.Clone(r.Key)] = struct{}{}
		w.total++
		c := Record{Key: r.Key, Label: r.Label, HasLabel: r.HasLabel, Meta: bytes.Clone(r.Meta),
			Width: r.Width, Height: r.Height, Channels: r.Channels, Encoding: r.Encoding, Payload: bytes.Clone(r.Payload)}
		w.pending = append(w.pending, c)
		w.pendingBytes += len(r.Payload) // bounds the memory held back

		if len(w.pending) >= dictSamples || w.pendingBytes >= dictSampleBytes {
			return w.flushPending()
		}
		return nil
	}
	// write refuses an over-large record before it changes anything, so a
	// refused record is not counted.
	if err := w.write(r); err != nil {
		return err
	}
	w.keys[strings.Clone(r.Key)] = struct{}{}
	w.total++
	return nil
}

// maybeTooLarge reports whether r's frame body might exceed MaxRecordBytes
// once its pixels are compressed (a bound on the compressed size).
func (w *Writer) maybeTooLarge(r *Record) bool {
	n := len(r.Payload)
	if r.Encoding.IsRaw() {
		n += n/64 + 1<<16 // beyond zstd's and S2's worst-case expansion
	}
	return bodyFixed+len(r.Key)+len(r.Meta)+n > MaxRecordBytes
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
			// Append already counted this record and returned nil for it:
			// the split cannot be completed truthfully, so the error sticks
			// and Close fails. (maybeTooLarge keeps records that could be
			// refused out of the held-back set, so this is an I/O error.)
			return w.fail(err)
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
	f, err := createFile(tmp)
	if err != nil {
		os.Remove(tmp) // a file may exist although the open failed
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
	// On any failure below the temporary file is removed here: w.cur no
	// longer names it, so Abort would not.
	fail := func(err error) error {
		c.f.Close()
		os.Remove(c.tmp)
		return w.fail(err)
	}
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
		return fail(err)
	}
	size := c.off + int64(len(tail))
	if err := c.bw.Flush(); err != nil {
		return fail(err)
	}
	if err := c.f.Sync(); err != nil {
		return fail(err)
	}
	if err := c.f.Close(); err != nil {
		os.Remove(c.tmp)
		return w.fail(err)
	}
	if err := os.Rename(c.tmp, filepath.Join(w.dir, c.name)); err != nil {
		os.Remove(c.tmp)
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

// AddInput records one input of the split (a file or directory tree the
// records were read from, with its SHA-256) in the manifest, in call order.
// A path that is not clean and relative ("." allowed), a listed path, or a
// malformed digest is an error (ErrInvalid).
func (w *Writer) AddInput(in Input) error {
	switch {
	case in.Path != "." && !validRelPath(in.Path):
		return fmt.Errorf("shards: input path %q must be clean and relative: %w", in.Path, ErrInvalid)
	case in.Bytes < 0 || in.Files < 0:
		return fmt.Errorf("shards: input %q: negative size or file count: %w", in.Path, ErrInvalid)
	case !shaRE.MatchString(in.SHA256):
		return fmt.Errorf("shards: input %q: sha256 %q is not 64 lower-case hex digits: %w", in.Path, in.SHA256, ErrInvalid)
	}
	for _, o := range w.inputs {
		if o.Path == in.Path {
			return fmt.Errorf("shards: input %q added twice: %w", in.Path, ErrInvalid)
		}
	}
	w.inputs = append(w.inputs, in)
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
	if w.err == nil {
		// The manifest must describe exactly what was written.
		var n int64
		for _, s := range w.shards {
			n += int64(s.Records)
		}
		if n != w.total {
			w.err = fmt.Errorf("shards: %d records counted but %d written (internal error): %w", w.total, n, ErrInvalid)
		}
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
		Format:    FormatName,
		Version:   ManifestVersion,
		Split:     w.opts.Split,
		Records:   w.total,
		Classes:   w.opts.Classes,
		MaxPixels: w.opts.MaxPixels,
		Inputs:    w.inputs,
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
	w.lock.Remove()
	return nil
}

func writeFileAtomic(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	f, err := createFile(tmp)
	if err != nil {
		os.Remove(tmp)
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
// is a no-op. Writing to object storage, Abort drops the shards waiting for
// upload but waits for the one being uploaded (within the store's stall
// timeout and retry budget) before deleting: a cancelled PUT can still be
// written by the store after the delete.
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
	w.lock.Remove()
	return errors.Join(errs...)
}
