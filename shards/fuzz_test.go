package shards

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// writeGolden writes the fixed golden split: 12 records of mixed encodings in
// two shards.
func writeGolden(t testing.TB, dir string) {
	t.Helper()
	w, err := Create(dir, WriterOptions{Split: "train", MaxShardRecords: 7, MaxPixels: 1 << 20,
		Options: map[string]string{"encoding": "mixed"}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		if err := w.Append(testRecord([]Encoding{RawZstd, RawS2, PNG}[i%3], i)); err != nil {
			t.Fatal(err)
		}
	}
	w.Skip("bad/x.jpg", "decode: unexpected EOF")
	w.AddInput(Input{Path: "train.tar", Bytes: 12345, SHA256: strings.Repeat("ab", 32)})
	w.AddInput(Input{Path: ".", Files: 12, Bytes: 999, SHA256: strings.Repeat("cd", 32)})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestGolden pins the byte-level output: same records in, same bytes out,
// across versions of this package. Regenerate with -update only when the
// format version changes.
func TestGolden(t *testing.T) {
	dir := t.TempDir()
	writeGolden(t, dir)
	golden := filepath.Join("testdata", "golden")
	for _, name := range []string{"train-00000.pfs", "train-00001.pfs", ManifestName} {
		got := readFile(t, filepath.Join(dir, name))
		if *update {
			os.MkdirAll(golden, 0o755)
			if err := os.WriteFile(filepath.Join(golden, name), got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if want := readFile(t, filepath.Join(golden, name)); !bytes.Equal(got, want) {
			t.Errorf("%s differs from testdata/golden (run with -update if the format changed on purpose)", name)
		}
	}
	d, err := Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Verify(); err != nil {
		t.Fatal(err)
	}
}

func seedShards(f *testing.F) {
	for _, name := range []string{"train-00000.pfs", "train-00001.pfs"} {
		b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	// Records large enough for the sequential reader's read-ahead path.
	dir := f.TempDir()
	w, err := Create(dir, WriterOptions{Split: "big"})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 2 {
		w.Append(&Record{Key: string(rune('a' + i)), Encoding: PNG, Payload: bytes.Repeat([]byte{byte(i)}, 40000)})
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "big-00000.pfs"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
}

// checkErr fails unless err is nil, io.EOF or an *Error.
func checkErr(t *testing.T, err error) {
	var e *Error
	if err != nil && err != io.EOF && !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
}

// decodePixels decodes raw pixels of small records (fuzzed geometry may
// legitimately ask for up to MaxPixelBytes).
func decodePixels(t *testing.T, r *Record) {
	if r.Encoding.IsRaw() && r.PixelLen() <= 1<<20 {
		pix, err := r.AppendPixels(nil)
		if err == nil && len(pix) != r.PixelLen() {
			t.Fatalf("AppendPixels gave %d bytes, want %d", len(pix), r.PixelLen())
		}
		checkErr(t, err)
	}
}

func FuzzReader(f *testing.F) {
	seedShards(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := NewReader(bytes.NewReader(data), "fuzz.pfs")
		checkErr(t, err)
		if err != nil {
			return
		}
		var r Record
		for {
			err := rd.Next(&r)
			checkErr(t, err)
			if err != nil {
				break
			}
			decodePixels(t, &r)
		}
	})
}

func FuzzShard(f *testing.F) {
	seedShards(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := OpenShard(bytes.NewReader(data), int64(len(data)), "fuzz.pfs")
		checkErr(t, err)
		if err != nil {
			return
		}
		defer s.Close()
		var r Record
		for i := range s.Len() {
			err := s.Record(i, &r)
			checkErr(t, err)
			if err == nil {
				decodePixels(t, &r)
			}
		}
	})
}

func FuzzManifest(f *testing.F) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", ManifestName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	v1, err := os.ReadFile(filepath.Join("testdata", "v1", ManifestName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	f.Add(bytes.Replace(v1, []byte(`"records"`), []byte(`"Records"`), 1))
	f.Add(bytes.Replace(b, []byte(`"split": "train",`), []byte(`"split": "train", "split": "x",`), 1))
	f.Add(bytes.Replace(b, []byte(`"version": 2`), []byte(`"version": 3`), 1))
	f.Add([]byte(`{"format":"pairflow-shards","version":2,"split":"a","records":0,"classes":["x"],"layout":{},"shards":[],"inputs":[{"path":".","files":1,"bytes":0,"sha256":"` + strings.Repeat("0", 64) + `"}],"sha256":"` + strings.Repeat("0", 64) + `"}`))
	f.Add([]byte(`{"format":"pairflow-shards","version":2}`))
	f.Add([]byte(`{"format":"pairflow-shards","version":1,"split":"a","records":0,"layout":{},"shards":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			if !errors.Is(err, ErrManifest) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error %v wraps neither ErrManifest nor ErrVersion", err)
			}
			return
		}
		out, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := ParseManifest(out)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v", err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the manifest")
		}
	})
}
