package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pairflow/pairflow/internal/atomicfile"
)

// localBackend keeps objects as files in a directory. Writes go through
// internal/atomicfile: a temporary name, fsynced and renamed into place (for
// a conditional write, atomicfile.CreateNew: put in place only if the name
// is free), then the directory fsynced.
type localBackend struct{ dir string }

func (b *localBackend) host() string { return "file:" }

func fileErr(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%v: %w", err, ErrNotFound)
	}
	if errors.Is(err, os.ErrPermission) {
		return fmt.Errorf("%v: %w", err, ErrDenied)
	}
	return err
}

func (b *localBackend) stat(_ context.Context, name string) (Info, error) {
	st, err := os.Stat(filepath.Join(b.dir, name))
	if err != nil {
		return Info{}, fileErr(err)
	}
	return Info{Name: name, Size: st.Size(), ETag: etagOf(st)}, nil
}

func etagOf(st os.FileInfo) string {
	return fmt.Sprintf("%x-%x", st.ModTime().UnixNano(), st.Size())
}

func (b *localBackend) get(_ context.Context, name string, off, n int64, ifNoneMatch string) (io.ReadCloser, Info, error) {
	f, err := os.Open(filepath.Join(b.dir, name))
	if err != nil {
		return nil, Info{}, fileErr(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, Info{}, err
	}
	info := Info{Name: name, Size: st.Size(), ETag: etagOf(st)}
	if ifNoneMatch != "" && ifNoneMatch == info.ETag {
		f.Close()
		return nil, Info{}, ErrNotModified
	}
	if n < 0 {
		n = max(st.Size()-off, 0)
	}
	info.Size = n
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, off, n), f}, info, nil
}

func (b *localBackend) put(_ context.Context, name string, r io.Reader, _ int64, ifAbsent bool) error {
	if err := os.MkdirAll(b.dir, 0o755); err != nil {
		return fileErr(err)
	}
	dst := filepath.Join(b.dir, name)
	create := atomicfile.Create
	if ifAbsent {
		create = atomicfile.CreateNew
	}
	f, err := create(dst, 0o644)
	if err != nil {
		return fileErr(err)
	}
	defer f.Abort()
	if _, err := io.Copy(f, r); err != nil {
		return err
	}
	if err := f.Commit(); err != nil {
		if ifAbsent && errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%s: %w", dst, ErrExists)
		}
		return fileErr(err)
	}
	return nil
}

func (b *localBackend) list(context.Context) ([]Info, error) {
	ents, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, fileErr(err)
	}
	var out []Info
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		st, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		out = append(out, Info{Name: e.Name(), Size: st.Size(), ETag: etagOf(st)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (b *localBackend) remove(_ context.Context, name string) error {
	return fileErr(os.Remove(filepath.Join(b.dir, name)))
}
