package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

func writeDataset(t *testing.T, n int, bad int) string {
	t.Helper()
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]byte, 20*20*3)
	for i := range n {
		for j := range pix {
			pix[j] = byte(i*7 + j*3)
		}
		r := &shards.Record{Key: fmt.Sprintf("k%03d", i), Label: int32(i % 3), HasLabel: true,
			Width: 20, Height: 20, Channels: 3, Encoding: shards.RawS2, Payload: pix}
		if i == bad {
			r.Encoding, r.Payload, r.Width, r.Height, r.Channels = shards.JPEG, []byte("\xff\xd8\xffgarbage"), 0, 0, 0
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runArgs(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func readStream(t *testing.T, b []byte) (arrowpair.Layout, int, int64) {
	t.Helper()
	r, err := arrowpair.ReadIPC(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	n, rows := 0, int64(0)
	for rec, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		rows += rec.NumRows()
	}
	return r.Layout(), n, rows
}

func TestEveryKind(t *testing.T) {
	data := writeDataset(t, 30, -1)
	for _, k := range arrowpair.Kinds() {
		out := filepath.Join(t.TempDir(), "x.arrows")
		code, _, errOut := runArgs("--data", data, "--kind", string(k), "--batch", "8", "--batches", "3",
			"--seed", "5", "--workers", "2", "--out", out, "--size", "16")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", k, code, errOut)
		}
		if !strings.Contains(errOut, "source images/s") || !strings.Contains(errOut, "augment") {
			t.Fatalf("no summary on stderr: %s", errOut)
		}
		b, _ := os.ReadFile(out)
		l, n, rows := readStream(t, b)
		wantRows := int64(24)
		if l.Kind != k || n != 3 || rows != wantRows {
			t.Fatalf("%s: kind %s, %d batches, %d rows", k, l.Kind, n, rows)
		}
	}
}

// Output to stdout is byte-identical for 1 and 3 workers; a resumed run
// continues the stream.
func TestStdoutDeterministicAndResume(t *testing.T) {
	data := writeDataset(t, 30, -1)
	args := []string{"--data", data, "--batch", "4", "--epochs", "2", "--seed", "9", "--out", "-", "--quiet"}
	code, one, e := runArgs(append(args, "--workers", "1")...)
	if code != 0 {
		t.Fatal(e)
	}
	_, three, _ := runArgs(append(args, "--workers", "3")...)
	if one != three || len(one) == 0 {
		t.Fatal("worker count changed the stream")
	}
	_, n, _ := readStream(t, []byte(one))
	if n != 16 {
		t.Fatalf("%d batches, want 16", n)
	}
	st := filepath.Join(t.TempDir(), "state.json")
	replaced := clitest.Replaced(t, st)
	if code, _, e := runArgs(append(args, "--batches", "5", "--state-out", st)...); code != 0 {
		t.Fatal(e)
	}
	replaced()
	code, rest, e := runArgs(append(args, "--state-in", st, "--workers", "2")...)
	if code != 0 {
		t.Fatal(e)
	}
	_, n, _ = readStream(t, []byte(rest))
	if n != 11 {
		t.Fatalf("resumed run wrote %d batches, want 11", n)
	}
}

func TestFailures(t *testing.T) {
	data := writeDataset(t, 12, 5)
	out := filepath.Join(t.TempDir(), "x.arrows")
	if code, _, e := runArgs("--data", data, "--kind", "eval", "--out", out); code != 1 || !strings.Contains(e, "k005") {
		t.Fatalf("bad record: exit %d: %s", code, e)
	}
	if code, _, e := runArgs("--data", data, "--kind", "eval", "--out", out, "--skip", "1"); code != 0 || !strings.Contains(e, "skipped: epoch 0 position 5") {
		t.Fatalf("skip: exit %d: %s", code, e)
	}
	for _, args := range [][]string{
		{"--data", data},
		{"--data", data, "--out", out, "--kind", "jigsaw"},
		{"--data", data, "--out", out, "--batch", "0"},
		{"--data", data, "--out", out, "--recipe", "no-such-thing"},
		{"--data", data, "--out", out, "--epochs", "0"},
		{"--data", data, "--out", out, "--order", "random"},
		{"--nope"},
	} {
		if code, _, _ := runArgs(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code, _, _ := runArgs("--data", t.TempDir(), "--out", out); code != 1 {
		t.Errorf("empty dir: exit %d", code)
	}
	if code, _, e := runArgs("--help"); code != 0 || !strings.Contains(e, "--kind") && !strings.Contains(e, "-kind") {
		t.Errorf("help: exit %d: %s", code, e)
	}
}

// TestOutKeptOnFailure: a failed run leaves the file already at --out as it
// was (before, it truncated and then deleted it) and no temporary file; a
// successful one replaces it with a complete stream.
func TestOutKeptOnFailure(t *testing.T) {
	data := writeDataset(t, 12, 5)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.arrows")
	if err := os.WriteFile(out, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, e := runArgs("--data", data, "--kind", "eval", "--out", out); code != 1 {
		t.Fatalf("bad record: exit %d: %s", code, e)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "precious" {
		t.Fatalf("--out after a failed run: %q, %v", b, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the output directory, want 1", len(ents))
	}
	if code, _, e := runArgs("--data", data, "--kind", "eval", "--out", out, "--skip", "1"); code != 0 {
		t.Fatalf("exit %d: %s", code, e)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := arrowpair.ReadIPC(bytes.NewReader(b), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	for _, err := range r.All() {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !r.Complete() {
		t.Fatal("the written stream does not verify complete")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("%d files in the output directory after success, want 1", len(ents))
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	clitest.Usage(t, "pairstream", "usage: pairstream", func(args []string, stdout, stderr *bytes.Buffer) int {
		return run(context.Background(), args, stdout, stderr)
	},
		[]string{"--bogus"}, []string{"--batch", "x"}, nil, []string{"--data", "x", "--out", "-", "extra"})
}
