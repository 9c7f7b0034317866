package source

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// imageFolder is the torchvision ImageFolder layout: root/CLASS/.../FILE.
// Classes are the sub-folders of root sorted by name (byte order); label i
// is the i-th class. Files are taken recursively in lexical path order.
// Hidden files and folders (names starting with a dot) are ignored, and so
// are regular files directly under root. Symlinked files are followed, and
// so are symlinked class folders that lead elsewhere inside the root; one
// that loops (to the root or a folder above it) is skipped and reported, and
// so is one that leads outside the root unless Options.FollowSymlinks
// (symlinked folders below a class are not followed). Every other file
// becomes an item; whether it is an image is the decoder's call.
//
// Its Inputs entry is the whole tree: the SHA-256 of the sha256sum listing
// of every regular file, hashed as the workers read them (Item.Load) or, for
// files never loaded, at the end.
type imageFolder struct {
	root    string
	classes []string
	files   []folderFile
	next    int
	bytes   int64
	maxFile int64
	sums    [][sha256.Size]byte // per file, set by Load
	lens    []int64
	summed  []bool
}

type folderFile struct {
	rel   string // slash-separated, relative to root
	full  string // path to open
	label int32
	size  int64
	mode  fs.FileMode
	skip  string // a class folder that is not taken, and why
}

// OpenImageFolder lists the ImageFolder tree at root.
func OpenImageFolder(root string, opt Options) (Source, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("source: imagefolder: %w", err)
	}
	s := &imageFolder{root: root, maxFile: opt.maxFile()}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("source: imagefolder: %w", err)
	}
	if realRoot, err = filepath.Abs(realRoot); err != nil {
		return nil, fmt.Errorf("source: imagefolder: %w", err)
	}
	for _, e := range sortedNames(ents) {
		// Class folders may be symlinks (common for dataset subsets).
		if st, err := os.Stat(filepath.Join(root, e.Name())); err != nil || !st.IsDir() {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			if why := classLinkProblem(realRoot, filepath.Join(root, e.Name()), opt.FollowSymlinks); why != "" {
				s.files = append(s.files, folderFile{rel: e.Name(), skip: why})
				continue
			}
		}
		label := int32(len(s.classes))
		s.classes = append(s.classes, e.Name())
		classDir, err := filepath.EvalSymlinks(filepath.Join(root, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("source: imagefolder: %w", err)
		}
		err = filepath.WalkDir(classDir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if strings.HasPrefix(d.Name(), ".") && p != classDir {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(classDir, p)
			if err != nil {
				return err
			}
			rel = filepath.Join(e.Name(), rel)
			// Follow symlinked files; a dangling link becomes a skipped item.
			info, err := os.Stat(p)
			if err != nil {
				info, err = d.Info()
				if err != nil {
					return err
				}
			}
			s.files = append(s.files, folderFile{rel: filepath.ToSlash(rel), full: p, label: label, size: info.Size(), mode: info.Mode()})
			if info.Mode().IsRegular() {
				s.bytes += info.Size()
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("source: imagefolder: %w", err)
		}
	}
	if len(s.classes) == 0 {
		return nil, fmt.Errorf("source: imagefolder %s: %w: no class sub-folders", root, ErrNoInput)
	}
	s.sums = make([][sha256.Size]byte, len(s.files))
	s.summed = make([]bool, len(s.files))
	s.lens = make([]int64, len(s.files))
	return s, nil
}

// classLinkProblem says why the symlinked class folder link is not taken:
// it loops back to the root or above, or leads outside the root (unless
// follow). "" means take it.
func classLinkProblem(realRoot, link string, follow bool) string {
	target, err := filepath.EvalSymlinks(link)
	if err == nil {
		target, err = filepath.Abs(target)
	}
	if err != nil {
		return "symlinked class folder: " + err.Error()
	}
	within := func(dir, p string) bool {
		r, err := filepath.Rel(dir, p)
		return err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator))
	}
	switch {
	case within(target, realRoot):
		return fmt.Sprintf("symlinked class folder loops back to %s (the input root or above it): skipped, it would repeat the dataset under a new label", target)
	case !within(realRoot, target) && !follow:
		return fmt.Sprintf("symlinked class folder points outside the input root, to %s: skipped (--follow-symlinks takes it)", target)
	}
	return ""
}

func (s *imageFolder) Classes() []string { return s.classes }
func (s *imageFolder) Len() int          { return len(s.files) }
func (s *imageFolder) InputBytes() int64 { return s.bytes }
func (s *imageFolder) Close() error      { return nil }

func (s *imageFolder) Next() (Item, error) {
	if s.next >= len(s.files) {
		return Item{}, io.EOF
	}
	idx := s.next
	f := s.files[idx]
	s.next++
	if f.skip != "" {
		return Item{Key: f.rel, Path: f.rel, Skip: f.skip}, nil
	}
	it := Item{
		Key:      f.rel,
		Path:     f.rel,
		Label:    f.label,
		HasLabel: true,
		Ext:      strings.TrimPrefix(strings.ToLower(path.Ext(f.rel)), "."),
		InBytes:  f.size,
	}
	switch {
	case !f.mode.IsRegular():
		it.Skip = "not a regular file"
	case f.size == 0:
		it.Skip = "empty file"
	case f.size > s.maxFile:
		it.Skip = fmt.Sprintf("file of %d bytes exceeds the %d-byte bound", f.size, s.maxFile)
	default:
		full := f.full
		max := s.maxFile
		it.Load = func() ([]byte, error) {
			b, err := readFileBounded(full, max)
			if err == nil {
				// Each index is written by its own Load only; Inputs reads
				// them after every Load has returned.
				s.sums[idx], s.lens[idx] = sha256.Sum256(b), int64(len(b))
				s.summed[idx] = true
			}
			return b, err
		}
	}
	return it, nil
}

// Inputs returns one entry for the tree (see imageFolder). It must not run
// while an item's Load may still run.
func (s *imageFolder) Inputs() ([]Input, error) {
	if s.next < len(s.files) {
		return nil, errNotEnded
	}
	h := sha256.New()
	in := Input{Path: "."}
	for i, f := range s.files {
		if f.skip != "" || !f.mode.IsRegular() {
			continue
		}
		n := s.lens[i]
		if !s.summed[i] {
			sum, size, err := HashFile(f.full)
			if err != nil {
				return nil, fmt.Errorf("source: imagefolder: %s: %w", f.rel, err)
			}
			s.sums[i], n = sum, size
		}
		fmt.Fprintf(h, "%x  %s\n", s.sums[i], f.rel)
		in.Files++
		in.Bytes += n
	}
	h.Sum(in.SHA256[:0])
	return []Input{in}, nil
}

// readFileBounded reads the whole file at p, refusing files over max bytes
// (checked again while reading, in case the file grew).
func readFileBounded(p string, max int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%w: %d bytes over the %d-byte bound", ErrTooLarge, st.Size(), max)
	}
	b := make([]byte, 0, st.Size()+1)
	b, err = readAllInto(io.LimitReader(f, max+1), b)
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: over the %d-byte bound", ErrTooLarge, max)
	}
	return b, nil
}

func readAllInto(r io.Reader, b []byte) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
