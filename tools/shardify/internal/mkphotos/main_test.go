package main

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/tools/internal/cli/clitest"
)

// TestDeterministic builds a few benchmark photos twice with different
// worker counts and compares every byte.
func TestDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes two wallpapers: skipped with -short")
	}
	for _, p := range photoSources[:2] {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("wallpaper packages not installed (%v)", err)
		}
	}
	a, b := t.TempDir(), t.TempDir()
	for i, dir := range []string{a, b} {
		var out, errOut bytes.Buffer
		workers := []string{"1", "3"}[i]
		if code := run([]string{"--out", dir, "--n", "12", "--seed", "7", "--workers", workers, "--max-sources", "2"}, &out, &errOut); code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
	}
	src, _ := os.ReadFile(filepath.Join(a, "SOURCES.txt"))
	if lines := strings.Count(string(src), "\n"); lines != 13 {
		t.Fatalf("SOURCES.txt has %d lines", lines)
	}
	n := 0
	for _, class := range []string{"class_00", "class_01"} { // two sources fill classes 0 and 1
		files, err := os.ReadDir(filepath.Join(a, class))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			x, _ := os.ReadFile(filepath.Join(a, class, f.Name()))
			y, _ := os.ReadFile(filepath.Join(b, class, f.Name()))
			if !bytes.Equal(x, y) {
				t.Fatalf("%s/%s differs between worker counts", class, f.Name())
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(x))
			if err != nil {
				t.Fatalf("%s/%s: %v", class, f.Name(), err)
			}
			if short := min(cfg.Width, cfg.Height); short < 256 || short > 500 {
				t.Fatalf("%s/%s: %dx%d", class, f.Name(), cfg.Width, cfg.Height)
			}
			n++
		}
	}
	if n != 12 {
		t.Fatalf("%d photos, want 12", n)
	}
}

// TestUsageText: --help exits 0 with the usage text; an unknown flag, a bad
// value (found by the flag package or later), and a stray argument exit 2
// with the usage text and one line.
func TestUsageText(t *testing.T) {
	clitest.Usage(t, "mkphotos", "Usage: mkphotos", func(args []string, stdout, stderr *bytes.Buffer) int {
		return run(args, stdout, stderr)
	},
		[]string{"--bogus"}, []string{"--n", "x"}, nil, []string{"--out", t.TempDir(), "--n", "0"}, []string{"--out", t.TempDir(), "--quality", "101"}, []string{"--out", t.TempDir(), "stray"})
}
