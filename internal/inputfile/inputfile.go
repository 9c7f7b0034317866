// Package inputfile opens and reads the files that command-line flags name
// (configurations, recipes, pipeline states, checkpoints) without trusting
// them: only regular files are accepted — a device such as /dev/zero, a
// FIFO or a directory is refused at once instead of being read without
// end or blocking — and reads are bounded by a size limit checked before
// anything is read.
//
// Package shards opens its manifests and shards through Open too. It is not
// for outputs (see package atomicfile).
package inputfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxJSONBytes is the limit for JSON inputs: configurations, recipes,
// pipeline states and results files.
const MaxJSONBytes = 16 << 20

// Sentinel errors.
var (
	// ErrNotRegular means the path names something other than a regular
	// file (after symbolic links): a device, FIFO, socket or directory.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge means the file is larger than the limit.
	ErrTooLarge = errors.New("file too large")
)

// Open opens path for reading if it is a regular file and returns it with
// its size. The type is checked on the opened file, so nothing can be
// swapped in between a check and the open; and the open itself does not
// block (on unix it opens with O_NONBLOCK, cleared again for a regular
// file), so a FIFO is refused at once instead of waiting for a writer.
func Open(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, kind(st.Mode()))
	}
	if err == nil {
		err = setBlocking(f)
	}
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// ReadFile reads the regular file path of at most limit bytes. A larger
// file is refused (ErrTooLarge) before any of it is read, and so is one
// that grows past the limit while being read.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, size, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes: %w (limit %d)", path, size, ErrTooLarge, limit)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes: %w", path, limit, ErrTooLarge)
	}
	return b, nil
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a device"
	case m&os.ModeSocket != 0:
		return "a socket"
	}
	return "mode " + m.String()
}
