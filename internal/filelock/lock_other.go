//go:build !unix && !windows

package filelock

import (
	"os"
	"path/filepath"
	"sync"
)

// Without a system lock the lock excludes only this process's goroutines,
// keyed by the file's absolute path.
var held sync.Map

func key(f *os.File) string {
	p, err := filepath.Abs(f.Name())
	if err != nil {
		return f.Name()
	}
	return p
}

func tryLock(f *os.File) (bool, error) {
	_, taken := held.LoadOrStore(key(f), true)
	return !taken, nil
}

func unlock(f *os.File) error {
	held.Delete(key(f))
	return nil
}
