package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// A .gz input with one flipped trailer byte (gzip -t rejects it) packed with
// exit 0 and verified OK; now the pack fails, naming the file, and leaves
// no split.
func TestPackBadGzipTrailer(t *testing.T) {
	in := t.TempDir()
	p, _ := fixture.IDX(in, "train", 30, 8, 8, true)
	b, _ := os.ReadFile(p)
	b[len(b)-6] ^= 0x01 // CRC-32 of the trailer
	os.WriteFile(p, b, 0o644)
	out := t.TempDir()
	rc, _, stderr := shardify(t, "pack", "--quiet", "--in", p, "--out", out)
	if rc != 1 || !strings.Contains(stderr, "train-images-idx3-ubyte.gz") || !strings.Contains(stderr, "checksum") {
		t.Fatalf("rc %d %s", rc, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, shards.ManifestName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a failed pack left a manifest")
	}
}

// The manifest records each input's SHA-256 and the pixel budget.
func TestPackRecordsInputsAndBudget(t *testing.T) {
	in := t.TempDir()
	p, _ := fixture.IDX(in, "train", 12, 8, 8, true)
	out := t.TempDir()
	mustPack(t, "--in", p, "--out", out)
	m := open(t, out).Manifest()
	if m.MaxPixels != imageio.DefaultMaxPixels {
		t.Fatalf("max_pixels %d, want the pipeline default %d", m.MaxPixels, imageio.DefaultMaxPixels)
	}
	want := []string{filepath.Base(p), "train-labels-idx1-ubyte.gz"}
	if len(m.Inputs) != 2 {
		t.Fatalf("inputs %+v", m.Inputs)
	}
	for i, in := range m.Inputs {
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(p), want[i]))
		sum := sha256.Sum256(b)
		if in.Path != want[i] || in.Bytes != int64(len(b)) || in.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("input %d: %+v", i, in)
		}
	}
	rc, stdout, _ := shardify(t, "inspect", out)
	if rc != 0 || !strings.Contains(stdout, "manifest version 2; pixel budget 67108864") || !strings.Contains(stdout, `input "train-labels-idx1-ubyte.gz"`) {
		t.Fatalf("inspect: rc %d\n%s", rc, stdout)
	}
}

// Labels are validated at pack time: a label of 2147483647 made lineval try
// to allocate ~1 TiB, a negative one was dropped silently later.
func TestPackLabels(t *testing.T) {
	dir := t.TempDir()
	img := fixture.PNG(fixture.Pixels(1, 4, 4, 3))
	var ms []fixture.Member
	for i, cls := range []string{"3", "2147483647", "-1", "1048575", "1048576"} {
		key := fmt.Sprintf("%03d", i)
		ms = append(ms, fixture.Member{Name: key + ".png", Data: img}, fixture.Member{Name: key + ".cls", Data: []byte(cls)})
	}
	tarPath := filepath.Join(dir, "a.tar")
	fixture.Tar(tarPath, ms)
	out := t.TempDir()
	errs := mustPack(t, "--in", tarPath, "--out", out)
	d := open(t, out)
	m := d.Manifest()
	if d.Len() != 2 || len(m.Skipped) != 3 || !strings.Contains(errs, "skipped 3") {
		t.Fatalf("%d records, skipped %+v\n%s", d.Len(), m.Skipped, errs)
	}
	for _, s := range m.Skipped {
		if !strings.Contains(s.Reason, "outside 0..1048575") {
			t.Errorf("skip reason %q", s.Reason)
		}
	}
	out2 := t.TempDir()
	mustPack(t, "--in", tarPath, "--out", out2, "--max-label", "2147483647")
	if d := open(t, out2); d.Len() != 4 {
		t.Fatalf("--max-label 2147483647: %d records", d.Len())
	}
	// With class names, a label must index them.
	names := filepath.Join(dir, "classes.txt")
	os.WriteFile(names, []byte("a\nb\nc\nd\n"), 0o644)
	out3 := t.TempDir()
	mustPack(t, "--in", tarPath, "--out", out3, "--classes", names)
	if d := open(t, out3); d.Len() != 1 || !strings.Contains(d.Manifest().Skipped[0].Reason, "not a class index") {
		t.Fatalf("with 4 classes: %d records, %+v", d.Len(), d.Manifest().Skipped)
	}
	if rc, _, _ := shardify(t, "pack", "--in", tarPath, "--out", t.TempDir(), "--max-label", "-1"); rc != 2 {
		t.Fatalf("--max-label -1: rc %d", rc)
	}
}

// One pixel budget: pack's default is the pipeline's; a split packed with a
// larger one makes verify warn and pipeline.New refuse, naming the setting.
func TestPackPixelBudget(t *testing.T) {
	in := photoFolder(t, 4)
	out := t.TempDir()
	mustPack(t, "--in", in, "--out", out, "--max-pixels", "100M")
	rc, stdout, _ := shardify(t, "verify", out)
	if rc != 0 || !strings.Contains(stdout, "WARN") || !strings.Contains(stdout, "max_pixels") {
		t.Fatalf("verify: rc %d\n%s", rc, stdout)
	}
	d := open(t, out)
	cfg := pipeline.Config{Kind: arrowpair.Eval, BatchSize: 2, Recipe: pipeline.Recipes{`{"version":1,"channels":3,"ops":[{"op":"resize","size":[8,8]}],"output":{"format":"uint8_hwc"}}`}}
	if _, err := pipeline.New(d, cfg); !errors.Is(err, pipeline.ErrConfig) || !strings.Contains(err.Error(), "max_pixels") {
		t.Fatalf("pipeline.New: %v", err)
	}
	cfg.MaxPixels = 100_000_000
	p, err := pipeline.New(d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if rc, _, errs := shardify(t, "pack", "--in", in, "--out", t.TempDir(), "--max-pixels", "2G"); rc != 2 || !strings.Contains(errs, "--max-pixels") {
		t.Fatalf("--max-pixels 2G: rc %d %s", rc, errs)
	}
}

// Two packs into one --out: the second fails clearly while the first holds
// the lock, and leaves the first one's files alone.
func TestPackLocked(t *testing.T) {
	in, out := photoFolder(t, 3), t.TempDir()
	w, err := shards.Create(out, shards.WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	rc, _, stderr := shardify(t, "pack", "--quiet", "--in", in, "--out", out)
	if rc != 1 || !strings.Contains(stderr, "another writer") || !strings.Contains(stderr, "lock") {
		t.Fatalf("rc %d %s", rc, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, shards.LockName)); err != nil {
		t.Fatalf("the holder's lock file was removed: %v", err)
	}
}

// File names with newlines cannot forge warning lines.
func TestPackWarningsQuoted(t *testing.T) {
	in := t.TempDir()
	fixture.WriteFile(in, "cls/good.png", fixture.PNG(fixture.Pixels(1, 4, 4, 3)))
	evil := "cls/x.png\nshardify: skipped forged.png: all is well"
	if err := fixture.WriteFile(in, evil, []byte("not an image")); err != nil {
		t.Skip(err)
	}
	rc, _, stderr := shardify(t, "pack", "--in", in, "--out", t.TempDir())
	if rc != 0 {
		t.Fatalf("rc %d %s", rc, stderr)
	}
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, "\r"), "shardify: skipped forged.png") {
			t.Fatalf("a file name forged a warning line:\n%s", stderr)
		}
	}
	if !strings.Contains(stderr, `"cls/x.png\nshardify: skipped forged.png: all is well"`) {
		t.Fatalf("the name is not quoted:\n%s", stderr)
	}
	rc, _, stderr = shardify(t, "pack", "--quiet", "--strict", "--in", in, "--out", t.TempDir())
	if rc != 1 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("--strict: rc %d, %q", rc, stderr)
	}
}

// A class folder that is a symlink to the input root is skipped with a
// warning instead of packing the dataset again under a new label.
func TestPackSymlinkLoop(t *testing.T) {
	in := t.TempDir()
	fixture.WriteFile(in, "a/1.png", fixture.PNG(fixture.Pixels(1, 4, 4, 3)))
	fixture.WriteFile(in, "b/2.png", fixture.PNG(fixture.Pixels(2, 4, 4, 3)))
	if err := os.Symlink(in, filepath.Join(in, "c")); err != nil {
		t.Skip(err)
	}
	out := t.TempDir()
	rc, _, stderr := shardify(t, "pack", "--in", in, "--out", out)
	d := open(t, out)
	if rc != 0 || d.Len() != 2 || len(d.Manifest().Classes) != 2 || !strings.Contains(stderr, "loops back") {
		t.Fatalf("rc %d, %d records, classes %v\n%s", rc, d.Len(), d.Manifest().Classes, stderr)
	}
}

// verify covers the whole manifest and the pipeline's view of the split.
func TestVerifyManifest(t *testing.T) {
	in := photoFolder(t, 6)
	out := t.TempDir()
	mustPack(t, "--in", in, "--out", out)
	mp := filepath.Join(out, shards.ManifestName)
	good, _ := os.ReadFile(mp)
	if rc, stdout, _ := shardify(t, "verify", out); rc != 0 || strings.Contains(stdout, "WARN") {
		t.Fatalf("verify: rc %d %s", rc, stdout)
	}
	for name, b := range map[string][]byte{
		"class name": bytes.Replace(good, []byte(`"cls0"`), []byte(`"cls9"`), 1),
		"option":     bytes.Replace(good, []byte(`"raw-s2"`), []byte(`"raw-s3"`), 1),
		"cased key":  bytes.Replace(good, []byte(`"classes"`), []byte(`"Classes"`), 1),
		"whitespace": bytes.Replace(good, []byte(`"split": `), []byte(`"split":  `), 1),
	} {
		if bytes.Equal(b, good) {
			t.Fatalf("%s: edit did not apply", name)
		}
		os.WriteFile(mp, b, 0o644)
		if rc, stdout, stderr := shardify(t, "verify", out); rc != 1 {
			t.Errorf("%s: verify rc %d\n%s%s", name, rc, stdout, stderr)
		}
	}
	// An index.json that is a FIFO fails at once.
	os.Remove(mp)
	mkfifo(t, mp)
	done := make(chan int, 1)
	go func() { rc, _, _ := shardify(t, "verify", out); done <- rc }()
	select {
	case rc := <-done:
		if rc != 1 {
			t.Fatalf("FIFO index.json: rc %d", rc)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("verify hung on a FIFO index.json")
	}
}

// A split without records gets a clear message, not "OK".
func TestVerifyEmptySplit(t *testing.T) {
	in := t.TempDir()
	fixture.WriteFile(in, "cls/bad.png", []byte("not an image"))
	out := t.TempDir()
	mustPack(t, "--in", in, "--out", out)
	rc, stdout, stderr := shardify(t, "verify", out)
	if rc != 1 || strings.Contains(stdout, "OK") || !strings.Contains(stderr, "holds no records") {
		t.Fatalf("rc %d\n%s%s", rc, stdout, stderr)
	}
}

// verify --inputs hashes the inputs again: provenance checked later.
func TestVerifyInputs(t *testing.T) {
	in := t.TempDir()
	p, _ := fixture.IDX(in, "train", 12, 8, 8, true)
	out := t.TempDir()
	mustPack(t, "--in", p, "--out", out)
	if rc, stdout, stderr := shardify(t, "verify", out, "--inputs", p); rc != 0 || !strings.Contains(stdout, "and the inputs'") {
		t.Fatalf("rc %d\n%s%s", rc, stdout, stderr)
	}
	lp := filepath.Join(in, "train-labels-idx1-ubyte.gz")
	b, _ := os.ReadFile(lp)
	b[len(b)-1] ^= 1
	os.WriteFile(lp, b, 0o644)
	if rc, stdout, _ := shardify(t, "verify", out, "--inputs", in); rc != 1 || !strings.Contains(stdout, `input "train-labels-idx1-ubyte.gz"`) || !strings.Contains(stdout, "changed") {
		t.Fatalf("changed labels file: rc %d\n%s", rc, stdout)
	}

	folder := photoFolder(t, 5)
	fout := t.TempDir()
	mustPack(t, "--in", folder, "--out", fout)
	if rc, stdout, stderr := shardify(t, "verify", fout, "--inputs", folder); rc != 0 {
		t.Fatalf("imagefolder: rc %d\n%s%s", rc, stdout, stderr)
	}
	fixture.WriteFile(folder, "cls0/new.png", []byte("x"))
	if rc, stdout, _ := shardify(t, "verify", fout, "--inputs", folder); rc != 1 || !strings.Contains(stdout, `input "."`) {
		t.Fatalf("imagefolder with a new file: rc %d\n%s", rc, stdout)
	}
}
