package shards

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync/atomic"

	"github.com/pairflow/pairflow/internal/inputfile"
	"github.com/pairflow/pairflow/store"
)

// Dataset is an opened split: a local directory, or a remote one (s3://,
// https://; see Open and docs/remote.md). It is safe for concurrent use; each
// goroutine reads into its own Record.
//
// On unix, Open memory-maps each shard file read-only, so reading a record
// smaller than 64 KiB is a copy out of the page cache rather than a pread
// system call (larger ones are still read with pread); the copy is what gets
// CRC-checked and parsed, bounds are checked as before, and Close unmaps.
// Mapped pages count in the process's resident memory: a Dataset larger than
// 256 MiB drops them (MADV_DONTNEED) after about that much has been read, so
// the mappings add at most about 256 MiB to the resident set. A shard file truncated while it is mapped makes the missing
// pages fault (SIGBUS): such a read returns an error rather than crashing,
// but do not rewrite shards in place while a Dataset has them open. Set the
// environment variable PAIRFLOW_SHARDS_NO_MMAP (NoMmapEnv) to read with pread
// instead; elsewhere than unix, and where mapping fails, pread is used.
type Dataset struct {
	dir    string // directory or URL
	m      *Manifest
	raw    []byte // index.json as read
	mapSet mapSet
	slots  []atomic.Pointer[opened] // per shard; nil until a remote shard is opened
	starts []int64                  // starts[j] is the global index of shard j's first record
	closed atomic.Bool
	remote *remote // nil for a local directory
}

// opened is one shard opened for reading: a local file (perhaps mapped) or,
// for remote range reads, no file.
type opened struct {
	s  *Shard
	f  *os.File
	mp *mapping
}

func (o *opened) close() error {
	if o == nil {
		return nil
	}
	o.s.Close()
	var errs []error
	errs = append(errs, o.mp.close())
	if o.f != nil {
		errs = append(errs, o.f.Close())
	}
	return errors.Join(errs...)
}

// Open opens a split: src is a directory, or the URL of one in object
// storage (s3://bucket/prefix/split, https://host/path/split). At most one
// OpenOptions may be given; it matters only for remote splits.
//
// For a directory, Open reads index.json and checks it against the shard
// files present: each listed shard must exist with the listed size and
// record count (its header, index and trailer are checked), and no unlisted
// shard of the split may be there. SHA-256 sums are checked by Verify, not
// Open.
//
// For a remote split, Open reads index.json (revalidating a cached copy with
// one conditional request), checks the listing against it where the store
// can list (S3), and opens shards as they are first read; see OpenOptions
// for the cache, the access mode and prefetching.
func Open(src string, opts ...OpenOptions) (*Dataset, error) {
	if len(opts) > 1 {
		return nil, fmt.Errorf("shards: Open: %d OpenOptions, want at most 1: %w", len(opts), ErrInvalid)
	}
	if store.IsRemote(src) {
		var o OpenOptions
		if len(opts) == 1 {
			o = opts[0]
		}
		return openRemote(src, o)
	}
	loc, err := store.ParseLocation(src)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	return openDir(loc.Path)
}

func openDir(dir string) (*Dataset, error) {
	b, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("shards: %w", err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	if err := checkUnlisted(dir, m, names); err != nil {
		return nil, err
	}
	d := newDataset(dir, m)
	d.raw = b
	mmap := os.Getenv(NoMmapEnv) == ""
	for j, si := range m.Shards {
		o, err := openListed(filepath.Join(dir, si.File), si, mmap, &d.mapSet)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.slots[j].Store(o)
	}
	return d, nil
}

// checkUnlisted refuses a shard of m's split among names (the objects or
// files at where) that m does not list. Temporary files and markers begin
// with a dot and are not shards.
func checkUnlisted(where string, m *Manifest, names []string) error {
	listed := make(map[string]bool, len(m.Shards))
	for _, si := range m.Shards {
		listed[si.File] = true
	}
	for _, n := range names {
		if isSplitFile(n, m.Split) && n[0] != '.' && !listed[n] {
			return fmt.Errorf("shards: %s: shard %s is not in %s: %w", where, n, ManifestName, ErrManifest)
		}
	}
	return nil
}

func newDataset(dir string, m *Manifest) *Dataset {
	d := &Dataset{dir: dir, m: m, starts: make([]int64, len(m.Shards)+1), slots: make([]atomic.Pointer[opened], len(m.Shards))}
	for j, si := range m.Shards {
		d.starts[j+1] = d.starts[j] + int64(si.Records)
	}
	return d
}

func readManifest(dir string) ([]byte, error) {
	f, _, err := inputfile.Open(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("shards: %w: %w", err, ErrManifest)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("shards: %s: %w", ManifestName, err)
	}
	return b, nil
}

// NoMmapEnv names the environment variable that, when set to anything, makes
// Open read shard files with pread (one system call per record) instead of
// memory-mapping them.
const NoMmapEnv = "PAIRFLOW_SHARDS_NO_MMAP"

func openListed(path string, si ShardInfo, mmap bool, set *mapSet) (*opened, error) {
	f, size, err := inputfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("shards: %w: %w", err, ErrManifest)
	}
	var mp *mapping
	fail := func(err error) (*opened, error) {
		mp.close()
		f.Close()
		return nil, err
	}
	if size < si.Bytes {
		return fail(newErr(si.File, -1, size, ErrTruncated, "file is %d bytes, %s says %d", size, ManifestName, si.Bytes))
	} else if size > si.Bytes {
		return fail(newErr(si.File, -1, si.Bytes, ErrManifest, "file is %d bytes, %s says %d", size, ManifestName, si.Bytes))
	}
	var ra io.ReaderAt = f
	if mmap {
		if m, ok := mapFile(f, si.Bytes, set); ok {
			mp, ra = m, m
		}
	}
	s, err := openChecked(ra, si)
	if err != nil {
		return fail(err)
	}
	return &opened{s: s, f: f, mp: mp}, nil
}

// openChecked opens a shard and checks its record count against the manifest.
func openChecked(ra io.ReaderAt, si ShardInfo) (*Shard, error) {
	s, err := OpenShard(ra, si.Bytes, si.File)
	if err != nil {
		return nil, err
	}
	if s.Len() != si.Records {
		s.Close()
		return nil, newErr(si.File, -1, -1, ErrManifest, "shard holds %d records, %s says %d", s.Len(), ManifestName, si.Records)
	}
	return s, nil
}

// Close unmaps and closes the shard files (and, for a remote split, stops
// prefetching). Records already read stay valid (they hold copies), but no
// read may run during or after Close.
func (d *Dataset) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	var errs []error
	if d.remote != nil {
		errs = append(errs, d.remote.close())
	}
	for j := range d.slots {
		errs = append(errs, d.slots[j].Swap(nil).close())
	}
	return errors.Join(errs...)
}

// Manifest returns the parsed manifest. The caller must not modify it.
func (d *Dataset) Manifest() *Manifest { return d.m }

// Len returns the number of records in the split.
func (d *Dataset) Len() int { return int(d.m.Records) }

// NumShards returns the number of shards.
func (d *Dataset) NumShards() int { return len(d.slots) }

// Shard returns shard j for random access. For a remote split this fetches
// (or, with AccessRange, opens) the shard if it is not open yet.
func (d *Dataset) Shard(j int) (*Shard, error) {
	o, err := d.open(j)
	if err != nil {
		return nil, err
	}
	return o.s, nil
}

// open returns shard j, opening a remote one on first use.
func (d *Dataset) open(j int) (*opened, error) {
	if d.closed.Load() {
		return nil, fmt.Errorf("shards: %w", ErrClosed)
	}
	if j < 0 || j >= len(d.slots) {
		return nil, fmt.Errorf("shards: shard %d out of range [0, %d): %w", j, len(d.slots), ErrInvalid)
	}
	if d.remote != nil {
		d.remote.touch(j)
	}
	if o := d.slots[j].Load(); o != nil {
		return o, nil
	}
	if d.remote == nil {
		return nil, fmt.Errorf("shards: %w", ErrClosed)
	}
	return d.remote.open(j)
}

// Locate returns the shard holding global record i and i's index within it.
func (d *Dataset) Locate(i int) (shard, index int) {
	j := sort.Search(len(d.slots), func(j int) bool { return d.starts[j+1] > int64(i) })
	return j, i - int(d.starts[j])
}

// Record reads global record i into r (see Shard.Record).
func (d *Dataset) Record(i int, r *Record) error {
	if i < 0 || i >= d.Len() {
		return fmt.Errorf("shards: record %d out of range [0, %d): %w", i, d.Len(), ErrInvalid)
	}
	j, k := d.Locate(i)
	if d.remote != nil && d.remote.ranged {
		return d.remote.record(j, k, r)
	}
	o, err := d.open(j)
	if err != nil {
		return err
	}
	return o.s.Record(k, r)
}

// ShardReader returns a sequential Reader over shard j.
func (d *Dataset) ShardReader(j int) (*Reader, error) {
	return d.shardReader(j, nil)
}

// shardReader reuses br (when not nil) as the Reader's buffer.
func (d *Dataset) shardReader(j int, br *bufio.Reader) (*Reader, error) {
	o, err := d.wholeShard(j)
	if err != nil {
		return nil, err
	}
	sr := io.NewSectionReader(o.f, 0, o.s.size)
	if br == nil {
		return newReader(sr, d.m.Shards[j].File, o.s)
	}
	br.Reset(sr)
	return newReader(br, d.m.Shards[j].File, o.s)
}

// wholeShard returns shard j opened from a whole local file (for a remote
// split, fetched into the cache even under AccessRange).
func (d *Dataset) wholeShard(j int) (*opened, error) {
	if d.remote != nil && d.remote.ranged {
		return d.remote.whole(j)
	}
	return d.open(j)
}

// Iter returns a sequential iterator over all records, shard by shard.
func (d *Dataset) Iter() *Iter { return &Iter{d: d, index: -1} }

// Iter iterates a Dataset sequentially (see Reader). It is not safe for
// concurrent use.
type Iter struct {
	d     *Dataset
	j     int
	rd    *Reader
	br    *bufio.Reader // shared by the per-shard Readers
	index int64
	err   error
}

// Next reads the next record into r and reports whether there was one. After
// it returns false, Err says whether iteration ended cleanly.
func (it *Iter) Next(r *Record) bool {
	for it.err == nil && it.j < it.d.NumShards() {
		if it.rd == nil {
			if it.br == nil {
				it.br = bufio.NewReaderSize(nil, readBufSize)
			}
			if it.rd, it.err = it.d.shardReader(it.j, it.br); it.err != nil {
				return false
			}
		}
		err := it.rd.Next(r)
		if err == nil {
			it.index++
			return true
		}
		if err != io.EOF {
			it.err = err
			return false
		}
		it.rd = nil
		it.j++
	}
	return false
}

// Index returns the global index of the record Next last read.
func (it *Iter) Index() int64 { return it.index }

// Err returns the error that stopped iteration, or nil at a clean end.
func (it *Iter) Err() error { return it.err }

// maxProblems caps how many problems Verify reports.
const maxProblems = 1000

// Verify checks every shard's SHA-256 against the manifest, every record's
// CRCs and body, that raw payloads decompress to their geometry, and that
// keys are unique. It returns nil if all is well, or an error joining (see
// errors.Join) one error per problem, each an *Error naming shard, record and
// offset where it applies; at most 1000 problems are reported.
func (d *Dataset) Verify() error {
	_, err := d.VerifyReport()
	return err
}

// VerifyResult is what VerifyReport learned about a split besides its
// problems.
type VerifyResult struct {
	// MaxPixels is the largest width×height of any record (for encoded
	// records, as their headers record it; 0 where not recorded), and
	// MaxPixelsKey the first record that has it.
	MaxPixels    int64
	MaxPixelsKey string
	// Labelled counts the records with a label.
	Labelled int64
	// Checksummed says the manifest carries a checksum of all its fields
	// (version 2); a version-1 manifest's classes, options and layout
	// values are only cross-checked where the shards allow it.
	Checksummed bool
}

// VerifyReport does what Verify does and returns what it saw. Beyond the
// shards it checks the manifest as a whole: it must be in canonical form
// (as Marshal writes it; version 2 also checks its own checksum), its
// layout must agree with the shards (records per shard, shard sizes, the
// dictionary flag) and labels must index its class names when there are
// any.
func (d *Dataset) VerifyReport() (VerifyResult, error) {
	var res VerifyResult
	if d.closed.Load() {
		return res, fmt.Errorf("shards: %w", ErrClosed)
	}
	res.Checksummed = d.m.Version >= 2
	var errs []error
	report := func(err error) bool {
		errs = append(errs, err)
		return len(errs) < maxProblems
	}
	keys := make(map[string]struct{}, d.Len())
	var r Record
	var pix []byte
	m := d.m
	if d.raw != nil && !IsCanonical(d.raw) {
		report(fmt.Errorf("shards: %s is not in canonical form (edited, or not written by this package): %w", ManifestName, ErrManifest))
	}
	var dict []byte
shards:
	for j := range d.slots {
		si := d.m.Shards[j]
		o, err := d.wholeShard(j)
		if err != nil {
			if !report(err) {
				break
			}
			continue
		}
		s := o.s
		lay := func(format string, args ...any) bool {
			return report(newErr(si.File, -1, -1, ErrManifest, "%s layout: "+format, append([]any{ManifestName}, args...)...))
		}
		switch {
		case m.Layout.MaxShardRecords > 0 && si.Records > m.Layout.MaxShardRecords:
			lay("max_shard_records %d but the shard holds %d", m.Layout.MaxShardRecords, si.Records)
		case m.Layout.MaxShardBytes > 0 && si.Bytes > m.Layout.MaxShardBytes && si.Records > 1:
			lay("max_shard_bytes %d but the shard is %d bytes with %d records", m.Layout.MaxShardBytes, si.Bytes, si.Records)
		case !m.Layout.Dictionary && len(s.dict) > 0:
			lay("dictionary false but the shard has a %d-byte dictionary", len(s.dict))
		case j > 0 && !bytes.Equal(s.dict, dict):
			lay("the shard's dictionary differs from the first shard's")
		}
		if j == 0 {
			dict = s.dict
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.NewSectionReader(o.f, 0, si.Bytes)); err != nil {
			if !report(fmt.Errorf("shards: %s: %w", si.File, err)) {
				break
			}
		} else if sum := hex.EncodeToString(h.Sum(nil)); sum != si.SHA256 {
			if !report(newErr(si.File, -1, -1, ErrChecksum, "SHA-256 %s, %s says %s", sum, ManifestName, si.SHA256)) {
				break
			}
		}
		for i := range s.Len() {
			err := s.Record(i, &r)
			if err == nil && r.Encoding.IsRaw() {
				pix, err = r.AppendPixels(pix[:0])
			}
			if err == nil {
				if _, dup := keys[r.Key]; dup {
					err = newErr(si.File, i, s.offsets[i], ErrCorrupt, "duplicate key %q", r.Key)
				}
				keys[r.Key] = struct{}{}
			}
			if err == nil && r.HasLabel {
				res.Labelled++
				if len(m.Classes) > 0 && (r.Label < 0 || int(r.Label) >= len(m.Classes)) {
					err = newErr(si.File, i, s.offsets[i], ErrManifest, "label %d of %q is not a class index: %s lists %d classes", r.Label, r.Key, ManifestName, len(m.Classes))
				}
			}
			if px := int64(r.Width) * int64(r.Height); err == nil && px > res.MaxPixels {
				res.MaxPixels, res.MaxPixelsKey = px, r.Key
			}
			if err != nil && !report(err) {
				break shards
			}
		}
	}
	return res, errors.Join(errs...)
}
