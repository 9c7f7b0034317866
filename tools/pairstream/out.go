package main

import (
	"errors"
	"io"
	"io/fs"
	"os"

	"github.com/pairflow/pairflow/internal/atomicfile"
)

// outFile is --out being written. A regular file (or a new path) is written
// through internal/atomicfile — a temporary file beside it, fsynced and
// renamed over the path only after success — so a failed run leaves
// whatever was at --out untouched and no partial stream behind; a path that
// exists and is not a regular file (a FIFO, /dev/stdout) is written in place
// and never removed.
type outFile struct {
	w      io.Writer
	atomic *atomicfile.File // nil: written in place
	f      *os.File         // in place
	done   bool
}

func createOut(path string) (*outFile, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &outFile{w: f, f: f}, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	a, err := atomicfile.Create(path, 0o644)
	if err != nil {
		return nil, err
	}
	return &outFile{w: a, atomic: a}, nil
}

// commit makes the stream the file at --out.
func (o *outFile) commit() error {
	o.done = true
	if o.atomic == nil {
		return o.f.Close()
	}
	return o.atomic.Commit()
}

// abort drops a failed run's temporary file (only it: never a file this run
// did not create).
func (o *outFile) abort() {
	if o.done {
		return
	}
	o.done = true
	if o.atomic == nil {
		o.f.Close()
		return
	}
	o.atomic.Abort()
}
