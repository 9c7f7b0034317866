package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

// childEnv makes the test binary run pairbench itself (the children the
// parent starts with os.Executable).
const childEnv = "PAIRBENCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// writeSplit writes 40 small grey records to dir (a directory or s3://).
func writeSplit(t *testing.T, dir string, so store.Options) {
	t.Helper()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train", Store: so})
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
}

func TestChildMeasures(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, store.Options{})
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

// TestRemoteFlags: a split on s3:// (the in-process S3 server) is measured
// with the endpoint given only by flags, which the parent passes on to its
// child processes; a bad --access is a usage error.
func TestRemoteFlags(t *testing.T) {
	endpoint := clitest.S3(t)
	const url = "s3://data/bench/train"
	writeSplit(t, url, store.Options{Endpoint: endpoint, PathStyle: true})
	t.Setenv(childEnv, "1")
	cache := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"--data", url, "--s3-endpoint", endpoint, "--s3-path-style", "--cache-dir", cache, "--access", "range",
		"--workers", "1", "--batch", "8", "--batches", "3", "--warmup", "1"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "| "+url+" | contrastive |") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	errb.Reset()
	if code := run([]string{"--data", url, "--access", "sideways"}, &bytes.Buffer{}, &errb); code != 2 || !strings.Contains(errb.String(), "--access") {
		t.Fatalf("--access sideways: exit %d: %s", code, errb.String())
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
