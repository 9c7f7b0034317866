package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

func TestChildMeasures(t *testing.T) {
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]byte, 28*28)
	for i := range 40 {
		pix[i] = byte(i)
		if err := w.Append(&shards.Record{Key: fmt.Sprint(i), Width: 28, Height: 28, Channels: 1, Encoding: shards.RawZstd, Payload: pix}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"contrastive", "relative-patch"} {
		var out, errb bytes.Buffer
		code := run([]string{"-child", "-data", dir, "-kind", kind, "-n", "2", "-batch", "8", "-batches", "6", "-warmup", "1"}, &out, &errb)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", kind, code, errb.String())
		}
		var r Result
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		if r.Images != 48 || r.ImagesPerS <= 0 || r.FirstBatchS <= 0 || r.Busy["augment"] <= 0 {
			t.Fatalf("%s: %+v", kind, r)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-data", "x", "-kinds", "jigsaw"}, {"-data", "x", "-workers", "0"}, {"-bogus"}} {
		if code := run(args, &bytes.Buffer{}, &bytes.Buffer{}); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	clitest.Usage(t, "pairbench", "Usage: pairbench", func(args []string, stdout, stderr *bytes.Buffer) int {
		return run(args, stdout, stderr)
	},
		[]string{"-bogus"}, []string{"-batch", "x"}, nil, []string{"-data", "x", "stray"})
}
