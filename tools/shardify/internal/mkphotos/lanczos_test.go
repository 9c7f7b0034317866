package main

import (
	"bytes"
	"testing"

	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
)

func TestResizeConstantAndIdentity(t *testing.T) {
	for _, f := range []Filter{Lanczos3} {
		for _, c := range []int{1, 3} {
			src := ops.NewImage(37, 23, c)
			for i := range src.Pix {
				src.Pix[i] = 200
			}
			for _, sz := range [][2]int{{10, 7}, {37, 23}, {80, 50}, {1, 1}, {37, 5}} {
				m, err := Resize(nil, src, sz[0], sz[1], f)
				if err != nil {
					t.Fatal(err)
				}
				for i, v := range m.Pix {
					if v != 200 {
						t.Fatalf("%s c=%d %v: pixel %d = %d, want 200", f.Name, c, sz, i, v)
					}
				}
			}
			g := fixture.Pixels(3, 37, 23, c)
			m, _ := Resize(nil, g, 37, 23, f)
			if !bytes.Equal(m.Pix, g.Pix) {
				t.Fatalf("%s: same-size resize changed pixels", f.Name)
			}
		}
	}
}

// TestResizeBoxAverage: halving a 2×2-periodic checkerboard antialiases to
// mid-grey (a point sampler would give 0 or 255).
func TestResizeAntialias(t *testing.T) {
	src := ops.NewImage(64, 64, 1)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if (x+y)%2 == 0 {
				src.Pix[y*64+x] = 255
			}
		}
	}
	m, _ := Resize(nil, src, 16, 16, Lanczos3)
	for i, v := range m.Pix[16*4 : 16*12] { // rows away from the border
		if v < 120 || v > 135 {
			t.Fatalf("pixel %d = %d, want about 127", i, v)
		}
	}
	// Sub-images (stride > row) resize like a copy of the same pixels.
	big := fixture.Pixels(1, 50, 40, 3)
	sub := big.Sub(5, 7, 30, 20)
	tightSub := ops.NewImage(30, 20, 3)
	for y := 0; y < 20; y++ {
		copy(tightSub.Row(y), sub.Row(y))
	}
	a, _ := Resize(nil, &sub, 13, 9, Lanczos3)
	b, _ := Resize(nil, tightSub, 13, 9, Lanczos3)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Fatal("sub-image resize differs from tight copy")
	}
}

func BenchmarkResizeLanczos3(b *testing.B) {
	src := fixture.Pixels(1, 1024, 768, 3)
	dst := &ops.Image{}
	b.SetBytes(int64(len(src.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		Resize(dst, src, 512, 384, Lanczos3)
	}
}

// TestResizeRGBMatchesPlanes: the RGB fast path equals resizing each
// channel on its own through the generic one-channel path.
func TestResizeRGBMatchesPlanes(t *testing.T) {
	src := fixture.Pixels(9, 61, 37, 3)
	for i := range src.Pix {
		src.Pix[i] = uint8(i*7919>>3) ^ src.Pix[i]
	}
	for _, sz := range [][2]int{{20, 13}, {61, 37}, {100, 70}, {7, 37}} {
		rgb, err := Resize(nil, src, sz[0], sz[1], Lanczos3)
		if err != nil {
			t.Fatal(err)
		}
		for c := 0; c < 3; c++ {
			plane := ops.NewImage(src.W, src.H, 1)
			for i := range plane.Pix {
				plane.Pix[i] = src.Pix[3*i+c]
			}
			g, _ := Resize(nil, plane, sz[0], sz[1], Lanczos3)
			for i, v := range g.Pix {
				if rgb.Pix[3*i+c] != v {
					t.Fatalf("%v channel %d pixel %d: rgb %d, plane %d", sz, c, i, rgb.Pix[3*i+c], v)
				}
			}
		}
	}
}
