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

// runWithin runs lineval and fails the test if it has not returned within
// d (a FIFO opened for reading blocks; /dev/zero read whole never ends).
func runWithin(t *testing.T, d time.Duration, args ...string) (int, string) {
	t.Helper()
	type res struct {
		code   int
		stderr string
	}
	done := make(chan res, 1)
	go func() {
		code, _, stderr := runArgs(args...)
		done <- res{code, stderr}
	}()
	select {
	case r := <-done:
		return r.code, r.stderr
	case <-time.After(d):
		t.Fatalf("%q still running after %v", args, d)
	}
	return 0, ""
}

// Files named by flags must be regular files: /dev/zero as --encoder made
// lineval read until memory ran out, a FIFO blocked it for ever. Damaged
// checkpoints fail with what is wrong.
func TestFileFlagsRefuseNonRegular(t *testing.T) {
	train, test := writeSplit(t, 8, 0), writeSplit(t, 8, 1)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no FIFOs:", err)
	}
	good, err := os.ReadFile(saveCheckpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-5] ^= 1
	damaged := filepath.Join(dir, "damaged.safetensors")
	os.WriteFile(damaged, flipped, 0o644)
	cut := filepath.Join(dir, "cut.safetensors")
	os.WriteFile(cut, good[:len(good)-100], 0o644)
	fifoOut := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(fifoOut, resultsName), 0o644); err != nil {
		t.Fatal(err)
	}
	common := []string{"--train", train, "--test", test, "--quiet", "--fractions", "1", "--passes", "1"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{append([]string{"--encoder", "/dev/zero", "--out", t.TempDir()}, common...), "/dev/zero: not a regular file"},
		{append([]string{"--encoder", fifo, "--out", t.TempDir()}, common...), "not a regular file (a FIFO)"},
		{append([]string{"--encoder", damaged, "--out", t.TempDir()}, common...), "damaged"},
		{append([]string{"--encoder", cut, "--out", t.TempDir()}, common...), "the header declares"},
		{[]string{"--merge", fifo, "--out", t.TempDir()}, "not a regular file"},
		{[]string{"--merge", "/dev/zero", "--out", t.TempDir()}, "not a regular file"},
		{append([]string{"--baseline", "random", "--out", fifoOut}, common...), "not a regular file"},
	} {
		code, stderr := runWithin(t, 20*time.Second, c.args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want 1 and %q", c.args[:2], code, stderr, c.want)
		}
	}
}
