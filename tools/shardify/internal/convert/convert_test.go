package convert

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/shardify/internal/fixture"
	"github.com/pairflow/pairflow/tools/shardify/internal/source"
)

// testDecode is a minimal DecodeFunc over the standard library (PNG/JPEG,
// gray or RGB) for these tests.
func testDecode(data []byte, maxPixels int64) (*ops.Image, string, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", err
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxPixels {
		return nil, format, fmt.Errorf("over budget")
	}
	im, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", err
	}
	b := im.Bounds()
	c := 3
	if _, ok := im.(*image.Gray); ok {
		c = 1
	}
	m := ops.NewImage(b.Dx(), b.Dy(), c)
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			r, g, bb, _ := im.At(x, y).RGBA()
			if c == 1 {
				m.Pix[y*m.Stride+x] = uint8(r >> 8)
			} else {
				copy(m.Pix[y*m.Stride+3*x:], []uint8{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8)})
			}
		}
	}
	return m, format, nil
}

func TestFitInside(t *testing.T) {
	for _, c := range []struct{ w, h, n, ww, wh int }{
		{100, 50, 0, 100, 50}, {100, 50, 100, 100, 50}, {100, 50, 40, 40, 20}, {50, 100, 40, 20, 40},
		{1000, 1, 10, 10, 1}, {3, 7, 5, 2, 5},
	} {
		w, h, _ := FitInside(c.w, c.h, c.n)
		if w != c.ww || h != c.wh {
			t.Errorf("FitInside(%d,%d,%d) = %d,%d want %d,%d", c.w, c.h, c.n, w, h, c.ww, c.wh)
		}
	}
}

func TestResizeConstantAndIdentity(t *testing.T) {
	for _, f := range []Filter{CatmullRom, Lanczos3} {
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
	m, _ := Resize(nil, src, 16, 16, CatmullRom)
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

func TestConvertEncodings(t *testing.T) {
	raw := fixture.Pixels(5, 40, 30, 3)
	pngData := fixture.PNG(raw)
	jpgData := fixture.JPEG(raw)
	for _, tc := range []struct {
		enc     string
		maxSide int
		it      source.Item
		want    shards.Encoding
		w, h    int
	}{
		{"raw-s2", 0, source.Item{Raw: raw}, shards.RawS2, 40, 30},
		{"raw-zstd", 20, source.Item{Raw: raw}, shards.RawZstd, 20, 15},
		{"jpeg", 0, source.Item{Data: pngData}, shards.JPEG, 40, 30},
		{"keep", 0, source.Item{Data: pngData}, shards.PNG, 40, 30},
		{"keep", 50, source.Item{Data: jpgData}, shards.JPEG, 40, 30},
		{"keep", 20, source.Item{Data: jpgData}, shards.JPEG, 20, 15},
		{"keep", 20, source.Item{Data: pngData}, shards.PNG, 20, 15},
		{"raw-s2", 0, source.Item{Load: func() ([]byte, error) { return pngData, nil }}, shards.RawS2, 40, 30},
	} {
		c, err := New(Options{Encoding: tc.enc, Quality: 90, MaxSide: tc.maxSide}, testDecode)
		if err != nil {
			t.Fatal(err)
		}
		tc.it.Key, tc.it.Path = "k", "p"
		r := c.Convert(tc.it)
		name := fmt.Sprintf("%s max %d", tc.enc, tc.maxSide)
		if r.Skip != "" || r.Rec.Encoding != tc.want || r.Rec.Width != tc.w || r.Rec.Height != tc.h || r.Rec.Channels != 3 {
			t.Fatalf("%s: %+v skip %q", name, r.Rec.Encoding, r.Skip)
		}
		switch {
		case tc.want.IsRaw() && tc.maxSide == 0:
			if !bytes.Equal(r.Rec.Payload, raw.Pix) && tc.it.Raw != nil {
				t.Errorf("%s: raw pixels changed", name)
			}
		case tc.enc == "keep" && tc.w == 40:
			if !bytes.Equal(r.Rec.Payload, tc.it.Data) {
				t.Errorf("%s: keep changed the bytes", name)
			}
		case !tc.want.IsRaw():
			m, _, err := testDecode(r.Rec.Payload, 1e9)
			if err != nil || m.W != tc.w || m.H != tc.h {
				t.Errorf("%s: payload decodes to %v %v", name, m, err)
			}
		}
	}
}

func TestConvertSkips(t *testing.T) {
	c, _ := New(Options{Encoding: "raw-s2", Quality: 90, MaxPixels: 1000}, testDecode)
	for _, tc := range []struct {
		it   source.Item
		want string
	}{
		{source.Item{Data: []byte("not an image")}, "decode"},
		{source.Item{Data: []byte{}}, "empty"},
		{source.Item{Data: fixture.PNG(fixture.Pixels(0, 40, 30, 1))}, "decode"}, // 1200 px > budget
		{source.Item{Raw: fixture.Pixels(0, 40, 30, 1)}, "budget"},
		{source.Item{Load: func() ([]byte, error) { return nil, fmt.Errorf("boom") }}, "read: boom"},
		{source.Item{Skip: "given"}, "given"},
		{source.Item{Data: fixture.PNG(fixture.Pixels(0, 40, 30, 1))[:60]}, "decode"},
	} {
		tc.it.Key, tc.it.Path = "k", "p"
		if r := c.Convert(tc.it); !strings.Contains(r.Skip, tc.want) {
			t.Errorf("skip %q, want %q", r.Skip, tc.want)
		}
	}
	for _, o := range []Options{{Encoding: "png", Quality: 90}, {Encoding: "jpeg", Quality: 0}, {Encoding: "raw-s2", Quality: 90, MaxSide: -1}} {
		if _, err := New(o, testDecode); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func BenchmarkResizeCatmullRom(b *testing.B) {
	src := fixture.Pixels(1, 1024, 768, 3)
	dst := &ops.Image{}
	b.SetBytes(int64(len(src.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		Resize(dst, src, 512, 384, CatmullRom)
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
