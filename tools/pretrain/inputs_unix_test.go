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

// Files named by flags, and checkpoints, must be regular files: a FIFO as
// --recipe blocked pretrain for ever, /dev/zero made it read until memory
// ran out.
func TestFileFlagsRefuseNonRegular(t *testing.T) {
	data := smallData(t, 48, 8)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "recipe.json")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs:", err)
	}
	within := func(args ...string) (int, string) {
		t.Helper()
		type res struct {
			code   int
			stderr string
		}
		done := make(chan res, 1)
		go func() {
			code, _, stderr := runCmd(t, args...)
			done <- res{code, stderr}
		}()
		select {
		case r := <-done:
			return r.code, r.stderr
		case <-time.After(20 * time.Second):
			t.Fatalf("%q still running after 20 s", args)
		}
		return 0, ""
	}
	for _, recipe := range []string{fifo, "/dev/zero"} {
		code, stderr := within(longArgs(data, "--out", t.TempDir(), "--recipe", recipe)...)
		if code != 1 || !strings.Contains(stderr, "not a regular file") {
			t.Errorf("--recipe %s: exit %d: %s", recipe, code, stderr)
		}
	}
	big := filepath.Join(dir, "big.json")
	os.WriteFile(big, make([]byte, 16<<20+1), 0o644)
	if code, stderr := within(longArgs(data, "--out", t.TempDir(), "--recipe", big)...); code != 1 || !strings.Contains(stderr, "too large") {
		t.Errorf("--recipe of 16 MiB + 1: exit %d: %s", code, stderr)
	}
	// A FIFO where the newest checkpoint should be is passed over.
	tierIndependent(t)
	parts := partsRun(t, data)
	newest := filepath.Join(parts, "checkpoints", "epoch-0001-step-000001.safetensors")
	os.Remove(newest)
	if err := syscall.Mkfifo(newest, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stderr := within(resumeArgs(data, parts)...)
	if code != 0 || !strings.Contains(stderr, "not a regular file (a FIFO)") || !strings.Contains(stderr, "falling back to epoch-0001.safetensors") {
		t.Errorf("FIFO checkpoint: exit %d: %s", code, stderr)
	}
}
