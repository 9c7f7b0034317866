package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// outFile is --out being written. A regular file (or a new path) is written
// to a temporary file beside it, fsynced and renamed over the path only
// after success, so a failed run leaves whatever was at --out untouched and
// no partial stream behind; a path that exists and is not a regular file (a
// FIFO, /dev/stdout) is written in place and never removed.
type outFile struct {
	f          *os.File
	path, temp string // temp == "": written in place
	done       bool
}

func createOut(path string) (*outFile, error) {
	fi, err := os.Stat(path)
	switch {
	case err == nil && !fi.Mode().IsRegular():
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &outFile{f: f, path: path}, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	return &outFile{f: f, path: path, temp: f.Name()}, nil
}

// commit makes the stream the file at path: fsync, close, rename, fsync the
// directory.
func (o *outFile) commit() error {
	o.done = true
	if o.temp == "" {
		return o.f.Close()
	}
	err := o.f.Sync()
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(o.temp, 0o644)
	}
	if err == nil {
		err = os.Rename(o.temp, o.path)
	}
	if err != nil {
		os.Remove(o.temp)
		return fmt.Errorf("writing %s: %w", o.path, err)
	}
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// abort removes the temporary file of a failed run (only it: never a file
// this run did not create).
func (o *outFile) abort() {
	if o.done {
		return
	}
	o.done = true
	o.f.Close()
	if o.temp != "" {
		os.Remove(o.temp)
	}
}
