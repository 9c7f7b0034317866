// Package atomicfile writes output files so that a crash (of the process or
// of the machine) leaves each one either as it was before or complete, never
// cut short or mixed: the bytes go to a temporary file in the same
// directory, which is fsynced, closed and renamed over the target, and then
// the directory itself is fsynced so that the rename survives a power loss.
//
// It is for the outputs of long-running commands (checkpoints, metrics,
// results, tables) and for objects that must appear whole (package store's
// local objects). It is not a lock: two writers of one path each leave a
// complete file, and the last rename wins — unless they use CreateNew, with
// which the first to commit wins and the others fail with fs.ErrExist.
// Temporary files left by a killed writer are named ".<target>.tmp-<random>"
// (see IsTemp) and can be removed with RemoveTemps.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// syncFile is (*os.File).Sync; tests replace it to see the order of
// events.
var syncFile = (*os.File).Sync

// tempInfix sits between the target's base name and the random suffix of a
// temporary file's name.
const tempInfix = ".tmp-"

// File is an output being written. Writes go to a temporary file; Commit
// puts it in place of the target, Abort (or a failed Commit) removes it.
type File struct {
	f         *os.File
	path      string
	done      bool
	noReplace bool // CreateNew
}

// Create starts writing path with permissions perm. Nothing at path
// changes until Commit. The caller must call Commit or Abort.
func Create(path string, perm fs.FileMode) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+tempInfix+"*")
	if err != nil {
		return nil, fmt.Errorf("atomicfile: %w", err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("atomicfile: %w", err)
	}
	return &File{f: f, path: path}, nil
}

// CreateNew is Create for a path that must not exist: Commit puts the file
// at path only if nothing is there at that moment, atomically (on Linux a
// rename with RENAME_NOREPLACE; elsewhere, or where the file system lacks
// it, a hard link, which fails on an existing name, and the removal of the
// temporary name), and otherwise fails with an error wrapping fs.ErrExist,
// leaving what is there untouched. Of several writers of one path exactly
// one succeeds.
func CreateNew(path string, perm fs.FileMode) (*File, error) {
	f, err := Create(path, perm)
	if err != nil {
		return nil, err
	}
	f.noReplace = true
	return f, nil
}

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, fmt.Errorf("atomicfile: %s: write after Commit or Abort: %w", f.path, fs.ErrClosed)
	}
	return f.f.Write(p)
}

// Name is the target path.
func (f *File) Name() string { return f.path }

// Commit makes what was written durable and puts it at the target path:
// fsync, close, rename, fsync of the directory. On error the temporary
// file is removed and the target is left as it was (or, if only the
// directory's fsync failed, complete but perhaps not yet durable).
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("atomicfile: %s: Commit after Commit or Abort: %w", f.path, fs.ErrClosed)
	}
	f.done = true
	tmp := f.f.Name()
	err := syncFile(f.f)
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if f.noReplace {
			err = renameNoReplace(tmp, f.path)
		} else {
			err = os.Rename(tmp, f.path)
		}
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("atomicfile: writing %s: %w", f.path, err)
	}
	if err := SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("atomicfile: %s written, but its directory could not be synced: %w", f.path, err)
	}
	return nil
}

// Abort drops what was written; the target is untouched. It does nothing
// after Commit or a previous Abort, so it can be deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	tmp := f.f.Name()
	err := f.f.Close()
	if rerr := os.Remove(tmp); err == nil {
		err = rerr
	}
	return err
}

// WriteFile writes data to path as Create, Write and Commit do: path holds
// either its old contents or data, and data is durable when WriteFile
// returns nil.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	f, err := Create(path, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Abort()
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	return f.Commit()
}

// linkNoReplace puts old at new unless new exists: link(2) fails on an
// existing name. Then it removes old; a crash before that leaves old, a
// temporary file RemoveTemps removes.
func linkNoReplace(old, new string) error {
	if err := os.Link(old, new); err != nil {
		return err
	}
	if err := os.Remove(old); err != nil {
		return fmt.Errorf("removing the temporary name: %w", err)
	}
	return nil
}

// SyncDir fsyncs a directory, making the creations, renames and removals
// of entries in it durable. File systems and systems that cannot sync a
// directory (EINVAL, as some do, or Windows) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = syncFile(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil && syncUnsupported(err) {
		return nil
	}
	return err
}

// IsTemp reports whether name (a base name) is a temporary file of this
// package.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
}

// RemoveTemps removes the temporary files that writers killed before
// Commit or Abort left in dir, and returns their names. Call it only where
// no other writer is at work in dir.
func RemoveTemps(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
