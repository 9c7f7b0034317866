//go:build !unix

package shards

import (
	"errors"
	"os"
)

// Without flock the lock is the file's existence (a crashed writer leaves it
// behind; remove it by hand).
func tryLock(p string) (*os.File, bool, error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return f, true, nil
}
