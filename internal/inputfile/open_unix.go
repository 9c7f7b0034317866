//go:build unix

package inputfile

import (
	"os"
	"syscall"
)

// openFlags opens without blocking: opening a FIFO for reading would wait
// for a writer.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK

// setBlocking clears O_NONBLOCK on an opened regular file, so that it reads
// as a file opened the ordinary way does.
func setBlocking(f *os.File) error {
	c, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := c.Control(func(fd uintptr) { serr = syscall.SetNonblock(int(fd), false) }); err != nil {
		return err
	}
	return serr
}
