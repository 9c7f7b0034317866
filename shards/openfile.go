package shards

import (
	"fmt"
	"os"
)

// openRegular opens name for reading and refuses anything but a regular
// file. Opening does not block on a FIFO (on unix it opens non-blocking), so
// an index.json or shard that is a named pipe gets an error, not a hang.
func openRegular(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file (mode %v)", name, st.Mode().Type())
	}
	return f, nil
}
