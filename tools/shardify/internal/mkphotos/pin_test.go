package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// The hashes below pin mkphotos' output bytes: they were taken with the
// photo set's own Lanczos-3 resampler before it moved into ops
// (ops.ResampleFilter with ops.Lanczos3), so the benchmark photos stay
// byte-identical to the ones made before the move.

// TestShrinkPinned pins the resampling step on synthetic crops (plain and
// sub-image, up- and downscaled): it runs without the wallpaper packages.
func TestShrinkPinned(t *testing.T) {
	const want = "1cca0f0a337bfc54ae1b5296cc84e89941123b6b7153a60b40ecc3a01dae4bd3"
	h := sha256.New()
	for seed, c := range []int{1, 3} {
		src := fixture.Pixels(seed+5, 211, 157, c)
		for i := range src.Pix { // fixture.Pixels is smooth: add sharp detail
			src.Pix[i] ^= uint8(i * 7919 >> 5)
		}
		for _, j := range []struct{ x, y, cw, ch, tw, th int }{
			{0, 0, 211, 157, 80, 60}, {13, 9, 150, 100, 73, 49}, {50, 40, 40, 30, 120, 90}, {3, 2, 200, 150, 200, 150}, {0, 0, 211, 157, 1, 1},
		} {
			crop := src.Sub(j.x, j.y, j.cw, j.ch)
			m, err := shrink(&crop, j.tw, j.th)
			if err != nil {
				t.Fatal(err)
			}
			if m.W != j.tw || m.H != j.th || m.C != c {
				t.Fatalf("%+v: got %dx%dx%d", j, m.W, m.H, m.C)
			}
			h.Write(m.Pix)
		}
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Errorf("resampled pixels' sha256 = %s, want %s", got, want)
	}
}

// TestOutputPinned pins the whole photo set (every JPEG and SOURCES.txt)
// made from the first two wallpapers. The JPEG bytes also depend on Go's
// image/jpeg encoder: if a Go release changes it, this test says so, and the
// hash is retaken only after TestShrinkPinned still passes.
func TestOutputPinned(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes two wallpapers: skipped with -short")
	}
	for _, p := range photoSources[:2] {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("wallpaper packages not installed (%v)", err)
		}
	}
	const want = "dd5247eadd1d504c0133f61d18d12f7c94c5e0fc6202507f4c64432e42bd2bb3"
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"--out", dir, "--n", "12", "--seed", "7", "--max-sources", "2"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	h := sha256.New()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p) // WalkDir visits in lexical order
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, p)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
	}
	if len(files) != 13 {
		t.Fatalf("%d files, want 12 JPEGs and SOURCES.txt", len(files))
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Errorf("photo set's sha256 = %s, want %s", got, want)
	}
}
