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
	"time"
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

// TestOpenRace swaps the path between a regular file and a FIFO (a symbolic
// link renamed over it) while Open runs: each Open must return at once,
// with the regular file or with ErrNotRegular. Checking the type before
// opening (stat, then open) blocks forever when the FIFO comes in between.
func TestOpenRace(t *testing.T) {
	dir := t.TempDir()
	fifo, reg, p := filepath.Join(dir, "fifo"), filepath.Join(dir, "reg"), filepath.Join(dir, "state.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	if err := os.WriteFile(reg, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(reg, p); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	swapped := make(chan error, 1)
	go func() {
		tmp := p + ".new"
		for i := 0; ; i++ {
			select {
			case <-stop:
				swapped <- nil
				return
			default:
			}
			target := reg
			if i%2 == 0 {
				target = fifo
			}
			if err := os.Symlink(target, tmp); err != nil {
				swapped <- err
				return
			}
			if err := os.Rename(tmp, p); err != nil {
				swapped <- err
				return
			}
		}
	}()
	opened := make(chan [2]int, 1)
	go func() {
		var n [2]int
		for range 20000 {
			f, _, err := Open(p)
			switch {
			case err == nil:
				n[0]++
				f.Close()
			case errors.Is(err, ErrNotRegular):
				n[1]++
			default:
				t.Errorf("Open: %v", err)
			}
		}
		opened <- n
	}()
	var n [2]int
	select {
	case n = <-opened:
	case <-time.After(30 * time.Second):
		// Release the blocked open (a writer on the FIFO) and fail.
		if w, err := os.OpenFile(fifo, os.O_RDWR, 0); err == nil {
			defer w.Close()
		}
		<-opened
		t.Errorf("Open blocked on a FIFO swapped in while it ran")
	}
	close(stop)
	if err := <-swapped; err != nil {
		t.Fatal(err)
	}
	t.Logf("%d regular opens, %d FIFOs refused", n[0], n[1])
}
