package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/s3test"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// TestRemote packs to s3:// (the in-process S3 server), verifies and
// inspects the split there, compares it byte for byte with a local pack,
// refuses a second pack without --overwrite, and after a packer killed
// mid-run finds no manifest.
func TestRemote(t *testing.T) {
	srv, err := s3test.NewServer("data")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	t.Setenv("PAIRFLOW_CACHE_DIR", t.TempDir())
	tmp := t.TempDir()
	in := filepath.Join(tmp, "data_batch_1.bin")
	if err := fixture.CIFAR10(in, 600, 0); err != nil {
		t.Fatal(err)
	}
	const url = "s3://data/cifar/train"
	s3 := []string{"--s3-endpoint", srv.URL, "--s3-path-style"}
	pack := func(out string, extra ...string) (int, string) {
		args := append([]string{"pack", "--quiet", "--in", in, "--out", out, "--shard-size", "256KiB", "--workers", "2", "--cifar-partial"}, extra...)
		rc, _, stderr := shardify(t, args...)
		return rc, stderr
	}
	if rc, e := pack(url, s3...); rc != 0 {
		t.Fatalf("pack to %s: %s", url, e)
	}
	local := filepath.Join(tmp, "local")
	if rc, e := pack(local); rc != 0 {
		t.Fatal(e)
	}
	st, err := store.Open(url, store.Options{Endpoint: srv.URL, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := st.List(context.Background())
	for name, want := range dirBytes(t, local) {
		got, _, err := st.GetSmall(context.Background(), name, 1<<30, "")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s differs from the local pack (%v)", name, err)
		}
	}
	if len(ls) != len(dirBytes(t, local)) {
		t.Fatalf("%d objects, %d local files", len(ls), len(dirBytes(t, local)))
	}
	if rc, stdout, e := shardify(t, append([]string{"verify", url}, s3...)...); rc != 0 || !strings.Contains(stdout, "OK") {
		t.Fatalf("verify %s: %s %s", url, stdout, e)
	}
	if rc, stdout, e := shardify(t, append([]string{"inspect", url}, s3...)...); rc != 0 || !strings.Contains(stdout, "600") {
		t.Fatalf("inspect %s: %s %s", url, stdout, e)
	}
	if rc, e := pack(url, s3...); rc != 1 || !strings.Contains(e, "already") {
		t.Fatalf("second pack: rc %d: %s", rc, e)
	}
	if rc, e := pack(url, append(s3, "--overwrite")...); rc != 0 {
		t.Fatalf("pack --overwrite: %s", e)
	}
	if rc, _, e := shardify(t, "verify", "gs://data/x"); rc != 1 || !strings.Contains(e, "unknown scheme") {
		t.Fatalf("unknown scheme: rc %d: %s", rc, e)
	}

	// A packer killed mid-run leaves no manifest; the rerun needs --overwrite.
	if testing.Short() {
		return
	}
	bin := buildBinary(t, tmp)
	const cut = "s3://data/cut/train"
	big := filepath.Join(tmp, "big.bin")
	if err := fixture.CIFAR10(big, 4000, 1); err != nil {
		t.Fatal(err)
	}
	srv.Counter.Reset()
	cmd := exec.Command(bin, append([]string{"pack", "--quiet", "--in", big, "--out", cut, "--shard-size", "128KiB", "--workers", "1", "--cifar-partial"}, s3...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp) // the killed packer's staging directory stays there
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for srv.Counter.Requests("PUT") < 3 && time.Now().Before(deadline) { // the marker and two shards
		time.Sleep(2 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("packer was not killed: %v\n%s", err, stderr.String())
	}
	cs, _ := store.Open(cut, store.Options{Endpoint: srv.URL, PathStyle: true})
	if _, err := cs.Stat(context.Background(), shards.ManifestName); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("killed pack: manifest stat %v", err)
	}
	if rc, _, _ := shardify(t, append([]string{"verify", cut}, s3...)...); rc == 0 {
		t.Fatal("verify passed on a killed pack")
	}
	args := []string{"pack", "--quiet", "--in", big, "--out", cut, "--shard-size", "128KiB", "--cifar-partial"}
	if rc, _, e := shardify(t, append(args, s3...)...); rc != 1 || !strings.Contains(e, "interrupted") {
		t.Fatalf("rerun without --overwrite: rc %d: %s", rc, e)
	}
	if rc, _, e := shardify(t, append(append(args, s3...), "--overwrite")...); rc != 0 {
		t.Fatalf("rerun with --overwrite: %s", e)
	}
	if rc, _, e := shardify(t, append([]string{"verify", cut}, s3...)...); rc != 0 {
		t.Fatalf("verify after rerun: %s", e)
	}
	os.Remove(bin)
}
