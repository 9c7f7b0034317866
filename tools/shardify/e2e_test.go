package main

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// TestKillAndRerun SIGKILLs a packer subprocess while it is writing a
// shard, checks that what it left does not open or verify, then re-runs
// the same command and compares the result byte for byte with a clean pack.
func TestKillAndRerun(t *testing.T) {
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	n := 4000
	if testing.Short() {
		n = 2000
	}
	in := filepath.Join(tmp, "data_batch_1.bin")
	if err := fixture.CIFAR10(in, n, 0); err != nil {
		t.Fatal(err)
	}
	out, clean := filepath.Join(tmp, "out"), filepath.Join(tmp, "clean")
	args := func(dir string) []string {
		return []string{"pack", "--quiet", "--in", in, "--out", dir, "--encoding", "raw-zstd", "--dict", "--shard-size", "128KiB", "--workers", "1", "--cifar-partial"}
	}
	cmd := exec.Command(bin, args(out)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := signalMidShard(t, cmd, out, syscall.SIGKILL)
	err := cmd.Wait()
	if !killed {
		t.Fatalf("no temporary shard seen before the packer ended (%v): %s", err, stderr.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("packer was not killed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, shards.ManifestName)); err == nil {
		t.Fatal("killed pack left a manifest")
	}
	if _, err := shards.Open(out); !errors.Is(err, shards.ErrManifest) {
		t.Fatalf("Open after kill: %v, want ErrManifest", err)
	}
	if rc, _, _ := shardify(t, "verify", out); rc == 0 {
		t.Fatal("verify passed on a killed pack")
	}
	// Same command again: complete and identical to a clean pack.
	if b, err := exec.Command(bin, args(out)...).CombinedOutput(); err != nil {
		t.Fatalf("re-run: %v\n%s", err, b)
	}
	if b, err := exec.Command(bin, args(clean)...).CombinedOutput(); err != nil {
		t.Fatalf("clean run: %v\n%s", err, b)
	}
	if rc, stdout, _ := shardify(t, "verify", out); rc != 0 {
		t.Fatalf("verify after re-run: %s", stdout)
	}
	sameDirs(t, out, clean)
	if d := open(t, out); d.Len() != n || d.NumShards() < 3 {
		t.Fatalf("re-run: %d records in %d shards", d.Len(), d.NumShards())
	}
}

func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "shardify")
	build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// signalMidShard polls out for a temporary shard next to at least one
// finished one and then sends sig to cmd. It reports whether it did.
func signalMidShard(t *testing.T, cmd *exec.Cmd, out string, sig os.Signal) bool {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ents, _ := os.ReadDir(out)
		var tmpShard, done bool
		for _, e := range ents {
			tmpShard = tmpShard || (strings.HasSuffix(e.Name(), ".pfs.tmp"))
			done = done || strings.HasSuffix(e.Name(), ".pfs")
		}
		if tmpShard && done {
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatalf("signal: %v (packer finished too soon?)", err)
			}
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return false
}

// TestInterrupt: SIGINT stops a pack with a non-zero exit and removes
// every file it wrote.
func TestInterrupt(t *testing.T) {
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	in := filepath.Join(tmp, "data_batch_1.bin")
	if err := fixture.CIFAR10(in, 3000, 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	cmd := exec.Command(bin, "pack", "--quiet", "--in", in, "--out", out, "--encoding", "raw-zstd", "--shard-size", "64KiB", "--workers", "1", "--cifar-partial")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !signalMidShard(t, cmd, out, os.Interrupt) {
		cmd.Process.Kill()
		t.Fatal("no temporary shard seen")
	}
	err := cmd.Wait()
	if err == nil || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %v, stderr %s", err, stderr.String())
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("interrupted pack left %d files", len(ents))
	}
}

const fashionDir = "/usr/share/datasets/fashion-mnist"

// readIDX reads a gzipped IDX file whole (test helper; trusted input).
func readIDX(t *testing.T, p string) (dims []int, data []byte) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	nd := int(b[3])
	for i := 0; i < nd; i++ {
		dims = append(dims, int(binary.BigEndian.Uint32(b[4+4*i:])))
	}
	return dims, b[4+4*nd:]
}

// TestFashionMNIST packs Debian's dataset-fashion-mnist when installed and
// checks counts, per-class counts and every pixel against the IDX source.
func TestFashionMNIST(t *testing.T) {
	if _, err := os.Stat(filepath.Join(fashionDir, "train-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("dataset-fashion-mnist not installed (%v): apt-get install dataset-fashion-mnist", err)
	}
	if testing.Short() {
		t.Skip("packs 70,000 images: skipped with -short")
	}
	for _, tc := range []struct {
		name     string
		n        int
		perClass int
		enc      string
	}{{"train", 60000, 6000, "raw-zstd"}, {"t10k", 10000, 1000, "raw-s2"}} {
		out := t.TempDir()
		args := []string{"--in", filepath.Join(fashionDir, tc.name+"-images-idx3-ubyte.gz"), "--out", out, "--split", tc.name, "--encoding", tc.enc}
		if tc.enc == "raw-zstd" {
			args = append(args, "--dict")
		}
		mustPack(t, args...)
		d := open(t, out)
		if d.Len() != tc.n {
			t.Fatalf("%s: %d records, want %d", tc.name, d.Len(), tc.n)
		}
		dims, pix := readIDX(t, filepath.Join(fashionDir, tc.name+"-images-idx3-ubyte.gz"))
		_, labels := readIDX(t, filepath.Join(fashionDir, tc.name+"-labels-idx1-ubyte.gz"))
		if dims[0] != tc.n || dims[1] != 28 || dims[2] != 28 {
			t.Fatalf("%s: IDX dims %v", tc.name, dims)
		}
		counts := map[int32]int{}
		it := d.Iter()
		var rec shards.Record
		var buf []byte
		i := 0
		for it.Next(&rec) {
			counts[rec.Label]++
			var err error
			buf, err = rec.AppendPixels(buf[:0])
			if err != nil {
				t.Fatal(err)
			}
			if rec.Width != 28 || rec.Height != 28 || rec.Channels != 1 || rec.Label != int32(labels[i]) ||
				!bytes.Equal(buf, pix[i*784:(i+1)*784]) {
				t.Fatalf("%s record %d (%s) differs from the IDX source", tc.name, i, rec.Key)
			}
			i++
		}
		if err := it.Err(); err != nil || i != tc.n {
			t.Fatalf("%s: iterated %d: %v", tc.name, i, err)
		}
		for c := int32(0); c < 10; c++ {
			if counts[c] != tc.perClass {
				t.Fatalf("%s: class %d has %d records, want %d", tc.name, c, counts[c], tc.perClass)
			}
		}
	}
}

// TestTwoPacksOneOut: while one pack writes into a directory, a second pack
// into it (here, of the same split) fails at once, naming the first
// process, and the first completes untouched. Before, the second removed
// the first one's temporary files and both wrote the same names.
func TestTwoPacksOneOut(t *testing.T) {
	tmp := t.TempDir()
	bin := buildBinary(t, tmp)
	in := filepath.Join(tmp, "data_batch_1.bin")
	if err := fixture.CIFAR10(in, 3000, 0); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, "out")
	args := []string{"pack", "--quiet", "--in", in, "--out", out, "--encoding", "raw-zstd", "--shard-size", "64KiB", "--workers", "1", "--cifar-partial"}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Freeze the first pack mid-shard, so that the second surely runs
	// while it holds the lock.
	if !signalMidShard(t, cmd, out, syscall.SIGSTOP) {
		cmd.Process.Kill()
		t.Fatal("no temporary shard seen")
	}
	rc, _, errs := shardify(t, args...)
	cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("first pack: %v\n%s", err, stderr.String())
	}
	if rc != 1 || !strings.Contains(errs, fmt.Sprintf("another writer (process %d)", cmd.Process.Pid)) {
		t.Fatalf("second pack: rc %d %s", rc, errs)
	}
	if rc, stdout, _ := shardify(t, "verify", out); rc != 0 {
		t.Fatalf("verify of the first pack: %s", stdout)
	}
	if d := open(t, out); d.Len() != 3000 {
		t.Fatalf("%d records", d.Len())
	}
}
