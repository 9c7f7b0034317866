package main

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

// TestMaxSideFilter: --max-side-filter bilinear is the default (same bytes,
// no manifest key); lanczos3 downscales each lossless record to exactly
// ops.ResampleFilter's Lanczos3 pixels and is recorded in the manifest.
func TestMaxSideFilter(t *testing.T) {
	in := photoFolder(t, 12)
	base := []string{"--in", in, "--encoding", "raw-s2", "--max-side", "40"}
	def, bil, lan := t.TempDir(), t.TempDir(), t.TempDir()
	mustPack(t, append(base, "--out", def)...)
	mustPack(t, append(base, "--out", bil, "--max-side-filter", "bilinear")...)
	mustPack(t, append(base, "--out", lan, "--max-side-filter", "lanczos3")...)
	sameDirs(t, def, bil)
	if f, ok := open(t, def).Manifest().Options["max_side_filter"]; ok {
		t.Errorf("default manifest records max_side_filter %q", f)
	}
	if f := open(t, lan).Manifest().Options["max_side_filter"]; f != "lanczos3" {
		t.Errorf("lanczos3 manifest records max_side_filter %q", f)
	}
	db, dl := open(t, def), open(t, lan)
	var s ops.Scratch
	checked, differ := 0, 0
	for i := 0; i < dl.Len(); i++ {
		rec, img := pixels(t, dl, i)
		_, bimg := pixels(t, db, i)
		if !bytes.Equal(img.Pix, bimg.Pix) {
			differ++
		}
		if !strings.HasSuffix(rec.Key, ".png") {
			continue
		}
		var n int
		fmt.Sscanf(filepath.Base(rec.Key), "img%03d.png", &n)
		c := 3
		if n%4 == 0 {
			c = 1
		}
		src := fixture.Pixels(n, 20+n%13*7, 15+n%5*11, c)
		if max(src.W, src.H) <= 40 {
			continue
		}
		var want ops.Image
		if err := ops.ResampleFilter(&s, &want, src, rec.Width, rec.Height, ops.Lanczos3); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(img.Pix, want.Pix) {
			t.Errorf("%s: %dx%d record differs from ops.ResampleFilter(Lanczos3)", rec.Key, rec.Width, rec.Height)
		}
		checked++
	}
	if checked == 0 || differ == 0 {
		t.Fatalf("%d downscaled PNG records checked, %d differ from bilinear: want some of each", checked, differ)
	}
}
