package shards

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An Append refused for size must not be counted: today's Writer counted it
// and Close wrote a manifest whose record count the shards did not match.
func TestAppendTooLargeNotCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates a 256 MiB record")
	}
	big := &Record{Key: "big", Encoding: JPEG, Width: 1, Height: 1, Channels: 3, Payload: make([]byte, MaxRecordBytes)}
	for _, dict := range []bool{false, true} {
		t.Run(fmt.Sprint("dict=", dict), func(t *testing.T) {
			dir := t.TempDir()
			w, err := Create(dir, WriterOptions{Split: "train", Dictionary: dict})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 5 {
				if err := w.Append(testRecord(RawZstd, i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Append(big); !errors.Is(err, ErrInvalid) {
				t.Fatalf("over-large record: %v, want ErrInvalid", err)
			}
			if w.Len() != 5 {
				t.Fatalf("Len %d after a refused Append, want 5", w.Len())
			}
			for i := 5; i < 9; i++ {
				if err := w.Append(testRecord(RawZstd, i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			d, err := Open(dir)
			if err != nil {
				t.Fatalf("the split does not open: %v", err)
			}
			defer d.Close()
			if d.Len() != 9 {
				t.Fatalf("%d records, want 9", d.Len())
			}
		})
	}
}

// enospcFile fails every write after budget bytes, like a full disk.
type enospcFile struct {
	f      *os.File
	budget *int64
	sync   bool // fail Sync instead
}

func (e *enospcFile) Write(p []byte) (int, error) {
	if int64(len(p)) > *e.budget {
		n := int(max(*e.budget, 0))
		e.f.Write(p[:n])
		*e.budget = 0
		return n, &os.PathError{Op: "write", Path: e.f.Name(), Err: syscall.ENOSPC}
	}
	*e.budget -= int64(len(p))
	return e.f.Write(p)
}

func (e *enospcFile) Sync() error {
	if e.sync && *e.budget == 0 {
		return &os.PathError{Op: "sync", Path: e.f.Name(), Err: syscall.ENOSPC}
	}
	return e.f.Sync()
}
func (e *enospcFile) Close() error { return e.f.Close() }

// A full disk at any point of a write leaves no temporary file, no shard and
// no manifest behind, and Close reports ENOSPC.
func TestDiskFullLeavesNoTempFiles(t *testing.T) {
	defer func(old func(string) (writeFile, error)) { createFile = old }(createFile)
	// Every write position up to the whole split (its size measured by the
	// first run, which has no fault) in steps, and each Sync.
	budgets := []int64{1 << 30}
	for b := int64(0); b < 8000; b += 173 {
		budgets = append(budgets, b)
	}
	for _, budget := range budgets {
		for _, failSync := range []bool{false, true} {
			dir := t.TempDir()
			left := budget
			createFile = func(name string) (writeFile, error) {
				f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					return nil, err
				}
				return &enospcFile{f: f, budget: &left, sync: failSync}, nil
			}
			w, err := Create(dir, WriterOptions{Split: "train", MaxShardRecords: 7})
			if err != nil {
				t.Fatal(err)
			}
			var appendErr error
			for i := range 40 {
				if appendErr = w.Append(testRecord(RawS2, i)); appendErr != nil {
					break
				}
			}
			closeErr := w.Close()
			if appendErr != nil && closeErr == nil {
				t.Fatalf("budget %d: Append failed (%v) but Close succeeded", budget, appendErr)
			}
			ents, _ := os.ReadDir(dir)
			var names []string
			for _, e := range ents {
				names = append(names, e.Name())
			}
			if budget == 1<<30 {
				if closeErr != nil {
					t.Fatalf("no fault injected: %v", closeErr)
				}
				if used := 1<<30 - left; used < 8000 {
					t.Fatalf("the split is %d bytes; the budgets do not reach its end", used)
				}
				continue
			}
			if closeErr == nil || !errors.Is(closeErr, syscall.ENOSPC) {
				t.Fatalf("budget %d sync %v: Close %v, want ENOSPC", budget, failSync, closeErr)
			}
			if len(names) != 0 {
				t.Fatalf("budget %d sync %v: left %v behind after %v", budget, failSync, names, closeErr)
			}
		}
	}
}

// Two writers into one directory: the second is refused while the first
// holds the lock, and may start once it has finished.
func TestWriterLock(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	w.Append(testRecord(PNG, 0))
	_, err = Create(dir, WriterOptions{Split: "train"})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "another writer") || !strings.Contains(err.Error(), fmt.Sprint(os.Getpid())) {
		t.Fatalf("second writer: %v, want ErrLocked naming this process", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "."+ShardName("train", 0)+".tmp")); err != nil {
		t.Fatalf("the second writer disturbed the first one's temporary file: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("lock file left after Close: %v", err)
	}
	w2, err := Create(dir, WriterOptions{Split: "train"})
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	w2.Abort()
	if w3, err := Create(dir, WriterOptions{Split: "train"}); err != nil {
		t.Fatalf("after Abort: %v", err)
	} else {
		w3.Abort()
	}
}

// A Writer removes only an index.json of its own split.
func TestCreateKeepsForeignManifest(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, PNG, 5, WriterOptions{Split: "train"})
	before := readFile(t, filepath.Join(dir, ManifestName))
	// Another split's shard files (say, moved here without their
	// manifest) are not this writer's to remove.
	other := filepath.Join(dir, ShardName("test", 0))
	os.WriteFile(other, []byte("not ours"), 0o644)
	defer func() {
		if _, err := os.Stat(other); err != nil {
			t.Errorf("another split's shard was removed: %v", err)
		}
	}()
	if _, err := Create(dir, WriterOptions{Split: "test"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `split "train"`) {
		t.Fatalf("writing split test over train: %v", err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, ManifestName)), before) {
		t.Fatal("train's index.json was changed")
	}
	if d, err := Open(dir); err != nil {
		t.Fatalf("train no longer opens: %v", err)
	} else {
		d.Close()
	}
	for _, junk := range [][]byte{[]byte("not json"), []byte(`{"format":"other","split":"train"}`)} {
		os.WriteFile(filepath.Join(dir, ManifestName), junk, 0o644)
		if _, err := Create(dir, WriterOptions{Split: "train"}); !errors.Is(err, ErrInvalid) {
			t.Fatalf("index.json %q: %v, want a refusal", junk, err)
		}
		if !bytes.Equal(readFile(t, filepath.Join(dir, ManifestName)), junk) {
			t.Fatal("a foreign index.json was removed")
		}
	}
	// The same split's manifest, even with a bad checksum, is the writer's own.
	os.WriteFile(filepath.Join(dir, ManifestName), bytes.Replace(before, []byte(`"records"`), []byte(`"records" `), 1), 0o644)
	w, err := Create(dir, WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	w.Abort()
}

// An index.json or shard that is a FIFO is an error, not a hang.
func TestOpenFIFO(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, PNG, 5, WriterOptions{Split: "train"})
	m := readFile(t, filepath.Join(dir, ManifestName))
	shard := filepath.Join(dir, ShardName("train", 0))
	os.Remove(shard)
	mkfifo(t, shard)
	within(t, func() {
		if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("shard FIFO: %v", err)
		}
	})
	os.Remove(filepath.Join(dir, ManifestName))
	mkfifo(t, filepath.Join(dir, ManifestName))
	within(t, func() {
		if _, err := Open(dir); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("index.json FIFO: %v", err)
		}
		if _, err := Create(dir, WriterOptions{Split: "train"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Create over a FIFO index.json: %v", err)
		}
	})
	_ = m
}

// within fails the test if f does not return within a few seconds (the
// FIFO tests would otherwise hang the whole run).
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("hung for 10s")
	}
}

// Keys are exact: encoding/json would take "Records" for "records" and the
// second of two "split" keys.
func TestManifestKeysExact(t *testing.T) {
	good := readFile(t, filepath.Join("testdata", "golden", ManifestName))
	if _, err := ParseManifest(good); err != nil {
		t.Fatal(err)
	}
	v1 := readFile(t, filepath.Join("testdata", "v1", ManifestName))
	for name, b := range map[string][]byte{
		"cased top":       bytes.Replace(v1, []byte(`"records"`), []byte(`"Records"`), 1),
		"cased layout":    bytes.Replace(v1, []byte(`"zstd_level"`), []byte(`"ZSTD_level"`), 1),
		"cased shard":     bytes.Replace(v1, []byte(`"sha256"`), []byte(`"SHA256"`), 1),
		"duplicate split": bytes.Replace(v1, []byte(`"split": "train",`), []byte(`"split": "train", "split": "train",`), 1),
		"duplicate opt":   bytes.Replace(v1, []byte(`"encoding": "mixed"`), []byte(`"encoding": "mixed", "encoding": "mixed"`), 1),
		"v2 key in v1":    bytes.Replace(v1, []byte(`"split": "train",`), []byte(`"split": "train", "max_pixels": 5,`), 1),
		"cased v2":        bytes.Replace(good, []byte(`"max_pixels"`), []byte(`"Max_pixels"`), 1),
	} {
		if bytes.Equal(b, v1) || bytes.Equal(b, good) {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := ParseManifest(b); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: %v, want ErrManifest", name, err)
		}
	}
}

// Every single-byte change to a version-2 index.json is caught by Open or by
// Verify (the hostile review found 382 of 2,642 passing on version 1).
func TestManifestEveryByteChange(t *testing.T) {
	golden := filepath.Join("testdata", "golden")
	good := readFile(t, filepath.Join(golden, ManifestName))
	dir := t.TempDir()
	for _, n := range []string{"train-00000.pfs", "train-00001.pfs"} {
		os.WriteFile(filepath.Join(dir, n), readFile(t, filepath.Join(golden, n)), 0o644)
	}
	mp := filepath.Join(dir, ManifestName)
	step := 1
	if testing.Short() {
		step = 7
	}
	tried := 0
	for i := 0; i < len(good); i += step {
		for _, x := range []byte{0x01, 0x20, 0x40, 0x80} {
			b := bytes.Clone(good)
			b[i] ^= x
			tried++
			os.WriteFile(mp, b, 0o644)
			d, err := Open(dir)
			if err != nil {
				continue
			}
			err = d.Verify()
			d.Close()
			if err == nil {
				t.Errorf("byte %d ^ %#x (%q -> %q) passes Open and Verify", i, x, good[i], b[i])
			}
		}
	}
	t.Logf("%d single-byte changes tried", tried)
}

// Version-1 manifests still open and verify; their result says they carry
// no checksum.
func TestManifestVersion1Reads(t *testing.T) {
	d, err := Open(filepath.Join("testdata", "v1"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := d.VerifyReport()
	if err != nil {
		t.Fatal(err)
	}
	if res.Checksummed || d.Manifest().Version != 1 {
		t.Fatalf("v1: %+v", res)
	}
	out, _ := d.Manifest().Marshal()
	if !bytes.Equal(out, readFile(t, filepath.Join("testdata", "v1", ManifestName))) {
		t.Fatal("a version-1 manifest does not marshal back to its bytes")
	}
}

// Verify cross-checks layout values and labels against the shards, so a
// resealed manifest with a wrong value still fails.
func TestVerifyCrossChecksManifest(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 30, WriterOptions{MaxShardRecords: 10})
	mp := filepath.Join(dir, ManifestName)
	good, _ := ParseManifest(readFile(t, mp))
	for name, f := range map[string]func(m *Manifest){
		"max_shard_records": func(m *Manifest) { m.Layout.MaxShardRecords = 9 },
		"dictionary":        func(m *Manifest) { m.Layout.Dictionary = true },
		"classes":           func(m *Manifest) { m.Classes = []string{"a", "b"} },
	} {
		m := *good
		m.Shards = append([]ShardInfo(nil), good.Shards...)
		f(&m)
		b, _ := m.Marshal()
		os.WriteFile(mp, b, 0o644)
		d, err := Open(dir)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		err = d.Verify()
		d.Close()
		if name == "dictionary" {
			// A split asked for a dictionary may lack one (too few
			// samples): not an error.
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if !errors.Is(err, ErrManifest) {
			t.Errorf("%s: Verify %v, want ErrManifest", name, err)
		}
	}
}

// A split without records opens and verifies (it was reported as "closed").
func TestEmptySplit(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(dir, WriterOptions{Split: "train"})
	if err != nil {
		t.Fatal(err)
	}
	w.Skip("a.png", "decode")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(); err != nil {
		t.Fatalf("empty split: %v", err)
	}
	d.Close()
	if err := d.Verify(); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
