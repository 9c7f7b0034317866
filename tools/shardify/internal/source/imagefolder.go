package source

import (
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
// are regular files directly under root. Symlinked class folders and files
// are followed (symlinked folders below a class are not). Every other file
// becomes an item;
// whether it is an image is the decoder's call.
type imageFolder struct {
	root    string
	classes []string
	files   []folderFile
	next    int
	bytes   int64
	maxFile int64
}

type folderFile struct {
	rel   string // slash-separated, relative to root
	full  string // path to open
	label int32
	size  int64
	mode  fs.FileMode
}

// OpenImageFolder lists the ImageFolder tree at root.
func OpenImageFolder(root string, opt Options) (Source, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("source: imagefolder: %w", err)
	}
	s := &imageFolder{root: root, maxFile: opt.maxFile()}
	for _, e := range sortedNames(ents) {
		// Class folders may be symlinks (common for dataset subsets).
		if st, err := os.Stat(filepath.Join(root, e.Name())); err != nil || !st.IsDir() {
			continue
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
	return s, nil
}

func (s *imageFolder) Classes() []string { return s.classes }
func (s *imageFolder) Len() int          { return len(s.files) }
func (s *imageFolder) InputBytes() int64 { return s.bytes }
func (s *imageFolder) Close() error      { return nil }

func (s *imageFolder) Next() (Item, error) {
	if s.next >= len(s.files) {
		return Item{}, io.EOF
	}
	f := s.files[s.next]
	s.next++
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
		it.Load = func() ([]byte, error) { return readFileBounded(full, max) }
	}
	return it, nil
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
