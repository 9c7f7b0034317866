//go:build unix

package inputfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Devices, FIFOs and directories are refused without reading: /dev/zero
// would be read until memory runs out, a FIFO without a writer blocks.
func TestNotRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "state.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	for _, p := range []string{"/dev/zero", fifo, dir, "/dev/null"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		_, err := ReadFile(p, MaxJSONBytes)
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v", p, err)
		}
		if f, _, err := Open(p); !errors.Is(err, ErrNotRegular) {
			t.Errorf("Open %s: %v", p, err)
			if f != nil {
				f.Close()
			}
		}
	}
}

func ExampleReadFile() {
	_, err := ReadFile("/dev/zero", MaxJSONBytes)
	fmt.Println(errors.Is(err, ErrNotRegular), err)
	// Output: true /dev/zero: not a regular file (a character device)
}
