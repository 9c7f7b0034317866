package shards

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// synthPixels fills a w×h×c image with smooth, photo-like content plus
// noise, deterministic in seed.
func synthPixels(w, h, c int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	p := make([]byte, w*h*c)
	fx, fy := rng.IntN(7)+1, rng.IntN(5)+1
	for y := range h {
		for x := range w {
			for k := range c {
				v := (x*fx + y*fy + k*40 + int(seed)*13) % 256
				if (x/7+y/5)%3 == 0 {
					v = 255 - v
				}
				v += rng.IntN(9) - 4
				p[(y*w+x)*c+k] = byte(min(max(v, 0), 255))
			}
		}
	}
	return p
}

// fakeEncoded returns deterministic bytes standing in for an encoded file.
func fakeEncoded(e Encoding, i int) []byte {
	rng := rand.New(rand.NewPCG(uint64(i), uint64(e)))
	b := make([]byte, 50+rng.IntN(300))
	for j := range b {
		b[j] = byte(rng.Uint32())
	}
	return b
}

func testRecord(e Encoding, i int) *Record {
	r := &Record{Key: fmt.Sprintf("img/%05d.x", i), Encoding: e}
	if i%3 != 0 {
		r.Label, r.HasLabel = int32(i%10-5), true
	}
	if i%4 == 1 {
		r.Meta = []byte(fmt.Sprintf(`{"i":%d}`, i))
	}
	if e.IsRaw() {
		r.Width, r.Height, r.Channels = 5+i%11, 4+i%7, []int{1, 3}[i%2]
		r.Payload = synthPixels(r.Width, r.Height, r.Channels, uint64(i))
	} else {
		r.Width, r.Height, r.Channels = 10+i%5, 20, 3
		r.Payload = fakeEncoded(e, i)
	}
	return r
}

// writeSplit writes n records of encoding e and returns the directory.
func writeSplit(t testing.TB, dir string, e Encoding, n int, opts WriterOptions) {
	t.Helper()
	if opts.Split == "" {
		opts.Split = "train"
	}
	w, err := Create(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := w.Append(testRecord(e, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func sameRecord(t *testing.T, got *Record, want *Record) {
	t.Helper()
	if got.Key != want.Key || got.Label != want.Label || got.HasLabel != want.HasLabel ||
		!bytes.Equal(got.Meta, want.Meta) || got.Width != want.Width || got.Height != want.Height ||
		got.Channels != want.Channels || got.Encoding != want.Encoding {
		t.Fatalf("record %q: got %+v, want %+v", want.Key, got, want)
	}
	if want.Encoding.IsRaw() {
		pix, err := got.AppendPixels(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(pix, want.Payload) {
			t.Fatalf("record %q: pixels differ", want.Key)
		}
	} else if !bytes.Equal(got.Payload, want.Payload) {
		t.Fatalf("record %q: payload differs", want.Key)
	}
}

func TestRoundTripEveryEncoding(t *testing.T) {
	n, per := 1000, 300 // 4 shards
	if testing.Short() {
		n, per = 300, 90
	}
	for e := RawZstd; e <= TIFF; e++ {
		for _, dict := range []bool{false, true} {
			if dict && e != RawZstd {
				continue
			}
			t.Run(fmt.Sprintf("%v/dict=%v", e, dict), func(t *testing.T) {
				dir := t.TempDir()
				writeSplit(t, dir, e, n, WriterOptions{MaxShardRecords: per, Dictionary: dict})
				d, err := Open(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer d.Close()
				if d.Len() != n || d.NumShards() != 4 {
					t.Fatalf("Len %d NumShards %d, want %d and 4", d.Len(), d.NumShards(), n)
				}
				var r Record
				// Random access, in a scrambled order.
				for k := range n {
					i := (k * 7919) % n
					if err := d.Record(i, &r); err != nil {
						t.Fatal(err)
					}
					sameRecord(t, &r, testRecord(e, i))
				}
				// Sequential.
				it := d.Iter()
				i := 0
				for it.Next(&r) {
					sameRecord(t, &r, testRecord(e, i))
					i++
				}
				if it.Err() != nil || i != n {
					t.Fatalf("iterated %d records, err %v", i, it.Err())
				}
				if err := d.Verify(); err != nil {
					t.Fatal(err)
				}
				if dict && len(readFile(t, filepath.Join(dir, "train-00000.pfs"))) < 1000 {
					t.Fatal("no dictionary stored")
				}
			})
		}
	}
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	opts := WriterOptions{Split: "train", MaxShardBytes: 36 << 10, Dictionary: true, Classes: []string{"a", "b"},
		Options: map[string]string{"encoding": "raw-zstd", "resize": "28"}}
	for _, dir := range []string{a, b} {
		w, err := Create(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		w.Skip("z/bad.png", "decode")
		w.Skip("a/bad.png", "decode")
		for i := range 500 {
			if err := w.Append(testRecord(RawZstd, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	ents, _ := os.ReadDir(a)
	if len(ents) < 4 {
		t.Fatalf("only %d files", len(ents))
	}
	for _, e := range ents {
		if !bytes.Equal(readFile(t, filepath.Join(a, e.Name())), readFile(t, filepath.Join(b, e.Name()))) {
			t.Errorf("%s differs between runs", e.Name())
		}
	}
}

func TestRerunCleansPreviousRun(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 400, WriterOptions{MaxShardRecords: 50})
	// A killed run: stale temp files, a manifest and more shards than the rerun makes.
	os.WriteFile(filepath.Join(dir, ".train-00003.pfs.tmp"), []byte("partial"), 0o644)
	os.WriteFile(filepath.Join(dir, ".index.json.tmp"), []byte("{"), 0o644)
	os.WriteFile(filepath.Join(dir, "other.txt"), []byte("keep"), 0o644)
	w, err := Create(dir, WriterOptions{Split: "train", MaxShardRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); !errors.Is(err, ErrManifest) {
		t.Fatalf("Open during a rerun: %v, want ErrManifest", err)
	}
	for i := range 150 {
		w.Append(testRecord(RawS2, i))
	}
	if _, err := Open(dir); err == nil {
		t.Fatal("partial run opens")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Len() != 150 || d.NumShards() != 2 {
		t.Fatalf("Len %d shards %d", d.Len(), d.NumShards())
	}
	ents, _ := os.ReadDir(dir)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if fmt.Sprint(names) != "[index.json other.txt train-00000.pfs train-00001.pfs]" {
		t.Fatalf("files after rerun: %v", names)
	}
}

func TestAbortAndStrayShard(t *testing.T) {
	dir := t.TempDir()
	w, _ := Create(dir, WriterOptions{Split: "val", MaxShardRecords: 10})
	for i := range 35 {
		w.Append(testRecord(JPEG, i))
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("Abort left %d files", len(ents))
	}
	writeSplit(t, dir, JPEG, 20, WriterOptions{Split: "val", MaxShardRecords: 10})
	os.WriteFile(filepath.Join(dir, "val-00002.pfs"), readFile(t, filepath.Join(dir, "val-00001.pfs")), 0o644)
	if _, err := Open(dir); !errors.Is(err, ErrManifest) {
		t.Fatalf("stray shard: %v, want ErrManifest", err)
	}
}

func TestAppendRejects(t *testing.T) {
	w, _ := Create(t.TempDir(), WriterOptions{Split: "x"})
	defer w.Abort()
	good := testRecord(RawS2, 1)
	if err := w.Append(good); err != nil {
		t.Fatal(err)
	}
	cases := map[string]*Record{
		"dup":       good,
		"nokey":     {Encoding: PNG, Payload: []byte{1}},
		"badlen":    {Key: "a", Encoding: RawS2, Width: 2, Height: 2, Channels: 1, Payload: []byte{1}},
		"channels":  {Key: "b", Encoding: RawS2, Width: 1, Height: 1, Channels: 2, Payload: []byte{1, 2}},
		"labelflag": {Key: "c", Encoding: PNG, Label: 3},
		"encoding":  {Key: "d", Encoding: 42},
		"meta":      {Key: "e", Encoding: PNG, Meta: make([]byte, MaxMetaBytes+1)},
	}
	for name, r := range cases {
		err := w.Append(r)
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrDuplicateKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := w.Skip("/abs/path", "x"); !errors.Is(err, ErrInvalid) {
		t.Errorf("absolute skip path: %v", err)
	}
	if _, err := Create(t.TempDir(), WriterOptions{Split: "../up"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad split: %v", err)
	}
}

func TestEncodingNames(t *testing.T) {
	for e := RawZstd; e <= TIFF; e++ {
		got, err := ParseEncoding(e.String())
		if err != nil || got != e {
			t.Errorf("ParseEncoding(%q) = %v, %v", e.String(), got, err)
		}
	}
	if _, err := ParseEncoding("raw"); err == nil {
		t.Error("ParseEncoding(raw) succeeded")
	}
}

func TestReaderFromPipe(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawZstd, 120, WriterOptions{Dictionary: true})
	pr, pw := io.Pipe()
	data := readFile(t, filepath.Join(dir, "train-00000.pfs"))
	go func() { // test-only producer
		for len(data) > 0 {
			n := min(len(data), 777)
			pw.Write(data[:n])
			data = data[n:]
		}
		pw.Close()
	}()
	rd, err := NewReader(pr, "train-00000.pfs")
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	for i := 0; ; i++ {
		err := rd.Next(&r)
		if err == io.EOF {
			if i != 120 {
				t.Fatalf("EOF after %d records", i)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		sameRecord(t, &r, testRecord(RawZstd, i))
	}
}

func TestConcurrentRandomReads(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawZstd, 300, WriterOptions{MaxShardRecords: 100, Dictionary: true})
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for g := range 4 {
		wg.Go(func() {
			var r Record
			var pix []byte
			for k := range 300 {
				i := (k*31 + g*7) % 300
				if err := d.Record(i, &r); err != nil {
					errs[g] = err
					return
				}
				var err error
				if pix, err = r.AppendPixels(pix[:0]); err != nil {
					errs[g] = err
					return
				}
				if want := testRecord(RawZstd, i); r.Key != want.Key || !bytes.Equal(pix, want.Payload) {
					errs[g] = fmt.Errorf("record %d differs", i)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func TestReadDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts")
	}
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 200, WriterOptions{})
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var r Record
	var pix []byte
	i := 0
	read := func() {
		if err := d.Record(i%200, &r); err != nil {
			t.Fatal(err)
		}
		pix, _ = r.AppendPixels(pix[:0])
		i++
	}
	for range 400 { // warm up buffers and the key arena
		read()
	}
	if a := testing.AllocsPerRun(1000, read); a > 0.1 { // key arena: one 4 KiB block per ~350 keys
		t.Fatalf("%.2f allocations per random read", a)
	}
}

func TestCopyRecords(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	writeSplit(t, src, RawZstd, 50, WriterOptions{})
	d, err := Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	w, err := Create(dst, WriterOptions{Split: "copy"})
	if err != nil {
		t.Fatal(err)
	}
	var r Record
	it := d.Iter()
	for it.Next(&r) {
		if err := w.Append(&r); !errors.Is(err, ErrInvalid) {
			t.Fatalf("appending a record with compressed pixels: %v", err)
		}
		pix, err := r.AppendPixels(nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Payload, r.Encoding = pix, RawS2
		if err := w.Append(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	for i := range 50 {
		if err := d2.Record(i, &r); err != nil {
			t.Fatal(err)
		}
		want := testRecord(RawZstd, i)
		want.Encoding = RawS2
		sameRecord(t, &r, want)
	}
}
