package source

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pairflow/pairflow/ops"
)

// CIFAR binary batches (https://www.cs.toronto.edu/~kriz/cifar.html):
//
//   - CIFAR-10 (data_batch_1.bin … data_batch_5.bin, test_batch.bin): records
//     of 1 label byte (0..9) and 3072 pixel bytes — the 1024 red values of
//     the 32×32 image row by row, then the 1024 green, then the 1024 blue.
//     Class names come from batches.meta.txt beside the batches.
//   - CIFAR-100 (train.bin, test.bin): records of a coarse label byte
//     (0..19), a fine label byte (0..99), then the same 3072 pixel bytes.
//     The fine label is the record's label; the coarse one goes into its
//     metadata as {"coarse_label":N}. Class names come from
//     fine_label_names.txt.
//
// The variant is told by the file name (train.bin/test.bin are CIFAR-100,
// data_batch_*/test_batch CIFAR-10), else by which record size divides the
// file size. A directory input means its training batches, or its test
// batch when the split is "test". A record whose label is out of range is
// skipped; a file whose size is not a whole number of records is an error,
// and so is a batch under an official name (data_batch_N.bin, test_batch.bin,
// train.bin, test.bin) that does not hold the official number of records
// (10000, or 50000 for CIFAR-100's train.bin): a batch cut at a record
// boundary is otherwise indistinguishable from a whole one. Options.
// PartialCIFAR accepts such batches (subsets, test fixtures).
type cifarSource struct {
	files   []cifarFile
	fi      int
	f       *hashFile
	r       *bufio.Reader
	inputs  []Input
	ended   bool
	ri      int
	classes []string
	total   int
	bytes   int64
	buf     []byte
}

type cifarFile struct {
	path, name string
	hundred    bool
	n          int
}

const (
	cifarPixels = 32 * 32 * 3
	cifar10Rec  = 1 + cifarPixels
	cifar100Rec = 2 + cifarPixels
)

// officialRecords is the record count of an official CIFAR batch name, or 0.
func officialRecords(path string) int {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case base == "train.bin":
		return 50000
	case base == "test.bin", base == "test_batch.bin":
		return 10000
	case strings.HasPrefix(base, "data_batch_") && strings.HasSuffix(base, ".bin"):
		return 10000
	}
	return 0
}

func cifarVariant(path string, size int64) (hundred bool, err error) {
	base := strings.ToLower(filepath.Base(path))
	switch {
	case base == "train.bin" || base == "test.bin":
		hundred = true
	case strings.HasPrefix(base, "data_batch") || strings.HasPrefix(base, "test_batch"):
		hundred = false
	default:
		d10, d100 := size%cifar10Rec == 0, size%cifar100Rec == 0
		switch {
		case d10 && !d100:
			hundred = false
		case d100 && !d10:
			hundred = true
		default:
			return false, fmt.Errorf("%s: %w: cannot tell CIFAR-10 from CIFAR-100 (size %d); name it data_batch_N.bin or train.bin", filepath.Base(path), ErrFormat, size)
		}
	}
	rec := int64(cifar10Rec)
	if hundred {
		rec = cifar100Rec
	}
	if size == 0 || size%rec != 0 {
		return false, fmt.Errorf("%s: %w: size %d is not a whole number of %d-byte records", filepath.Base(path), ErrFormat, size, rec)
	}
	return hundred, nil
}

// OpenCIFAR opens one CIFAR batch file or a directory of them.
func OpenCIFAR(in string, opt Options) (Source, error) {
	st, err := os.Stat(in)
	if err != nil {
		return nil, fmt.Errorf("source: cifar: %w", err)
	}
	var paths []string
	dir := in
	if st.IsDir() {
		test := opt.Split == "test"
		ents, err := os.ReadDir(in)
		if err != nil {
			return nil, fmt.Errorf("source: cifar: %w", err)
		}
		for _, e := range sortedNames(ents) {
			n := strings.ToLower(e.Name())
			if e.IsDir() || !strings.HasSuffix(n, ".bin") {
				continue
			}
			isTest := n == "test.bin" || strings.HasPrefix(n, "test_batch")
			isTrain := n == "train.bin" || strings.HasPrefix(n, "data_batch")
			if (test && isTest) || (!test && isTrain) {
				paths = append(paths, filepath.Join(in, e.Name()))
			}
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("source: cifar %s: %w: no %s batches (data_batch_*.bin, test_batch.bin, train.bin, test.bin)", in, ErrNoInput, map[bool]string{true: "test", false: "training"}[test])
		}
	} else {
		paths = []string{in}
		dir = filepath.Dir(in)
	}
	s := &cifarSource{buf: make([]byte, cifar100Rec)}
	var hundreds int
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("source: cifar: %w", err)
		}
		h, err := cifarVariant(p, st.Size())
		if err != nil {
			return nil, fmt.Errorf("source: cifar: %w", err)
		}
		rec := int64(cifar10Rec)
		if h {
			rec = cifar100Rec
			hundreds++
		}
		n := int(st.Size() / rec)
		if want := officialRecords(p); want > 0 && n != want && !opt.PartialCIFAR {
			return nil, fmt.Errorf("source: cifar: %s: %w: %d records, an official batch of this name holds %d (cut short?); --cifar-partial accepts it",
				filepath.Base(p), ErrFormat, n, want)
		}
		s.files = append(s.files, cifarFile{path: p, name: filepath.Base(p), hundred: h, n: n})
		s.total += int(st.Size() / rec)
		s.bytes += st.Size()
	}
	if hundreds != 0 && hundreds != len(s.files) {
		return nil, fmt.Errorf("source: cifar %s: %w: mixes CIFAR-10 and CIFAR-100 batches", in, ErrFormat)
	}
	meta := "batches.meta.txt"
	if hundreds > 0 {
		meta = "fine_label_names.txt"
	}
	if names, err := ReadClassNames(filepath.Join(dir, meta)); err == nil {
		s.classes = names
	}
	return s, nil
}

func (s *cifarSource) Classes() []string { return s.classes }
func (s *cifarSource) Len() int          { return s.total }
func (s *cifarSource) InputBytes() int64 { return s.bytes }

func (s *cifarSource) Close() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	return nil
}

// Inputs returns each batch file's digest once Next has returned io.EOF.
func (s *cifarSource) Inputs() ([]Input, error) {
	if !s.ended {
		return nil, errNotEnded
	}
	return s.inputs, nil
}

func (s *cifarSource) Next() (Item, error) {
	for s.f == nil || s.ri >= s.files[s.fi].n {
		if s.f != nil {
			// The file must end where its records do (it may have grown
			// since Open measured it).
			if _, err := s.r.ReadByte(); err != io.EOF {
				return Item{}, fmt.Errorf("source: cifar: %s: %w: data after record %d (the file changed while read?)", s.files[s.fi].name, ErrFormat, s.ri-1)
			}
			in, err := s.f.finish()
			if err != nil {
				return Item{}, fmt.Errorf("source: cifar: %w", err)
			}
			s.inputs = append(s.inputs, in)
			s.f.Close()
			s.f = nil
			s.fi++
		}
		if s.fi >= len(s.files) {
			s.ended = true
			return Item{}, io.EOF
		}
		f, err := openHashed(s.files[s.fi].path, s.files[s.fi].name)
		if err != nil {
			return Item{}, fmt.Errorf("source: cifar: %w", err)
		}
		s.f, s.r, s.ri = f, bufio.NewReaderSize(f, 1<<16), 0
	}
	cf := s.files[s.fi]
	i := s.ri
	s.ri++
	rec := s.buf[:cifar10Rec]
	if cf.hundred {
		rec = s.buf[:cifar100Rec]
	}
	if _, err := io.ReadFull(s.r, rec); err != nil {
		return Item{}, fmt.Errorf("source: cifar: %s record %d: %w: truncated: %v", cf.name, i, ErrFormat, err)
	}
	stem := strings.TrimSuffix(cf.name, filepath.Ext(cf.name))
	it := Item{Key: fmt.Sprintf("%s/%05d", stem, i), Path: fmt.Sprintf("%s[%d]", cf.name, i), InBytes: int64(len(rec)), HasLabel: true}
	px := rec[1:]
	if cf.hundred {
		coarse, fine := rec[0], rec[1]
		px = rec[2:]
		if coarse >= 20 || fine >= 100 {
			it.Skip = fmt.Sprintf("labels coarse %d / fine %d out of range", coarse, fine)
			return it, nil
		}
		it.Label = int32(fine)
		it.Meta = fmt.Appendf(nil, `{"coarse_label":%d}`, coarse)
	} else {
		if rec[0] >= 10 {
			it.Skip = fmt.Sprintf("label %d out of range 0..9", rec[0])
			return it, nil
		}
		it.Label = int32(rec[0])
	}
	m := ops.NewImage(32, 32, 3)
	PlanarToHWC(m.Pix, px, 32*32)
	it.Raw = m
	return it, nil
}

// PlanarToHWC interleaves three planes of n samples (R…, G…, B…) into dst.
func PlanarToHWC(dst, planes []byte, n int) {
	r, g, b := planes[:n], planes[n:2*n], planes[2*n:3*n]
	dst = dst[:3*n]
	for i := 0; i < n; i++ {
		dst[3*i], dst[3*i+1], dst[3*i+2] = r[i], g[i], b[i]
	}
}
