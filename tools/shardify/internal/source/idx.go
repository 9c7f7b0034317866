package source

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pairflow/pairflow/ops"
)

// IDX is the MNIST file format (http://yann.lecun.com/exdb/mnist/): a
// big-endian header of two zero bytes, a type byte (0x08 = unsigned byte),
// the number of dimensions, then one uint32 per dimension, then the data.
// Images are N×rows×cols (or N×rows×cols×channels with 1 or 3 channels);
// labels are N bytes. Either file may be gzip-compressed (detected by its
// magic bytes, not its name). Each file is read to its end: a gzip trailer
// (CRC-32 and length) that does not match, a cut stream, or any byte after
// the N records (compressed or not) fails the whole input.
type idxSource struct {
	name      string
	imgs      *idxFile
	lbls      *idxFile
	n, h, w   int
	c         int
	i         int
	bytes     int64
	keyWidth  int
	recBytes  int
	labelName string
	ended     bool
	inputs    []Input
}

type idxFile struct {
	f  *hashFile
	gz *gzip.Reader
	r  *bufio.Reader
}

func (f *idxFile) close() {
	if f == nil {
		return
	}
	if f.gz != nil {
		f.gz.Close()
	}
	f.f.Close()
}

// end checks that nothing follows the records and that a gzip stream ends
// with a good trailer, and returns the file's digest.
func (f *idxFile) end() (Input, error) {
	if err := gzipEnd(f.r); err != nil {
		return Input{}, fmt.Errorf("%s: %w", f.f.name, err)
	}
	return f.f.finish()
}

// maxIDXImageBytes bounds one IDX image (rows×cols×channels).
const maxIDXImageBytes = 1 << 24

func openIDXFile(p string) (*idxFile, []int, error) {
	f, err := openHashed(p, filepath.Base(p))
	if err != nil {
		return nil, nil, err
	}
	x := &idxFile{f: f}
	br := bufio.NewReaderSize(f, 1<<16)
	x.r = br
	if m, _ := br.Peek(2); len(m) == 2 && m[0] == 0x1f && m[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: gzip: %w", filepath.Base(p), err)
		}
		x.gz = gz
		x.r = bufio.NewReaderSize(gz, 1<<16)
	}
	var hdr [4]byte
	if _, err := io.ReadFull(x.r, hdr[:]); err != nil {
		x.close()
		return nil, nil, fmt.Errorf("%s: %w: header: %v", filepath.Base(p), ErrFormat, err)
	}
	if hdr[0] != 0 || hdr[1] != 0 || hdr[2] != 0x08 || hdr[3] == 0 || hdr[3] > 4 {
		x.close()
		return nil, nil, fmt.Errorf("%s: %w: magic % x is not an unsigned-byte IDX header", filepath.Base(p), ErrFormat, hdr)
	}
	dims := make([]int, hdr[3])
	for i := range dims {
		var d [4]byte
		if _, err := io.ReadFull(x.r, d[:]); err != nil {
			x.close()
			return nil, nil, fmt.Errorf("%s: %w: dimension %d: %v", filepath.Base(p), ErrFormat, i, err)
		}
		v := binary.BigEndian.Uint32(d[:])
		if v > 1<<31-1 {
			x.close()
			return nil, nil, fmt.Errorf("%s: %w: dimension %d is %d", filepath.Base(p), ErrTooLarge, i, v)
		}
		dims[i] = int(v)
	}
	return x, dims, nil
}

// LabelsPathFor returns the labels file beside an images file: the name
// with "images-idx3-ubyte" replaced by "labels-idx1-ubyte", with or without
// ".gz". It returns "" when there is none.
func LabelsPathFor(images string) string {
	dir, base := filepath.Split(images)
	if !strings.Contains(base, "images-idx3-ubyte") {
		return ""
	}
	lb := strings.Replace(base, "images-idx3-ubyte", "labels-idx1-ubyte", 1)
	cands := []string{lb}
	if strings.HasSuffix(lb, ".gz") {
		cands = append(cands, strings.TrimSuffix(lb, ".gz"))
	} else {
		cands = append(cands, lb+".gz")
	}
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(dir, c)); err == nil && st.Mode().IsRegular() {
			return filepath.Join(dir, c)
		}
	}
	return ""
}

// OpenIDX opens an IDX images file and, when present, its labels file.
func OpenIDX(p string, opt Options) (Source, error) {
	imgs, dims, err := openIDXFile(p)
	if err != nil {
		return nil, fmt.Errorf("source: idx: %w", err)
	}
	s := &idxSource{name: filepath.Base(p), imgs: imgs, c: 1}
	switch {
	case len(dims) == 3:
		s.n, s.h, s.w = dims[0], dims[1], dims[2]
	case len(dims) == 4 && (dims[3] == 1 || dims[3] == 3):
		s.n, s.h, s.w, s.c = dims[0], dims[1], dims[2], dims[3]
	default:
		imgs.close()
		return nil, fmt.Errorf("source: idx: %s: %w: dimensions %v are not N×rows×cols[×1|3]", s.name, ErrFormat, dims)
	}
	if s.h == 0 || s.w == 0 || s.h > ops.MaxSide || s.w > ops.MaxSide || s.h*s.w*s.c > maxIDXImageBytes {
		imgs.close()
		return nil, fmt.Errorf("source: idx: %s: %w: image size %dx%dx%d", s.name, ErrTooLarge, s.w, s.h, s.c)
	}
	s.recBytes = s.h * s.w * s.c
	s.bytes = int64(s.n) * int64(s.recBytes)
	if st, err := imgs.f.f.Stat(); err == nil {
		if imgs.gz == nil && int64(s.n)*int64(s.recBytes) > st.Size() {
			imgs.close()
			return nil, fmt.Errorf("source: idx: %s: %w: header claims %d images of %d bytes, file has %d bytes",
				s.name, ErrFormat, s.n, s.recBytes, st.Size())
		}
	}
	s.keyWidth = len(fmt.Sprint(max(s.n-1, 0)))
	if lp := LabelsPathFor(p); lp != "" {
		lbls, ldims, err := openIDXFile(lp)
		if err != nil {
			imgs.close()
			return nil, fmt.Errorf("source: idx: %w", err)
		}
		s.lbls, s.labelName = lbls, filepath.Base(lp)
		if len(ldims) != 1 || ldims[0] != s.n {
			s.Close()
			return nil, fmt.Errorf("source: idx: %s: %w: %v labels for %d images in %s", s.labelName, ErrFormat, ldims, s.n, s.name)
		}
		s.bytes += int64(s.n)
	}
	return s, nil
}

func (s *idxSource) Classes() []string { return nil }
func (s *idxSource) Len() int          { return s.n }

// InputBytes counts the uncompressed pixel and label bytes.
func (s *idxSource) InputBytes() int64 { return s.bytes }

func (s *idxSource) Close() error {
	s.imgs.close()
	s.lbls.close()
	return nil
}

// HasLabels reports whether a labels file was found (used for messages).
func (s *idxSource) HasLabels() bool { return s.lbls != nil }

// Inputs returns the images and labels files' digests once Next has
// returned io.EOF.
func (s *idxSource) Inputs() ([]Input, error) {
	if !s.ended {
		return nil, errNotEnded
	}
	return s.inputs, nil
}

func (s *idxSource) Next() (Item, error) {
	if s.i >= s.n {
		if !s.ended {
			for _, f := range []*idxFile{s.imgs, s.lbls} {
				if f == nil {
					continue
				}
				in, err := f.end()
				if err != nil {
					return Item{}, fmt.Errorf("source: idx: %w", err)
				}
				s.inputs = append(s.inputs, in)
			}
			s.ended = true
		}
		return Item{}, io.EOF
	}
	i := s.i
	s.i++
	m := ops.NewImage(s.w, s.h, s.c)
	if _, err := io.ReadFull(s.imgs.r, m.Pix); err != nil {
		return Item{}, fmt.Errorf("source: idx: %s record %d: %w: truncated: %v", s.name, i, ErrFormat, err)
	}
	it := Item{Key: fmt.Sprintf("%0*d", s.keyWidth, i), Path: fmt.Sprintf("%s[%d]", s.name, i), Raw: m,
		InBytes: int64(s.recBytes)}
	if s.lbls != nil {
		b, err := s.lbls.r.ReadByte()
		if err != nil {
			return Item{}, fmt.Errorf("source: idx: %s record %d: %w: truncated: %v", s.labelName, i, ErrFormat, err)
		}
		it.Label, it.HasLabel = int32(b), true
		it.InBytes++
	}
	return it, nil
}
