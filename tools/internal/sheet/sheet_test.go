package sheet

import (
	"bytes"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/pairflow/pairflow/pix"
)

func TestToImage(t *testing.T) {
	g := pix.NewImage(3, 2, 1)
	rgb := pix.NewImage(3, 2, 3)
	for i := range g.Pix {
		g.Pix[i] = uint8(i * 10)
	}
	for i := range rgb.Pix {
		rgb.Pix[i] = uint8(i * 7)
	}
	if r, gg, b, a := ToImage(g).At(2, 1).RGBA(); r>>8 != 50 || gg>>8 != 50 || b>>8 != 50 || a>>8 != 255 {
		t.Errorf("gray pixel (2,1) = %d %d %d %d", r>>8, gg>>8, b>>8, a>>8)
	}
	if r, gg, b, a := ToImage(rgb).At(1, 1).RGBA(); r>>8 != 7*12 || gg>>8 != 7*13 || b>>8 != 7*14 || a>>8 != 255 {
		t.Errorf("rgb pixel (1,1) = %d %d %d %d", r>>8, gg>>8, b>>8, a>>8)
	}
}

func TestCanvas(t *testing.T) {
	c := New(20, 12, color.RGBA{1, 2, 3, 255})
	m := pix.NewImage(2, 1, 3)
	copy(m.Pix, []uint8{10, 20, 30, 40, 50, 60})
	c.Fit(m, 1, 1, 4) // 2×1 scaled to 4×2: each source pixel a 2×2 block
	c.Put(m, 19, 11)  // clipped: only the first pixel lands
	c.Label(10, 10, "x", color.RGBA{255, 255, 255, 255})
	check := func(x, y int, want [3]uint8) {
		t.Helper()
		o := c.PixOffset(x, y)
		if got := [3]uint8{c.Pix[o], c.Pix[o+1], c.Pix[o+2]}; got != want {
			t.Errorf("(%d,%d) = %v, want %v", x, y, got, want)
		}
	}
	check(0, 0, [3]uint8{1, 2, 3})
	check(2, 2, [3]uint8{10, 20, 30})
	check(3, 2, [3]uint8{40, 50, 60})
	check(1, 3, [3]uint8{1, 2, 3})
	check(19, 11, [3]uint8{10, 20, 30})

	path := filepath.Join(t.TempDir(), "out.png")
	if err := c.WritePNG(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := png.Decode(bytes.NewReader(b))
	if err != nil || back.Bounds() != c.Bounds() {
		t.Fatalf("PNG: %v %v", err, back.Bounds())
	}
	if r, _, _, _ := back.At(3, 2).RGBA(); r>>8 != 40 {
		t.Errorf("PNG pixel (3,2) red %d", r>>8)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := c.WritePNG(filepath.Join(t.TempDir(), "no", "such", "dir.png")); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
