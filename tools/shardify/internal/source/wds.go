package source

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// WebDataset layout (https://github.com/webdataset/webdataset): a sample is
// a run of consecutive tar members sharing a key; the key of a member is its
// path up to the first dot of its base name ("a/b/000123.seg.png" has key
// "a/b/000123" and extension "seg.png"). shardify reads:
//
//   - the image from the member whose whole extension is, in this order of
//     preference, jpg, jpeg, png, webp, (then gif, bmp, tif, tiff) — as in
//     WebDataset, "x.seg.png" has extension "seg.png" and is not an image;
//   - the label from "cls" (an integer in decimal text, surrounding space
//     allowed) or else from "json": an object whose "label" (or "cls")
//     field is an integer. A json member without such a field gives no label
//     and is kept as the record's metadata when it is at most MaxMetaBytes;
//   - nothing else (captions and other members are ignored).
//
// A sample without an image, or with a cls/json member that does not parse,
// is an Item with Skip set. A tar that is corrupt or truncated ends with one
// skipped Item naming the tar (an uncompressed tar cut at a member boundary
// is told by its missing end-of-archive zero blocks); the samples read
// before the damage are kept and the following tars are still read. A
// gzip-compressed tar is different: a gzip stream that is corrupt, cut, or
// whose trailer (CRC-32, length) does not match fails the whole input, since
// any sample read from it may be altered; the stream is read to its end for
// that. Members and samples whose key was seen before are skipped as
// duplicates.
type webDataset struct {
	tars    []string // full paths, in order
	names   []string // as given for messages
	ti      int
	cur     *tarReader
	pending []Item
	seen    map[string]bool
	bytes   int64
	maxFile int64
	inputs  []Input
	ended   bool
}

// maxSampleMembers bounds the members of one sample (memory stays bounded
// however a tar repeats a key).
const maxSampleMembers = 1024

// MaxMetaBytes bounds the json metadata kept with a WebDataset record.
const MaxMetaBytes = 4096

var wdsImageExts = []string{"jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"}

// OpenWebDataset opens a tar file, a directory of tar files (sorted by name,
// not recursive) or a brace pattern such as "shard-{000..003}.tar".
func OpenWebDataset(in string, opt Options) (Source, error) {
	var tars []string
	if strings.Contains(in, "{") {
		exp, err := ExpandBraces(in)
		if err != nil {
			return nil, fmt.Errorf("source: wds: %w", err)
		}
		tars = exp
	} else {
		st, err := os.Stat(in)
		if err != nil {
			return nil, fmt.Errorf("source: wds: %w", err)
		}
		if st.IsDir() {
			ents, err := os.ReadDir(in)
			if err != nil {
				return nil, fmt.Errorf("source: wds: %w", err)
			}
			for _, e := range sortedNames(ents) {
				if !e.IsDir() && isTarName(strings.ToLower(e.Name())) {
					tars = append(tars, filepath.Join(in, e.Name()))
				}
			}
		} else {
			tars = []string{in}
		}
	}
	if len(tars) == 0 {
		return nil, fmt.Errorf("source: wds %s: %w: no .tar files", in, ErrNoInput)
	}
	s := &webDataset{tars: tars, seen: map[string]bool{}, maxFile: opt.maxFile()}
	for _, t := range tars {
		st, err := os.Stat(t)
		if err != nil {
			return nil, fmt.Errorf("source: wds: %w", err)
		}
		s.bytes += st.Size()
		s.names = append(s.names, filepath.Base(t))
	}
	return s, nil
}

func (s *webDataset) Classes() []string { return nil }
func (s *webDataset) Len() int          { return -1 }
func (s *webDataset) InputBytes() int64 { return s.bytes }

func (s *webDataset) Close() error {
	if s.cur != nil {
		s.cur.close()
		s.cur = nil
	}
	return nil
}

type member struct {
	ext  string
	data []byte
	size int64
	skip string
}

type tarReader struct {
	name   string
	f      *hashFile
	gz     *gzip.Reader
	tap    *errTap // the gzip stream's errors
	fatal  error   // a gzip error: the whole tar is suspect
	tr     *tar.Reader
	head   *tar.Header // read ahead: first member of the next sample
	done   bool
	nmembr int
	// noEnd: an uncompressed tar whose last 1024 bytes are not zero lacks
	// the end-of-archive marker, so it was cut (Go's tar reader reports a
	// cut at a member boundary as a clean end).
	noEnd bool
}

func (t *tarReader) close() {
	if t.gz != nil {
		t.gz.Close()
	}
	t.f.Close()
}

// gzipFailed records a gzip-level error as fatal and reports whether there
// was one.
func (t *tarReader) gzipFailed() bool {
	if t.tap != nil && t.tap.err != nil && t.fatal == nil {
		t.fatal = fmt.Errorf("%s: gzip stream corrupt after %d members (the whole file is suspect): %w", t.name, t.nmembr, t.tap.err)
	}
	return t.fatal != nil
}

func openTar(p, name string) (*tarReader, error) {
	f, err := openHashed(p, name)
	if err != nil {
		return nil, err
	}
	t := &tarReader{name: name, f: f}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	var r io.Reader = br
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		t.gz = gz
		t.tap = &errTap{r: gz}
		r = t.tap
	}
	if t.gz == nil {
		var tail [1024]byte
		st, err := f.f.Stat()
		t.noEnd = err != nil || st.Size() < int64(len(tail))
		if !t.noEnd {
			if _, err := f.f.ReadAt(tail[:], st.Size()-int64(len(tail))); err != nil || !allZero(tail[:]) {
				t.noEnd = true
			}
		}
	}
	t.tr = tar.NewReader(r)
	return t, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// splitKey applies WebDataset's rule: key up to the first dot of the base name.
func splitKey(name string) (key, ext string) {
	dir, base := path.Split(name)
	i := strings.IndexByte(base, '.')
	if i < 0 {
		return dir + base, ""
	}
	return dir + base[:i], strings.ToLower(base[i+1:])
}

func (s *webDataset) Next() (Item, error) {
	for {
		if len(s.pending) > 0 {
			it := s.pending[0]
			s.pending = s.pending[1:]
			return it, nil
		}
		if s.cur == nil {
			if s.ti >= len(s.tars) {
				return Item{}, io.EOF
			}
			t, err := openTar(s.tars[s.ti], s.names[s.ti])
			if err != nil {
				return Item{}, fmt.Errorf("source: wds: %w", err)
			}
			s.cur = t
		}
		it, ok := s.readSample()
		if !ok {
			t := s.cur
			if t.gzipFailed() {
				return Item{}, fmt.Errorf("source: wds: %w", t.fatal)
			}
			in, err := t.f.finish()
			if err != nil {
				return Item{}, fmt.Errorf("source: wds: %w", err)
			}
			s.inputs = append(s.inputs, in)
			t.close()
			s.cur = nil
			s.ti++
			if s.ti >= len(s.tars) {
				s.ended = true
			}
			continue
		}
		if s.cur.gzipFailed() {
			return Item{}, fmt.Errorf("source: wds: %w", s.cur.fatal)
		}
		return it, nil
	}
}

// Inputs returns each tar's digest once Next has returned io.EOF.
func (s *webDataset) Inputs() ([]Input, error) {
	if !s.ended {
		return nil, errNotEnded
	}
	return s.inputs, nil
}

// nextHeader returns the next regular-file member header of the current tar.
// A read error ends the tar: it queues a skipped Item naming it.
func (s *webDataset) nextHeader() (*tar.Header, bool) {
	t := s.cur
	if t.head != nil {
		h := t.head
		t.head = nil
		return h, true
	}
	if t.done {
		return nil, false
	}
	for {
		h, err := t.tr.Next()
		if err == io.EOF && t.tap != nil {
			// Read the gzip stream to its end so that its trailer is
			// checked (the tar may be followed by zero padding).
			io.Copy(io.Discard, t.tap)
		}
		if t.gzipFailed() {
			t.done = true
			return nil, false
		}
		if err == io.EOF {
			t.done = true
			if t.noEnd {
				s.pending = append(s.pending, Item{Key: t.name, Path: t.name,
					Skip: fmt.Sprintf("tar ends without an end-of-archive marker after %d members: truncated?", t.nmembr)})
			}
			return nil, false
		}
		if err != nil {
			t.done = true
			s.pending = append(s.pending, Item{Key: t.name, Path: t.name,
				Skip: fmt.Sprintf("tar corrupt after %d members, rest of this tar skipped: %v", t.nmembr, err)})
			return nil, false
		}
		t.nmembr++
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeRegA {
			continue
		}
		base := path.Base(h.Name)
		if strings.HasPrefix(base, ".") {
			continue
		}
		return h, true
	}
}

// readSample groups consecutive members sharing a key into one Item. It
// returns ok=false when the tar has no more members (pending may then hold a
// skipped item for a corrupt tar).
func (s *webDataset) readSample() (Item, bool) {
	t := s.cur
	h, ok := s.nextHeader()
	if !ok {
		return Item{}, false
	}
	key, _ := splitKey(path.Clean(h.Name))
	var members []member
	var in int64
	read := map[string]bool{} // extensions whose data is held: at most one each
	for {
		_, ext := splitKey(path.Clean(h.Name))
		m := member{ext: ext, size: h.Size}
		in += h.Size
		switch {
		case len(members) >= maxSampleMembers:
			m.skip = fmt.Sprintf("sample has more than %d members", maxSampleMembers)
		case h.Size > s.maxFile || h.Size < 0:
			m.skip = fmt.Sprintf("member %s of %d bytes exceeds the %d-byte bound", h.Name, h.Size, s.maxFile)
		case wanted(ext) && !read[ext]:
			read[ext] = true
			b := make([]byte, h.Size)
			if _, err := io.ReadFull(t.tr, b); err != nil {
				t.done = true
				if t.gzipFailed() {
					return Item{}, false
				}
				s.pending = append(s.pending, Item{Key: t.name, Path: t.name + "/" + h.Name,
					Skip: fmt.Sprintf("tar truncated in member %s, this sample and the rest of this tar skipped: %v", h.Name, err)})
				return Item{}, false
			}
			m.data = b
		}
		if len(members) <= maxSampleMembers {
			members = append(members, m)
		}
		nh, ok := s.nextHeader()
		if !ok {
			break
		}
		nk, _ := splitKey(path.Clean(nh.Name))
		if nk != key {
			t.head = nh
			break
		}
		h = nh
	}
	return s.finish(key, members, in), true
}

func wanted(ext string) bool {
	if ext == "cls" || ext == "json" {
		return true
	}
	for _, e := range wdsImageExts {
		if ext == e {
			return true
		}
	}
	return false
}

func (s *webDataset) finish(key string, members []member, in int64) Item {
	t := s.cur
	it := Item{Key: key, Path: t.name + "/" + key, InBytes: in}
	if s.seen[key] {
		it.Skip = "duplicate key " + strconv.Quote(key)
		return it
	}
	s.seen[key] = true
	byExt := map[string]*member{}
	for i := range members {
		m := &members[i]
		if m.skip != "" {
			it.Skip = m.skip
			return it
		}
		if _, dup := byExt[m.ext]; !dup {
			byExt[m.ext] = m
		}
	}
	for _, e := range wdsImageExts {
		if m, ok := byExt[e]; ok {
			it.Data, it.Ext = m.data, e
			it.Path = t.name + "/" + key + "." + e
			break
		}
	}
	if it.Data == nil {
		exts := make([]string, 0, len(byExt))
		for e := range byExt {
			exts = append(exts, "."+e)
		}
		sort.Strings(exts)
		it.Skip = fmt.Sprintf("sample has no image member (has %s)", strings.Join(exts, " "))
		return it
	}
	if len(it.Data) == 0 {
		it.Skip = "empty image member"
		return it
	}
	if m, ok := byExt["cls"]; ok {
		v, err := ParseCls(m.data)
		if err != nil {
			it.Skip = fmt.Sprintf("%s.cls: %v", key, err)
			return it
		}
		it.Label, it.HasLabel = v, true
	}
	if m, ok := byExt["json"]; ok {
		v, has, err := ParseJSONLabel(m.data)
		if err != nil {
			it.Skip = fmt.Sprintf("%s.json: %v", key, err)
			return it
		}
		if has && !it.HasLabel {
			it.Label, it.HasLabel = v, true
		}
		if len(m.data) <= MaxMetaBytes {
			var buf bytes.Buffer
			if json.Compact(&buf, m.data) == nil {
				it.Meta = buf.Bytes()
			}
		}
	}
	return it
}

// ParseCls parses a WebDataset .cls member: a decimal integer, surrounding
// white space allowed, fitting in int32.
func ParseCls(b []byte) (int32, error) {
	s := strings.TrimSpace(string(b))
	v, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: label %.40q is not an integer", ErrFormat, s)
	}
	return int32(v), nil
}

// ParseJSONLabel reads the label from a WebDataset .json member: the integer
// field "label", or else "cls". has is false when the object has neither.
// Anything that is not a JSON object, or a label that is not an integer
// fitting in int32, is an error.
func ParseJSONLabel(b []byte) (v int32, has bool, err error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return 0, false, fmt.Errorf("%w: not a JSON object: %v", ErrFormat, err)
	}
	for _, k := range []string{"label", "cls"} {
		raw, ok := obj[k]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(raw)), 10, 32)
		if err != nil {
			return 0, false, fmt.Errorf("%w: %q is %.40s, not an integer", ErrFormat, k, raw)
		}
		return int32(n), true, nil
	}
	return 0, false, nil
}

// ExpandBraces expands bash-style braces: numeric ranges "{000..003}" (zero
// padding kept when the bounds are padded) and lists "{a,b}". At most
// 1,000,000 names.
func ExpandBraces(p string) ([]string, error) {
	out, err := expand(p, 0)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", p, err)
	}
	return out, nil
}

const maxExpand = 1_000_000

func expand(p string, depth int) ([]string, error) {
	if depth > 16 {
		return nil, errors.New("braces nested too deep")
	}
	i := strings.IndexByte(p, '{')
	if i < 0 {
		if strings.ContainsAny(p, "}") {
			return nil, errors.New("unbalanced '}'")
		}
		return []string{p}, nil
	}
	j := strings.IndexByte(p[i:], '}')
	if j < 0 {
		return nil, errors.New("unbalanced '{'")
	}
	j += i
	body, prefix, rest := p[i+1:j], p[:i], p[j+1:]
	if strings.ContainsRune(body, '{') {
		return nil, errors.New("nested braces are not supported")
	}
	var alts []string
	if a, b, ok := strings.Cut(body, ".."); ok {
		lo, err1 := strconv.Atoi(a)
		hi, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || lo < 0 || hi < lo {
			return nil, fmt.Errorf("bad range {%s}", body)
		}
		if hi-lo >= maxExpand {
			return nil, fmt.Errorf("range {%s} too large", body)
		}
		width := 0
		if len(a) > 1 && a[0] == '0' {
			width = len(a)
		}
		for n := lo; n <= hi; n++ {
			alts = append(alts, fmt.Sprintf("%0*d", width, n))
		}
	} else {
		alts = strings.Split(body, ",")
	}
	tails, err := expand(rest, depth+1)
	if err != nil {
		return nil, err
	}
	if len(alts)*len(tails) > maxExpand {
		return nil, errors.New("pattern expands to too many names")
	}
	out := make([]string, 0, len(alts)*len(tails))
	for _, a := range alts {
		for _, t := range tails {
			out = append(out, prefix+a+t)
		}
	}
	return out, nil
}
