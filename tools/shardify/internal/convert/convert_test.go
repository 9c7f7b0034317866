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
	for _, o := range []Options{{Encoding: "png", Quality: 90}, {Encoding: "jpeg", Quality: 0}, {Encoding: "raw-s2", Quality: 90, MaxSide: -1}, {Encoding: "raw-s2", Quality: 90, MaxSide: 40, Filter: ops.Lanczos3 + 1}} {
		if _, err := New(o, testDecode); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

// TestMaxSideUsesOpsResample: --max-side downscales with ops.Resample, the
// recipes' resampler, by default, and with ops.ResampleFilter's Lanczos3
// when Filter says so, so a raw record holds exactly its pixels.
func TestMaxSideUsesOpsResample(t *testing.T) {
	raw := fixture.Pixels(7, 90, 60, 3)
	for _, f := range []ops.Filter{ops.Bilinear, ops.Lanczos3} {
		c, err := New(Options{Encoding: "raw-s2", Quality: 90, MaxSide: 40, Filter: f}, testDecode)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Convert(source.Item{Key: "k", Path: "p", Raw: raw})
		if r.Skip != "" {
			t.Fatal(r.Skip)
		}
		var want ops.Image
		var s ops.Scratch
		if err := ops.ResampleFilter(&s, &want, raw, 40, 27, f); err != nil {
			t.Fatal(err)
		}
		if r.Rec.Width != 40 || r.Rec.Height != 27 || !bytes.Equal(r.Rec.Payload, want.Pix) {
			t.Errorf("%v: record %dx%d differs from ops.ResampleFilter's 40x27", f, r.Rec.Width, r.Rec.Height)
		}
	}
}
