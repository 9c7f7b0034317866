package ops

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
)

// lanczosSource is a test image with a gradient, hard black/white edges
// (to reach Lanczos' overshoot and its clamping) and seeded noise.
func lanczosSource(seed uint64, w, h, c int) *Image {
	m := NewImage(w, h, c)
	r := rand.New(rand.NewPCG(seed, 0x6c616e637a6f73))
	for y := range h {
		for x := range w {
			for k := range c {
				v := (x*255/max(w-1, 1) + y*3 + k*80) & 255
				if (x/7+y/5)%3 == 0 {
					v = 255 * ((x + k) & 1)
				}
				v += int(r.IntN(33)) - 16
				m.Pix[(y*w+x)*c+k] = uint8(min(max(v, 0), 255))
			}
		}
	}
	return m
}

func lanczos(t *testing.T, src *Image, w, h int) *Image {
	t.Helper()
	var s Scratch
	dst := &Image{}
	if err := ResampleFilter(&s, dst, src, w, h, Lanczos3); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestLanczos3Pinned pins Lanczos3's bytes: the hash was taken from the
// benchmark-photo program's resampler (mkphotos.Resize) on these inputs
// before the code moved here, so the move changed no byte.
func TestLanczos3Pinned(t *testing.T) {
	const want = "5e7ce2f187ae359262e2ebab7a5e3966ce99b0a51d89d0bdcc0f997aa2783b90"
	h := sha256.New()
	for _, c := range []int{1, 3} {
		src := lanczosSource(uint64(c), 97, 61, c)
		for _, sz := range [][2]int{{31, 19}, {97, 61}, {200, 130}, {1, 1}, {97, 20}, {40, 61}, {13, 300}} {
			h.Write(lanczos(t, src, sz[0], sz[1]).Pix)
		}
		sub := src.Sub(5, 3, 70, 50)
		h.Write(lanczos(t, &sub, 33, 21).Pix)
	}
	if got := fmt.Sprintf("%x", h.Sum(nil)); got != want {
		t.Errorf("sha256 = %s, want %s", got, want)
	}
}

// TestLanczos3ConstantAndIdentity: a flat image stays flat at every size
// (the weights sum to exactly one), and a same-size resample copies.
func TestLanczos3ConstantAndIdentity(t *testing.T) {
	for _, c := range []int{1, 3} {
		src := NewImage(37, 23, c)
		for i := range src.Pix {
			src.Pix[i] = 200
		}
		for _, sz := range [][2]int{{10, 7}, {37, 23}, {80, 50}, {1, 1}, {37, 5}} {
			for i, v := range lanczos(t, src, sz[0], sz[1]).Pix {
				if v != 200 {
					t.Fatalf("c=%d %v: pixel %d = %d, want 200", c, sz, i, v)
				}
			}
		}
		g := lanczosSource(3, 37, 23, c)
		if !bytes.Equal(lanczos(t, g, 37, 23).Pix, g.Pix) {
			t.Fatalf("c=%d: same-size resample changed pixels", c)
		}
	}
}

// TestLanczos3Antialias: quartering a 2×2-periodic checkerboard antialiases
// to mid-grey (a point sampler would give 0 or 255), and a sub-image (stride
// > row) resamples like a tight copy of the same pixels.
func TestLanczos3Antialias(t *testing.T) {
	src := NewImage(64, 64, 1)
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			if (x+y)%2 == 0 {
				src.Pix[y*64+x] = 255
			}
		}
	}
	m := lanczos(t, src, 16, 16)
	for i, v := range m.Pix[16*4 : 16*12] { // rows away from the border
		if v < 120 || v > 135 {
			t.Fatalf("pixel %d = %d, want about 127", i, v)
		}
	}
	big := lanczosSource(1, 50, 40, 3)
	sub := big.Sub(5, 7, 30, 20)
	tight := NewImage(30, 20, 3)
	for y := 0; y < 20; y++ {
		copy(tight.Row(y), sub.Row(y))
	}
	for _, sz := range [][2]int{{13, 9}, {30, 9}, {13, 20}, {30, 20}} {
		if !bytes.Equal(lanczos(t, &sub, sz[0], sz[1]).Pix, lanczos(t, tight, sz[0], sz[1]).Pix) {
			t.Fatalf("%v: sub-image resample differs from its tight copy", sz)
		}
	}
}

// TestLanczos3RGBMatchesPlanes: the RGB fast path equals resampling each
// channel on its own through the generic one-channel path.
func TestLanczos3RGBMatchesPlanes(t *testing.T) {
	src := lanczosSource(9, 61, 37, 3)
	for _, sz := range [][2]int{{20, 13}, {61, 37}, {100, 70}, {7, 37}} {
		rgb := lanczos(t, src, sz[0], sz[1])
		for c := 0; c < 3; c++ {
			plane := NewImage(src.W, src.H, 1)
			for i := range plane.Pix {
				plane.Pix[i] = src.Pix[3*i+c]
			}
			for i, v := range lanczos(t, plane, sz[0], sz[1]).Pix {
				if rgb.Pix[3*i+c] != v {
					t.Fatalf("%v channel %d pixel %d: rgb %d, plane %d", sz, c, i, rgb.Pix[3*i+c], v)
				}
			}
		}
	}
}

// TestResampleFilterArgs: Bilinear through ResampleFilter is Resample;
// the filters differ; bad sizes, an empty source and an unknown filter are
// refused; ParseFilter and String round-trip.
func TestResampleFilterArgs(t *testing.T) {
	src := lanczosSource(4, 40, 30, 3)
	var s Scratch
	var a, b Image
	if err := Resample(&s, &a, src, 17, 11); err != nil {
		t.Fatal(err)
	}
	if err := ResampleFilter(&s, &b, src, 17, 11, Bilinear); err != nil || !bytes.Equal(a.Pix, b.Pix) {
		t.Fatalf("ResampleFilter(Bilinear) differs from Resample (err %v)", err)
	}
	if bytes.Equal(lanczos(t, src, 17, 11).Pix, a.Pix) {
		t.Error("Lanczos3 gave Bilinear's bytes")
	}
	var d Image
	for _, f := range []Filter{Bilinear, Lanczos3} {
		for _, sz := range [][2]int{{0, 5}, {5, -1}, {MaxSide + 1, 1}} {
			if err := ResampleFilter(&s, &d, src, sz[0], sz[1], f); !errors.Is(err, ErrParam) {
				t.Errorf("%v size %v: %v, want ErrParam", f, sz, err)
			}
		}
		if err := ResampleFilter(&s, &d, &Image{C: 3}, 4, 4, f); !errors.Is(err, ErrEmptyImage) {
			t.Errorf("%v: empty source: %v, want ErrEmptyImage", f, err)
		}
		if g, err := ParseFilter(f.String()); err != nil || g != f {
			t.Errorf("ParseFilter(%q) = %v, %v", f.String(), g, err)
		}
	}
	if err := ResampleFilter(&s, &d, src, 4, 4, Filter(2)); !errors.Is(err, ErrParam) {
		t.Errorf("Filter(2): %v, want ErrParam", err)
	}
	for _, name := range []string{"", "Lanczos3", "bicubic"} {
		if _, err := ParseFilter(name); !errors.Is(err, ErrParam) {
			t.Errorf("ParseFilter(%q): %v, want ErrParam", name, err)
		}
	}
}

func BenchmarkResampleLanczos3(b *testing.B) {
	src := lanczosSource(1, 1024, 768, 3)
	var s Scratch
	dst := &Image{}
	b.SetBytes(int64(len(src.Pix)))
	b.ReportAllocs()
	for b.Loop() {
		if err := ResampleFilter(&s, dst, src, 512, 384, Lanczos3); err != nil {
			b.Fatal(err)
		}
	}
}
