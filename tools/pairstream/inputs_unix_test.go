//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// --config, --state-in and --recipe files must be regular files of at most
// 16 MiB: a FIFO blocked pairstream for ever, /dev/zero read until memory
// ran out.
func TestFileFlagsRefuseNonRegular(t *testing.T) {
	data := writeDataset(t, 12, -1)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs:", err)
	}
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, make([]byte, 16<<20+1), 0o644)
	out := filepath.Join(t.TempDir(), "x.arrows")
	for _, c := range []struct {
		flag, file, want string
	}{
		{"--config", fifo, "not a regular file"},
		{"--state-in", fifo, "not a regular file"},
		{"--recipe", fifo, "not a regular file"},
		{"--config", "/dev/zero", "not a regular file"},
		{"--state-in", "/dev/zero", "not a regular file"},
		{"--recipe", "/dev/zero", "not a regular file"},
		{"--config", big, "too large"},
	} {
		type res struct {
			code   int
			stderr string
		}
		done := make(chan res, 1)
		go func() {
			code, _, stderr := runArgs("--data", data, "--out", out, "--kind", "eval", c.flag, c.file)
			done <- res{code, stderr}
		}()
		select {
		case r := <-done:
			if r.code == 0 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, c.file) {
				t.Errorf("%s %s: exit %d, stderr %q; want an error naming the file: %q", c.flag, c.file, r.code, r.stderr, c.want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s %s: still running after 20 s", c.flag, c.file)
		}
	}
}
