package source_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

// drainErr reads s to its end and returns the error that ended it (nil for
// a clean io.EOF).
func drainErr(s source.Source) (n int, err error) {
	for {
		_, err := s.Next()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		n++
	}
}

func openDrain(t *testing.T, p, format string, opt source.Options) error {
	t.Helper()
	s, err := source.Open(p, format, opt)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = drainErr(s)
	return err
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	z := gzip.NewWriter(&out)
	z.Write(b)
	z.Close()
	return out.Bytes()
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(z)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A .gz whose trailer (CRC-32, length) is wrong, that is cut, or that has
// bytes after its data must fail the whole input: reading stopped before the
// trailer, so a flipped byte packed silently.
func TestIDXGzipReadToTheEnd(t *testing.T) {
	dir := t.TempDir()
	p, err := fixture.IDX(dir, "train", 20, 6, 5, true)
	if err != nil {
		t.Fatal(err)
	}
	lp := source.LabelsPathFor(p)
	good, goodL := readAll(t, p), readAll(t, lp)
	if err := openDrain(t, p, "idx", source.Options{}); err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	cases := []struct {
		name       string
		img, label []byte
		want       string
	}{
		{"image crc", flip(good, len(good)-8), goodL, "train-images-idx3-ubyte.gz"},
		{"image length", flip(good, len(good)-1), goodL, "train-images-idx3-ubyte.gz"},
		{"label crc", good, flip(goodL, len(goodL)-6), "train-labels-idx1-ubyte.gz"},
		{"cut trailer", good[:len(good)-3], goodL, "train-images-idx3-ubyte.gz"},
		{"garbage after the gzip member", append(bytes.Clone(good), "junk"...), goodL, "train-images-idx3-ubyte.gz"},
		{"extra data inside", gz(append(gunzip(t, good), 1, 2, 3)), goodL, "trailing"},
		{"extra labels inside", good, gz(append(gunzip(t, goodL), 7)), "trailing"},
	}
	for _, c := range cases {
		os.WriteFile(p, c.img, 0o644)
		os.WriteFile(lp, c.label, 0o644)
		if err := openDrain(t, p, "idx", source.Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error mentioning %q", c.name, err, c.want)
		}
	}
}

func TestIDXTrailingGarbage(t *testing.T) {
	dir := t.TempDir()
	p, _ := fixture.IDX(dir, "train", 4, 3, 3, false)
	b := readAll(t, p)
	os.WriteFile(p, append(b, 0xff), 0o644)
	if err := openDrain(t, p, "idx", source.Options{}); err == nil || !strings.Contains(err.Error(), "trailing") || !strings.Contains(err.Error(), "train-images-idx3-ubyte") {
		t.Fatalf("trailing byte after the images: %v", err)
	}
	os.WriteFile(p, b, 0o644)
	lp := source.LabelsPathFor(p)
	os.WriteFile(lp, append(readAll(t, lp), 1), 0o644)
	if err := openDrain(t, p, "idx", source.Options{}); err == nil || !strings.Contains(err.Error(), "train-labels-idx1-ubyte") {
		t.Fatalf("trailing byte after the labels: %v", err)
	}
}

// A CIFAR batch under an official name must hold the official record count:
// a batch cut at a record boundary packed silently.
func TestCIFARShortBatch(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data_batch_1.bin")
	fixture.CIFAR10(p, 30, 0)
	_, err := source.Open(p, "cifar", source.Options{})
	if err == nil || !strings.Contains(err.Error(), "data_batch_1.bin") || !strings.Contains(err.Error(), "10000") {
		t.Fatalf("short batch: %v", err)
	}
	if err := openDrain(t, p, "cifar", source.Options{PartialCIFAR: true}); err != nil {
		t.Fatalf("short batch allowed: %v", err)
	}
	c100 := filepath.Join(t.TempDir(), "train.bin")
	fixture.CIFAR100(c100, 12, 0)
	if _, err := source.Open(c100, "cifar", source.Options{}); err == nil || !strings.Contains(err.Error(), "50000") {
		t.Fatalf("short CIFAR-100 train.bin: %v", err)
	}
	// Unofficial names are taken at any whole number of records.
	other := filepath.Join(t.TempDir(), "mine.bin")
	fixture.CIFAR10(other, 7, 0)
	if err := openDrain(t, other, "cifar", source.Options{}); err != nil {
		t.Fatal(err)
	}
}

// A .tar.gz with a bad gzip trailer or a cut gzip stream fails: no samples
// from it are trusted.
func TestWebDatasetGzipTrailer(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.tar")
	sampleTar(t, p, 0, 5)
	z := gz(readAll(t, p))
	os.Remove(p)
	zp := filepath.Join(dir, "x.tar.gz")
	os.WriteFile(zp, z, 0o644)
	if err := openDrain(t, zp, "wds", source.Options{}); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(z)
	bad[len(bad)-7] ^= 0x10
	for name, b := range map[string][]byte{"crc": bad, "cut": z[:len(z)/2], "junk after": append(bytes.Clone(z), 0, 1, 2, 3)} {
		os.WriteFile(zp, b, 0o644)
		if err := openDrain(t, zp, "wds", source.Options{}); err == nil || !strings.Contains(err.Error(), "x.tar.gz") {
			t.Errorf("%s: %v, want an error naming x.tar.gz", name, err)
		}
	}
}

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

func readAll(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every source reports each input file's SHA-256 once read to the end.
func TestInputDigests(t *testing.T) {
	dir := t.TempDir()
	ip, _ := fixture.IDX(dir, "train", 5, 4, 4, true)
	c := filepath.Join(t.TempDir(), "c")
	os.Mkdir(c, 0o755)
	fixture.CIFAR10(filepath.Join(c, "data_batch_1.bin"), 3, 0)
	fixture.CIFAR10(filepath.Join(c, "data_batch_2.bin"), 4, 9)
	tp := filepath.Join(t.TempDir(), "a.tar")
	sampleTar(t, tp, 0, 3)
	cases := []struct {
		in, format string
		want       []source.Input
	}{
		{ip, "idx", []source.Input{{Path: "train-images-idx3-ubyte.gz"}, {Path: "train-labels-idx1-ubyte.gz"}}},
		{c, "cifar", []source.Input{{Path: "data_batch_1.bin"}, {Path: "data_batch_2.bin"}}},
		{tp, "wds", []source.Input{{Path: "a.tar"}}},
	}
	for _, tc := range cases {
		s, err := source.Open(tc.in, tc.format, source.Options{PartialCIFAR: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drainErr(s); err != nil {
			t.Fatal(err)
		}
		got, err := s.Inputs()
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(tc.want) {
			t.Fatalf("%s: inputs %+v", tc.format, got)
		}
		base := filepath.Dir(tc.in)
		if tc.format == "cifar" {
			base = tc.in
		}
		for i, w := range tc.want {
			b := readAll(t, filepath.Join(base, w.Path))
			if got[i].Path != w.Path || got[i].Bytes != int64(len(b)) || hex.EncodeToString(got[i].SHA256[:]) != sum(b) || got[i].Files != 0 {
				t.Errorf("%s input %d: %+v, want %s %d bytes %s", tc.format, i, got[i], w.Path, len(b), sum(b))
			}
		}
	}

	// ImageFolder: one entry for the tree, the SHA-256 of the sha256sum
	// listing of its files in reading order.
	root := t.TempDir()
	fixture.WriteFile(root, "b/2.png", []byte("two"))
	fixture.WriteFile(root, "a/1.png", []byte("one"))
	fixture.WriteFile(root, "a/sub/3.png", []byte("three"))
	fixture.WriteFile(root, "a/empty.png", nil)
	s, err := source.Open(root, "imagefolder", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := all(t, s)
	for _, it := range items[:1] { // load one the way the packer does, hash the rest at the end
		if it.Load != nil {
			it.Load()
		}
	}
	got, err := s.Inputs()
	if err != nil {
		t.Fatal(err)
	}
	listing := fmt.Sprintf("%s  a/1.png\n%s  a/empty.png\n%s  a/sub/3.png\n%s  b/2.png\n", sum([]byte("one")), sum(nil), sum([]byte("three")), sum([]byte("two")))
	if len(got) != 1 || got[0].Path != "." || got[0].Files != 4 || got[0].Bytes != 11 || hex.EncodeToString(got[0].SHA256[:]) != sum([]byte(listing)) {
		t.Fatalf("imagefolder inputs %+v, want the digest of\n%s", got, listing)
	}
}

// A class folder that is a symlink looping back into the tree, or pointing
// outside it, is skipped and reported, not packed as a new class.
func TestImageFolderSymlinkedClasses(t *testing.T) {
	root := t.TempDir()
	fixture.WriteFile(root, "cat/1.png", []byte("x"))
	fixture.WriteFile(root, "dog/2.png", []byte("y"))
	outside := t.TempDir()
	fixture.WriteFile(outside, "3.png", []byte("z"))
	if err := os.Symlink(root, filepath.Join(root, "all")); err != nil {
		t.Skip(err)
	}
	os.Symlink(outside, filepath.Join(root, "elsewhere"))
	os.Symlink(filepath.Join(root, "dog"), filepath.Join(root, "hound")) // inside: allowed
	s, err := source.Open(root, "imagefolder", source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	items := all(t, s)
	if cl := s.Classes(); strings.Join(cl, ",") != "cat,dog,hound" {
		t.Fatalf("classes %v", cl)
	}
	var skips []string
	n := 0
	for _, it := range items {
		if it.Skip != "" {
			skips = append(skips, it.Path+": "+it.Skip)
		} else {
			n++
		}
	}
	if n != 3 || len(skips) != 2 || !strings.Contains(skips[0], "all: ") || !strings.Contains(skips[0], "loop") ||
		!strings.Contains(skips[1], "elsewhere: ") || !strings.Contains(skips[1], "outside") {
		t.Fatalf("%d items, skips %q", n, skips)
	}
	// FollowSymlinks takes a class folder outside the root (dataset
	// subsets), never a loop.
	s2, _ := source.Open(root, "imagefolder", source.Options{FollowSymlinks: true})
	all(t, s2)
	if cl := s2.Classes(); strings.Join(cl, ",") != "cat,dog,elsewhere,hound" {
		t.Fatalf("FollowSymlinks: classes %v", cl)
	}
}
