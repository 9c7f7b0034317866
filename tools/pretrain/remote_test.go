package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

// TestRemoteData: --data s3://… (the in-process S3 server, found through
// the --s3-* flags alone) trains to the same checkpoint as the local copy
// and monitors on its test/ split; a remote root without test/ trains with
// no monitor.
func TestRemoteData(t *testing.T) {
	noLeaks(t)
	endpoint := clitest.S3(t)
	data := smallData(t, 64, 32)
	clitest.Upload(t, filepath.Join(data, "train"), "s3://data/fm/train", endpoint)
	clitest.Upload(t, filepath.Join(data, "test"), "s3://data/fm/test", endpoint)
	clitest.Upload(t, filepath.Join(data, "train"), "s3://data/notest/train", endpoint)
	remote := []string{"--s3-endpoint", endpoint, "--s3-path-style", "--cache-dir", t.TempDir()}
	common := []string{"--batch", "32", "--epochs", "1", "--knn-every", "1", "--knn-k", "10", "--threads", "2",
		"--workers", "2", "--log-every", "0"}

	local, fromS3 := t.TempDir(), t.TempDir()
	if code, _, stderr := runCmd(t, append(common, "--data", data, "--out", local)...); code != 0 {
		t.Fatalf("local: exit %d: %s", code, stderr)
	}
	code, stdout, stderr := runCmd(t, append(append(common, "--data", "s3://data/fm/", "--out", fromS3), remote...)...)
	if code != 0 {
		t.Fatalf("s3: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "kNN top-1 on s3://data/fm/test:") {
		t.Errorf("no kNN line for the remote test split:\n%s", stdout)
	}
	a, err := os.ReadFile(ckptName(local, 1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ckptName(fromS3, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("the checkpoint trained from s3:// differs from the local one")
	}

	code, stdout, stderr = runCmd(t, append(append(common, "--data", "s3://data/notest", "--out", t.TempDir()), remote...)...)
	if code != 0 || !strings.Contains(stderr, "no test split at s3://data/notest/test: no kNN monitor") || strings.Contains(stdout, "kNN top-1") {
		t.Fatalf("root without test/: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// An explicit --test that is not there is an error, not a skipped monitor.
	code, _, stderr = runCmd(t, append(append(common, "--train", "s3://data/notest/train", "--test", "s3://data/notest/test",
		"--out", t.TempDir()), remote...)...)
	if code != 1 || !strings.Contains(stderr, "s3://data/notest/test") {
		t.Fatalf("missing --test: exit %d: %s", code, stderr)
	}
}
