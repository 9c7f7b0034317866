package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// shardify runs the command in-process and returns its exit status and output.
func shardify(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
	return rc, out.String(), errb.String()
}

func mustPack(t *testing.T, args ...string) string {
	t.Helper()
	rc, out, errs := shardify(t, append([]string{"pack", "--quiet"}, args...)...)
	if rc != 0 {
		t.Fatalf("pack %q: exit %d\n%s%s", args, rc, out, errs)
	}
	return errs
}

func open(t *testing.T, dir string) *shards.Dataset {
	t.Helper()
	d, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Verify(); err != nil {
		t.Fatalf("verify %s: %v", dir, err)
	}
	return d
}

// pixels returns record i's decoded pixels.
func pixels(t *testing.T, d *shards.Dataset, i int) (*shards.Record, *ops.Image) {
	t.Helper()
	var rec shards.Record
	if err := d.Record(i, &rec); err != nil {
		t.Fatal(err)
	}
	m, err := recordImage(&rec)
	if err != nil {
		t.Fatalf("record %d: %v", i, err)
	}
	return &rec, m
}

func TestPackCIFAR10(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	fixture.CIFAR10(filepath.Join(in, "data_batch_1.bin"), 30, 0)
	fixture.CIFAR10(filepath.Join(in, "data_batch_2.bin"), 20, 1000)
	fixture.CIFAR10(filepath.Join(in, "test_batch.bin"), 10, 5000)
	os.WriteFile(filepath.Join(in, "batches.meta.txt"), []byte("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"), 0o644)
	mustPack(t, "--in", in, "--out", out, "--encoding", "raw-s2", "--cifar-partial")
	d := open(t, out)
	m := d.Manifest()
	if d.Len() != 50 || len(m.Classes) != 10 || m.Classes[3] != "cat" || m.Options["source"] != "cifar" {
		t.Fatalf("len %d manifest %+v", d.Len(), m)
	}
	rec, img := pixels(t, d, 33) // data_batch_2 record 3
	if rec.Key != "data_batch_2/00003" || rec.Label != 3 || !bytes.Equal(img.Pix, fixture.Pixels(1003, 32, 32, 3).Pix) {
		t.Fatalf("record 33: key %q label %d", rec.Key, rec.Label)
	}
	// Another split goes to another directory: a pack does not remove
	// the index.json of a split it is not writing.
	if rc, _, errs := shardify(t, "pack", "--quiet", "--in", in, "--out", out, "--split", "test", "--cifar-partial"); rc != 1 || !strings.Contains(errs, `belongs to split "train"`) {
		t.Fatalf("test split over train: rc %d %s", rc, errs)
	}
	testOut := t.TempDir()
	mustPack(t, "--in", in, "--out", testOut, "--split", "test", "--encoding", "raw-zstd", "--cifar-partial")
	if d2 := open(t, testOut); d2.Len() != 10 {
		t.Fatalf("test split: %d records", d2.Len())
	}
}

func TestPackCIFAR100AndIDX(t *testing.T) {
	in, out := t.TempDir(), t.TempDir()
	fixture.CIFAR100(filepath.Join(in, "train.bin"), 150, 0)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("fine%d", i)
	}
	os.WriteFile(filepath.Join(in, "fine_label_names.txt"), []byte(strings.Join(names, "\n")), 0o644)
	mustPack(t, "--in", filepath.Join(in, "train.bin"), "--out", out, "--cifar-partial")
	d := open(t, out)
	rec, img := pixels(t, d, 123)
	if d.Len() != 150 || rec.Label != 23 || string(rec.Meta) != `{"coarse_label":3}` || d.Manifest().Classes[23] != "fine23" ||
		!bytes.Equal(img.Pix, fixture.Pixels(123, 32, 32, 3).Pix) {
		t.Fatalf("cifar100 record 123: %+v", rec)
	}

	p, _ := fixture.IDX(in, "t10k", 40, 9, 6, true)
	idxOut := t.TempDir()
	mustPack(t, "--in", p, "--out", idxOut, "--encoding", "raw-zstd", "--dict")
	d = open(t, idxOut)
	for i := 0; i < 40; i++ {
		rec, img := pixels(t, d, i)
		if rec.Label != int32(i%10) || rec.Width != 9 || rec.Height != 6 || rec.Channels != 1 || !bytes.Equal(img.Pix, fixture.Pixels(i, 9, 6, 1).Pix) {
			t.Fatalf("idx record %d differs", i)
		}
	}
	if rc, _, errs := shardify(t, "pack", "--in", p, "--out", idxOut, "--encoding", "keep"); rc != 2 || !strings.Contains(errs, "keep needs encoded images") {
		t.Fatalf("keep on idx: rc %d %s", rc, errs)
	}
}

// photoFolder writes an ImageFolder of PNG and JPEG files, gray and RGB,
// of assorted sizes.
func photoFolder(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := 0; i < n; i++ {
		c := 3
		if i%4 == 0 {
			c = 1
		}
		m := fixture.Pixels(i, 20+i%13*7, 15+i%5*11, c)
		var err error
		if i%3 == 0 {
			err = fixture.WriteFile(dir, fmt.Sprintf("cls%d/img%03d.jpg", i%3, i), fixture.JPEG(m))
		} else {
			err = fixture.WriteFile(dir, fmt.Sprintf("cls%d/img%03d.png", i%3, i), fixture.PNG(m))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPackEncodings(t *testing.T) {
	in := photoFolder(t, 24)
	for _, tc := range []struct {
		args []string
		want map[shards.Encoding]int
	}{
		{[]string{"--encoding", "raw-zstd", "--dict"}, map[shards.Encoding]int{shards.RawZstd: 24}},
		{[]string{"--encoding", "raw-s2"}, map[shards.Encoding]int{shards.RawS2: 24}},
		{[]string{"--encoding", "keep"}, map[shards.Encoding]int{shards.JPEG: 8, shards.PNG: 16}},
		{[]string{"--encoding", "jpeg", "--quality", "80"}, map[shards.Encoding]int{shards.JPEG: 24}},
		{[]string{"--encoding", "raw-s2", "--max-side", "40"}, map[shards.Encoding]int{shards.RawS2: 24}},
		{[]string{"--encoding", "keep", "--max-side", "40"}, map[shards.Encoding]int{shards.JPEG: 8, shards.PNG: 16}},
	} {
		out := t.TempDir()
		mustPack(t, append([]string{"--in", in, "--out", out}, tc.args...)...)
		d := open(t, out)
		if d.Len() != 24 {
			t.Fatalf("%v: %d records", tc.args, d.Len())
		}
		got := map[shards.Encoding]int{}
		maxSide := 0
		if tc.args[len(tc.args)-2] == "--max-side" {
			maxSide = 40
		}
		for i := 0; i < d.Len(); i++ {
			rec, img := pixels(t, d, i)
			got[rec.Encoding]++
			if img.W != rec.Width || img.H != rec.Height || img.C != rec.Channels {
				t.Fatalf("%v record %d: geometry %dx%dx%d, decodes to %dx%dx%d", tc.args, i, rec.Width, rec.Height, rec.Channels, img.W, img.H, img.C)
			}
			if maxSide > 0 && max(img.W, img.H) > maxSide {
				t.Fatalf("%v record %d: %dx%d above max side", tc.args, i, img.W, img.H)
			}
			// Lossless paths from PNG sources keep every pixel.
			if strings.HasSuffix(rec.Key, ".png") && maxSide == 0 && rec.Encoding != shards.JPEG {
				var n int
				fmt.Sscanf(filepath.Base(rec.Key), "img%03d.png", &n)
				c := 3
				if n%4 == 0 {
					c = 1
				}
				if want := fixture.Pixels(n, 20+n%13*7, 15+n%5*11, c); !bytes.Equal(img.Pix, want.Pix) {
					t.Fatalf("%v %s: pixels differ from the source", tc.args, rec.Key)
				}
			}
		}
		for e, n := range tc.want {
			if got[e] != n {
				t.Fatalf("%v: encodings %v, want %v", tc.args, got, tc.want)
			}
		}
	}
}

// dirBytes returns every file of dir by name.
func dirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameDirs(t *testing.T, a, b string) {
	t.Helper()
	da, db := dirBytes(t, a), dirBytes(t, b)
	if len(da) != len(db) {
		t.Fatalf("%s has %d files, %s has %d", a, len(da), b, len(db))
	}
	for name, x := range da {
		if !bytes.Equal(x, db[name]) {
			t.Fatalf("%s differs between %s and %s", name, a, b)
		}
	}
}

func wdsFixture(t *testing.T, nTars, per int) string {
	t.Helper()
	dir := t.TempDir()
	for k := 0; k < nTars; k++ {
		var ms []fixture.Member
		for i := k * per; i < (k+1)*per; i++ {
			key := fmt.Sprintf("%06d", i)
			img := fixture.PNG(fixture.Pixels(i, 16+i%9, 12+i%7, 3))
			if i%2 == 1 {
				ms = append(ms, fixture.Member{Name: key + ".jpg", Data: fixture.JPEG(fixture.Pixels(i, 16+i%9, 12+i%7, 3))})
			} else {
				ms = append(ms, fixture.Member{Name: key + ".png", Data: img})
			}
			if i%3 == 0 {
				ms = append(ms, fixture.Member{Name: key + ".json", Data: []byte(fmt.Sprintf(`{"label": %d, "caption": "c%d"}`, i%5, i))})
			} else {
				ms = append(ms, fixture.Member{Name: key + ".cls", Data: []byte(fmt.Sprint(i % 5))})
			}
		}
		if err := fixture.Tar(filepath.Join(dir, fmt.Sprintf("shard-%03d.tar", k)), ms); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestDeterministicAcrossWorkers(t *testing.T) {
	wds := wdsFixture(t, 3, 30)
	folder := photoFolder(t, 30)
	for _, tc := range [][]string{
		{"--in", filepath.Join(wds, "shard-{000..002}.tar"), "--encoding", "raw-zstd", "--dict", "--shard-size", "20KiB"},
		{"--in", folder, "--encoding", "jpeg", "--max-side", "30", "--shard-size", "8KiB"},
		{"--in", folder, "--encoding", "keep", "--max-side", "40"},
	} {
		a, b := t.TempDir(), t.TempDir()
		mustPack(t, append(tc, "--out", a, "--workers", "1")...)
		mustPack(t, append(tc, "--out", b, "--workers", "8")...)
		sameDirs(t, a, b)
		if d := open(t, a); d.Len() != 90 && d.Len() != 30 {
			t.Fatalf("%v: %d records", tc, d.Len())
		} else if tc[2] == "--encoding" && tc[3] == "raw-zstd" && d.NumShards() < 2 {
			t.Fatalf("%v: %d shards, want several", tc, d.NumShards())
		}
	}
}

func TestWebDatasetLabels(t *testing.T) {
	wds := wdsFixture(t, 2, 10)
	out := t.TempDir()
	mustPack(t, "--in", wds, "--out", out, "--encoding", "raw-s2")
	d := open(t, out)
	for i := 0; i < 20; i++ {
		rec, img := pixels(t, d, i)
		if rec.Key != fmt.Sprintf("%06d", i) || !rec.HasLabel || rec.Label != int32(i%5) {
			t.Fatalf("record %d: key %q label %d", i, rec.Key, rec.Label)
		}
		if i%2 == 0 && !bytes.Equal(img.Pix, fixture.Pixels(i, 16+i%9, 12+i%7, 3).Pix) {
			t.Fatalf("record %d: pixels differ", i)
		}
		if i%3 == 0 && !strings.Contains(string(rec.Meta), fmt.Sprintf(`"caption":"c%d"`, i)) {
			t.Fatalf("record %d: meta %q", i, rec.Meta)
		}
	}
}

// bombPNG is a valid PNG signature and IHDR claiming 20000×20000 pixels.
func bombPNG() []byte {
	m := fixture.PNG(fixture.Pixels(0, 2, 2, 1))
	b := bytes.Clone(m)
	// IHDR data starts at 16: width, height big-endian; fix the CRC after.
	copy(b[16:24], []byte{0, 0, 0x4e, 0x20, 0, 0, 0x4e, 0x20})
	crc := crc32IEEE(b[12:29])
	copy(b[29:33], []byte{byte(crc >> 24), byte(crc >> 16), byte(crc >> 8), byte(crc)})
	return b
}

func TestBadInputs(t *testing.T) {
	in := photoFolder(t, 6)
	good := fixture.PNG(fixture.Pixels(1, 8, 8, 3))
	fixture.WriteFile(in, "cls0/empty.png", nil)
	fixture.WriteFile(in, "cls0/notes.txt", []byte("not an image"))
	fixture.WriteFile(in, "cls1/truncated.png", good[:len(good)/2])
	fixture.WriteFile(in, "cls1/corrupt.jpg", append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte{7}, 100)...))
	fixture.WriteFile(in, "cls2/bomb.png", bombPNG())
	out := t.TempDir()
	errs := mustPack(t, "--in", in, "--out", out)
	_ = errs
	d := open(t, out)
	m := d.Manifest()
	var paths []string
	for _, s := range m.Skipped {
		paths = append(paths, s.Path)
	}
	want := []string{"cls0/empty.png", "cls0/notes.txt", "cls1/corrupt.jpg", "cls1/truncated.png", "cls2/bomb.png"}
	if d.Len() != 6 || !equalStrings(paths, want) {
		t.Fatalf("records %d, skipped %q, want %q", d.Len(), paths, want)
	}
	for _, s := range m.Skipped {
		if s.Path == "cls2/bomb.png" && !strings.Contains(s.Reason, "pixel") {
			t.Errorf("bomb reason %q", s.Reason)
		}
	}
	// Without --quiet, each skip is warned about and the summary counts them.
	rc, _, stderr := shardify(t, "pack", "--in", in, "--out", t.TempDir())
	if rc != 0 || strings.Count(stderr, "shardify: skipped ") != 5 || !strings.Contains(stderr, "skipped 5") || !strings.Contains(stderr, "cls1/truncated.png") {
		t.Fatalf("rc %d, stderr:\n%s", rc, stderr)
	}
	// --strict: non-zero, names the file, leaves no dataset.
	sout := t.TempDir()
	rc, _, stderr = shardify(t, "pack", "--quiet", "--strict", "--in", in, "--out", sout)
	if rc != 1 || !strings.Contains(stderr, "cls0/empty.png") {
		t.Fatalf("strict: rc %d %s", rc, stderr)
	}
	if _, err := shards.Open(sout); err == nil {
		t.Fatal("strict failure left a dataset that opens")
	}
	// A lower --max-pixels refuses images from the header.
	mp := t.TempDir()
	mustPack(t, "--in", in, "--out", mp, "--max-pixels", "500")
	if n := open(t, mp).Len(); n >= 6 {
		t.Fatalf("--max-pixels 500 kept %d records", n)
	}

	// WebDataset: sample without an image, label that does not parse.
	wdir := t.TempDir()
	img := fixture.PNG(fixture.Pixels(2, 5, 5, 3))
	fixture.Tar(filepath.Join(wdir, "a.tar"), []fixture.Member{
		{Name: "a.png", Data: img}, {Name: "a.cls", Data: []byte("1")},
		{Name: "b.cls", Data: []byte("2")}, {Name: "b.txt", Data: []byte("caption only")},
		{Name: "c.png", Data: img}, {Name: "c.cls", Data: []byte("x1")},
		{Name: "d.png", Data: img}, {Name: "d.json", Data: []byte(`{"label": "four"}`)},
		{Name: "e.webp", Data: []byte("RIFF\x10\x00\x00\x00WEBPVP8 bad")},
	})
	wout := t.TempDir()
	mustPack(t, "--in", filepath.Join(wdir, "a.tar"), "--out", wout)
	d = open(t, wout)
	paths = paths[:0]
	for _, s := range d.Manifest().Skipped {
		paths = append(paths, s.Path)
	}
	if d.Len() != 1 || !equalStrings(paths, []string{"a.tar/b", "a.tar/c.png", "a.tar/d.png", "a.tar/e.webp"}) {
		t.Fatalf("wds: %d records, skipped %q", d.Len(), paths)
	}
	rc, _, stderr = shardify(t, "pack", "--quiet", "--strict", "--in", filepath.Join(wdir, "a.tar"), "--out", t.TempDir())
	if rc != 1 || !strings.Contains(stderr, "a.tar/b") {
		t.Fatalf("wds strict: rc %d %s", rc, stderr)
	}
}

func equalStrings(a, b []string) bool {
	sort.Strings(a)
	sort.Strings(b)
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

func TestVerifyAndInspect(t *testing.T) {
	in := photoFolder(t, 12)
	out := t.TempDir()
	mustPack(t, "--in", in, "--out", out, "--encoding", "raw-s2", "--shard-size", "4KiB")
	rc, stdout, _ := shardify(t, "verify", out)
	if rc != 0 || !strings.HasPrefix(stdout, "OK ") {
		t.Fatalf("verify: rc %d %s", rc, stdout)
	}
	sheet := filepath.Join(t.TempDir(), "sheet.png")
	rc, stdout, stderr := shardify(t, "inspect", out, "--contact-sheet", sheet, "--n", "5", "--cell", "32")
	if rc != 0 || !strings.Contains(stdout, "12 records") || !strings.Contains(stdout, "raw-s2 12") ||
		!strings.Contains(stdout, "cls0") || !strings.Contains(stdout, "contact sheet: 5 images") {
		t.Fatalf("inspect: rc %d\n%s%s", rc, stdout, stderr)
	}
	f, err := os.Open(sheet)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(f)
	f.Close()
	if err != nil || cfg.Width != 3*36+4 || cfg.Height != 2*(32+16+4)+4 {
		t.Fatalf("contact sheet %dx%d %v", cfg.Width, cfg.Height, err)
	}
	// Corrupt one byte in the middle of the second shard: verify names it.
	d := open(t, out)
	name := d.Manifest().Shards[1].File
	d.Close()
	p := filepath.Join(out, name)
	b, _ := os.ReadFile(p)
	b[len(b)/2] ^= 0x40
	os.WriteFile(p, b, 0o644)
	rc, stdout, stderr = shardify(t, "verify", out)
	if rc != 1 || !strings.Contains(stdout, "BAD ") || !strings.Contains(stdout, name) || !strings.Contains(stderr, "problem") {
		t.Fatalf("verify of corrupt shard: rc %d\n%s%s", rc, stdout, stderr)
	}
	os.Remove(filepath.Join(out, shards.ManifestName))
	if rc, _, stderr := shardify(t, "verify", out); rc != 1 || !strings.Contains(stderr, "index.json") {
		t.Fatalf("verify without manifest: rc %d %s", rc, stderr)
	}
}

func TestUsage(t *testing.T) {
	for _, cmd := range []string{"pack", "verify", "inspect"} {
		if rc, _, errs := shardify(t, cmd, "--help"); rc != 0 || !strings.Contains(errs, "Usage: shardify "+cmd) {
			t.Errorf("%s --help: rc %d %q", cmd, rc, errs)
		}
	}
	for _, args := range [][]string{{}, {"nope"}, {"pack"}, {"pack", "--in", "x"}, {"pack", "--in", "x", "--out", "y", "--shard-size", "lots"},
		{"pack", "--in", "x", "--out", "y", "--workers", "0"}, {"verify"}, {"inspect", "a", "b"}, {"pack", "--bogus"}} {
		if rc, _, _ := shardify(t, args...); rc != 2 {
			t.Errorf("%q: rc %d, want 2", args, rc)
		}
	}
	if rc, _, errs := shardify(t, "pack", "--in", filepath.Join(t.TempDir(), "missing"), "--out", t.TempDir()); rc != 1 || !strings.Contains(errs, "missing") {
		t.Errorf("missing input: rc %d %s", rc, errs)
	}
	for in, want := range map[string]int64{"100M": 100e6, "100MP": 100e6, "2.5K": 2500, "7": 7} {
		if got, err := parseCount(in); err != nil || got != want {
			t.Errorf("parseCount(%q) = %d, %v", in, got, err)
		}
	}
	for in, want := range map[string]string{"a.tar/../../x": "x", "/abs/p": "abs/p", "..": "unnamed", "a\\b": "a/b", "ok/x.png": "ok/x.png"} {
		if got := skipPath(in); got != want {
			t.Errorf("skipPath(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1GB": 1e9, "4096": 4096, "64 KiB": 64 << 10} {
		if got, err := store.ParseBytes(in); err != nil || got != want {
			t.Errorf("store.ParseBytes(%q) = %d, %v", in, got, err)
		}
	}
}

func TestProgressAndSourceErrors(t *testing.T) {
	in := t.TempDir()
	p, _ := fixture.IDX(in, "train", 3000, 28, 28, false)
	rc, _, stderr := shardify(t, "pack", "--in", p, "--out", t.TempDir(), "--progress-every", "1ms", "--encoding", "raw-zstd")
	if rc != 0 || !strings.Contains(stderr, "/3000 records (") || !strings.Contains(stderr, "rec/s") ||
		!strings.Contains(stderr, "packed 3000 records") || !strings.Contains(stderr, "compression in/out") {
		t.Fatalf("rc %d, stderr:\n%s", rc, stderr)
	}
	// A truncated IDX file is refused from its size; a truncated gzipped
	// one fails at the record where it ends. The error names file and
	// record, and nothing is left.
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:16+100*784+5], 0o644)
	out := t.TempDir()
	rc, _, stderr = shardify(t, "pack", "--quiet", "--in", p, "--out", out, "--encoding", "raw-s2")
	if rc != 1 || !strings.Contains(stderr, "train-images-idx3-ubyte: malformed input: header claims 3000 images") {
		t.Fatalf("truncated idx: rc %d %s", rc, stderr)
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(b[:16+100*784+5])
	zw.Close()
	os.Remove(p)
	os.WriteFile(p+".gz", z.Bytes(), 0o644)
	rc, _, stderr = shardify(t, "pack", "--quiet", "--in", p+".gz", "--out", out, "--encoding", "raw-s2")
	if rc != 1 || !strings.Contains(stderr, "train-images-idx3-ubyte.gz record 100") {
		t.Fatalf("truncated idx.gz: rc %d %s", rc, stderr)
	}
	if _, err := shards.Open(out); err == nil {
		t.Fatal("failed pack left a dataset")
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	for cmd, bad := range map[string][][]string{
		"pack":    {{"--bogus"}, {"--workers", "x"}, {"--in", "x"}, {"--in", "x", "--out", "y", "--shard-size", "lots"}, {"--in", "x", "--out", "y", "stray"}, {"--in", "x", "--out", "y", "--max-side-filter", "bicubic"}},
		"verify":  {{"--bogus"}, {}, {"a", "b"}},
		"inspect": {{"--bogus"}, {"--n", "x"}, {"a", "b"}, {"a", "--n", "0"}},
	} {
		clitest.Usage(t, "shardify", "Usage: shardify "+cmd, func(args []string, stdout, stderr *bytes.Buffer) int {
			return run(append([]string{cmd}, args...), stdout, stderr)
		}, bad...)
	}
}
