package atomicfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// useRenameat2 is false in tests of the fallback.
var useRenameat2 = true

// renameNoReplace renames old to new unless new exists (EEXIST, which
// matches fs.ErrExist). File systems without RENAME_NOREPLACE get the
// link(2) way.
func renameNoReplace(old, new string) error {
	if !useRenameat2 {
		return linkNoReplace(old, new)
	}
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.ENOTSUP):
		return linkNoReplace(old, new)
	}
	return &os.LinkError{Op: "renameat2", Old: old, New: new, Err: err}
}
