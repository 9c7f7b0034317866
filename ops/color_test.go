package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// cfSizes are the image shapes every differential test sweeps.
var cfSizes = [][2]int{{1, 1}, {2, 1}, {7, 3}, {13, 11}, {32, 32}, {33, 5}, {224, 224}, {1031, 2}, {3, 517}}

func cfRandImage(rng *rand.Rand, w, h, c int) *Image {
	m := NewImage(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	// Some flat and saturated areas: ties and gray pixels matter to hue.
	for i := 0; i+2 < len(m.Pix) && i < len(m.Pix)/4; i += 3 * (1 + rng.IntN(4)) {
		v := uint8(rng.IntN(256))
		m.Pix[i], m.Pix[i+1] = v, v
		if rng.IntN(2) == 0 {
			m.Pix[i+2] = v
		}
	}
	return m
}

// cfGuarded returns a copy of m placed as an unaligned sub-image inside a
// larger image whose border is filled with a guard byte pattern.
func cfGuarded(m *Image, off int) (outer *Image, sub Image) {
	outer = NewImage(m.W+off+3, m.H+2, m.C)
	for i := range outer.Pix {
		outer.Pix[i] = uint8(0xA5 ^ i)
	}
	sub = outer.Sub(off, 1, m.W, m.H)
	for y := 0; y < m.H && m.W > 0; y++ {
		copy(sub.Row(y), m.Row(y))
	}
	return outer, sub
}

// cfCheckGuard fails if any byte of outer outside the sub-rectangle
// (off, 1, w, h) changed.
func cfCheckGuard(t *testing.T, outer *Image, off, w, h int) {
	t.Helper()
	for y := 0; y < outer.H; y++ {
		row := outer.Row(y)
		for x := 0; x < outer.W; x++ {
			if y >= 1 && y < 1+h && x >= off && x < off+w {
				continue
			}
			for c := 0; c < outer.C; c++ {
				i := y*outer.Stride + x*outer.C + c
				if row[x*outer.C+c] != uint8(0xA5^i) {
					t.Fatalf("guard byte at (%d,%d,%d) overwritten", x, y, c)
				}
			}
		}
	}
}

func cfTight(m *Image) []uint8 {
	out := make([]uint8, 0, m.W*m.H*m.C)
	for y := 0; y < m.H && m.W > 0; y++ {
		out = append(out, m.Row(y)...)
	}
	return out
}

// cfTiersAgree runs fn on a guarded copy of src under every tier and
// demands identical bytes (and intact guards); it returns the output.
func cfTiersAgree(t *testing.T, name string, src *Image, fn func(m *Image) *Image) []uint8 {
	t.Helper()
	var want []uint8
	for _, tr := range cpu.Tiers() {
		for _, off := range []int{0, 1} {
			restore := setTier(tr)
			outer, sub := cfGuarded(src, off)
			out := fn(&sub)
			restore()
			cfCheckGuard(t, outer, off, src.W, src.H)
			got := cfTight(out)
			if want == nil {
				want = got
				continue
			}
			if !bytes.Equal(got, want) {
				i := 0
				for i < len(got) && got[i] == want[i] {
					i++
				}
				t.Fatalf("%s %dx%dx%d: tier %v (offset %d) differs from generic at sample %d: %d vs %d",
					name, src.W, src.H, src.C, tr, off, i, got[i], want[i])
			}
		}
	}
	return want
}

func TestColorTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s Scratch
	for _, sz := range cfSizes {
		for _, c := range []int{1, 3} {
			src := cfRandImage(rng, sz[0], sz[1], c)
			for _, f := range []float64{0, 0.3, 1, 1.37, 2, 200} {
				for k := 0; k < 3; k++ {
					cfTiersAgree(t, fmt.Sprintf("adjust%d(%v)", k, f), src, func(m *Image) *Image {
						adjustColor(&s, m, k, f)
						return m
					})
				}
			}
			for _, h := range []float64{-0.5, -0.4999, -0.13, 0, 0.02, 0.25, 0.5} {
				cfTiersAgree(t, fmt.Sprintf("hue(%v)", h), src, func(m *Image) *Image {
					adjustColor(&s, m, 3, h)
					return m
				})
			}
			for _, outC := range []int{1, 3} {
				cfTiersAgree(t, fmt.Sprintf("gray%d", outC), src, func(m *Image) *Image {
					return cfToGray(&s, m, outC)
				})
			}
		}
	}
}

// TestHueAllColours checks the hue kernel against its reference on a dense
// lattice of the RGB cube, all tiers, for shifts at the ends of the range.
func TestHueAllColours(t *testing.T) {
	step := 3
	if testing.Short() {
		step = 9
	}
	var src []uint8
	for r := 0; r < 256; r += step {
		for g := 0; g < 256; g += step {
			for b := 0; b < 256; b += step {
				src = append(src, uint8(r), uint8(g), uint8(b))
			}
		}
	}
	for _, h := range []float32{-0.5, -1.0 / 3, 0, 1e-7, 0.1666, 0.5} {
		want := make([]uint8, len(src))
		cfHueRef(want, src, h)
		for _, tr := range cpu.Tiers() {
			restore := setTier(tr)
			got := make([]uint8, len(src))
			cfHue(got, src, h)
			restore()
			if !bytes.Equal(got, want) {
				for i := range got {
					if got[i] != want[i] {
						p := i / 3 * 3
						t.Fatalf("hue %v tier %v pixel %v: got %v want %v", h, tr, src[p:p+3], got[p:p+3], want[p:p+3])
					}
				}
			}
		}
	}
}

func TestHueIdentityNearlyKeepsPixels(t *testing.T) {
	// adjust_hue(0) on uint8 maps x -> trunc((x/255)*255), which torchvision
	// also does: never more than 1 below x.
	src := make([]uint8, 3*256)
	for i := range src {
		src[i] = uint8(i / 3)
	}
	dst := make([]uint8, len(src))
	cfHue(dst, src, 0)
	for i := range src {
		if d := int(src[i]) - int(dst[i]); d < 0 || d > 1 {
			t.Fatalf("hue 0 moved %d to %d", src[i], dst[i])
		}
	}
}

func TestColorJitterApply(t *testing.T) {
	j, err := NewColorJitter(JitterRange(0.8, 1), JitterRange(0.8, 1), JitterRange(0.8, 1), JitterRange(0.2, 0))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	src := cfRandImage(rng, 40, 30, 3)
	var s Scratch
	run := func() ([]uint8, Params) {
		m := NewImage(40, 30, 3)
		copy(m.Pix, src.Pix)
		r := NewRand(7, 0, 11, 1)
		var p Params
		out, err := j.Apply(&s, m, &r, &p)
		if err != nil {
			t.Fatal(err)
		}
		return cfTight(out), p
	}
	a, pa := run()
	b, pb := run()
	if !bytes.Equal(a, b) || pa.JitterOrder != pb.JitterOrder {
		t.Fatal("same seed gave different output")
	}
	if !pa.Has(OpJitter) || pa.Brightness < 0.2 || pa.Brightness > 1.8 || pa.Hue < -0.2 || pa.Hue > 0.2 {
		t.Fatalf("params %+v", pa)
	}
	seen := [4]bool{}
	for _, k := range pa.JitterOrder {
		seen[k] = true
	}
	if seen != [4]bool{true, true, true, true} {
		t.Fatalf("order %v not a permutation", pa.JitterOrder)
	}
	m0 := NewImage(224, 224, 3)
	r0 := NewRand(1, 2, 3, 4)
	var p0 Params
	if a := testing.AllocsPerRun(10, func() { j.Apply(&s, m0, &r0, &p0) }); a != 0 {
		t.Errorf("color jitter allocates %v per call", a)
	}
	// Replaying the recorded factors in the recorded order reproduces it.
	m := NewImage(40, 30, 3)
	copy(m.Pix, src.Pix)
	f := [4]float32{pa.Brightness, pa.Contrast, pa.Saturation, pa.Hue}
	r := NewRand(7, 0, 11, 1)
	r.Perm4()
	var f64 [4]float64
	for k := range f64 {
		f64[k] = r.Uniform(j.rng[k][0], j.rng[k][1])
		if float32(f64[k]) != f[k] {
			t.Fatalf("factor %d: recorded %v, drawn %v", k, f[k], f64[k])
		}
	}
	for _, k := range pa.JitterOrder {
		adjustColor(&s, m, int(k), f64[k])
	}
	if !bytes.Equal(cfTight(m), a) {
		t.Fatal("replaying recorded params differs")
	}
}

func TestColorDecode(t *testing.T) {
	good := []string{
		`{"op":"color_jitter","brightness":0.4,"contrast":0.4,"saturation":0.4,"hue":0.1}`,
		`{"op":"color_jitter","brightness":[0.5,1.5],"hue":[-0.5,0.5]}`,
		`{"op":"random_grayscale","p":0.2}`,
		`{"op":"grayscale","channels":1}`,
	}
	for _, g := range good {
		op, err := Decode([]byte(g))
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		js, err := json.Marshal(op.Spec())
		if err != nil {
			t.Fatal(err)
		}
		op2, err := Decode(js)
		if err != nil {
			t.Fatalf("round trip %s: %v", js, err)
		}
		js2, _ := json.Marshal(op2.Spec())
		if !bytes.Equal(js, js2) {
			t.Fatalf("spec round trip %s != %s", js, js2)
		}
	}
	bad := []string{
		`{"op":"color_jitter","hue":0.6}`,
		`{"op":"color_jitter","brightness":-1}`,
		`{"op":"color_jitter","contrast":[1.5,0.5]}`,
		`{"op":"color_jitter","saturation":[0,1,2]}`,
		`{"op":"color_jitter","bright":0.4}`,
		`{"op":"random_grayscale","p":1.5}`,
		`{"op":"grayscale","channels":2}`,
	}
	for _, b := range bad {
		if _, err := Decode([]byte(b)); !errors.Is(err, ErrParam) {
			t.Errorf("%s: error %v, want ErrParam", b, err)
		}
	}
}

func TestGrayOps(t *testing.T) {
	var s Scratch
	rng := rand.New(rand.NewPCG(5, 6))
	for _, c := range []int{1, 3} {
		src := cfRandImage(rng, 5, 4, c)
		for _, ch := range []int{1, 3} {
			g, _ := NewGrayscale(ch)
			m := NewImage(5, 4, c)
			copy(m.Pix, src.Pix)
			var p Params
			out, err := g.Apply(&s, m, &Rand{}, &p)
			if err != nil || out.C != ch || !p.Gray {
				t.Fatalf("grayscale %d->%d: %v %v", c, ch, err, out.C)
			}
			for i := 0; i < 20; i++ {
				var want uint8
				if c == 3 {
					want = cfLuma(src.Pix[3*i], src.Pix[3*i+1], src.Pix[3*i+2])
				} else {
					want = src.Pix[i]
				}
				for k := 0; k < ch; k++ {
					if out.Pix[i*ch+k] != want {
						t.Fatalf("pixel %d: %d want %d", i, out.Pix[i*ch+k], want)
					}
				}
			}
		}
	}
	rg, _ := NewRandomGrayscale(1)
	m := cfRandImage(rng, 3, 3, 3)
	var p Params
	out, _ := rg.Apply(&s, m, &Rand{}, &p)
	if !p.Gray || out.C != 3 || out.Pix[0] != out.Pix[1] {
		t.Fatal("random_grayscale p=1 did not convert")
	}
}

func TestSumU8(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{0, 1, 31, 32, 33, 100, 4099} {
		p := make([]uint8, n+1)
		for i := range p {
			p[i] = uint8(rng.IntN(256))
		}
		want := cfSumU8Ref(p[1:])
		for _, tr := range cpu.Tiers() {
			restore := setTier(tr)
			got := cfSumU8(p[1:])
			restore()
			if got != want {
				t.Fatalf("n=%d tier %v: %d want %d", n, tr, got, want)
			}
		}
	}
}

// TestLumaSumTiers checks the fused luma sum of the contrast mean against
// luma-then-sum on every tier, for row lengths around the block size and
// unaligned starts.
func TestLumaSumTiers(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	buf := make([]uint8, 3*2000+1)
	for i := range buf {
		buf[i] = uint8(rng.IntN(256))
	}
	for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 224, 1999} {
		for _, off := range []int{0, 1} {
			p := buf[off : off+3*n]
			gray := make([]uint8, n)
			cfGrayRef(gray, p, 1)
			want := cfSumU8Ref(gray)
			for _, tr := range cpu.Tiers() {
				restore := setTier(tr)
				got := cfLumaSum(p)
				restore()
				if got != want {
					t.Fatalf("tier %v n %d off %d: luma sum %d, want %d", tr, n, off, got, want)
				}
			}
		}
	}
}

// TestColorKernelsReadPastLen: the AVX2 colour kernels may load up to 8
// bytes past a slice's length when its capacity holds them (a row of a
// strided image); the result must still be the reference's, from the first
// len bytes only, and nothing past len may be written. Every tier, lengths
// around the block size, 0 to 9 spare bytes of capacity holding noise.
func TestColorKernelsReadPastLen(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{1, 7, 8, 9, 16, 17, 31, 32, 33, 100} {
		for spare := 0; spare <= 9; spare++ {
			buf := make([]uint8, 3*n+spare)
			for i := range buf {
				buf[i] = uint8(rng.IntN(256))
			}
			src := buf[: 3*n : 3*n+spare]
			want := map[string][]uint8{"saturate": make([]uint8, 3*n), "hue": make([]uint8, 3*n), "gray": make([]uint8, n)}
			cfSaturateRef(want["saturate"], src, 1.3, -20)
			cfHueRef(want["hue"], src, 0.2)
			cfGrayRef(want["gray"], src, 1)
			for _, tr := range cpu.Tiers() {
				restore := setTier(tr)
				for op, f := range map[string]func(w []uint8){
					"saturate": func(w []uint8) { cfSaturate(w, w, 1.3, -20) },
					"hue":      func(w []uint8) { cfHue(w, w, 0.2) },
				} {
					w := bytes.Clone(buf)
					f(w[: 3*n : 3*n+spare])
					if !bytes.Equal(w[:3*n], want[op]) {
						t.Fatalf("tier %v n %d spare %d: %s differs from the reference", tr, n, spare, op)
					}
					if !bytes.Equal(w[3*n:], buf[3*n:]) {
						t.Fatalf("tier %v n %d spare %d: %s wrote past the slice", tr, n, spare, op)
					}
				}
				gray := make([]uint8, n)
				cfGray(gray, src, 1)
				if !bytes.Equal(gray, want["gray"]) {
					t.Fatalf("tier %v n %d spare %d: gray differs from the reference", tr, n, spare)
				}
				if got, w := cfLumaSum(src), cfSumU8Ref(want["gray"]); got != w {
					t.Fatalf("tier %v n %d spare %d: luma sum %d, want %d", tr, n, spare, got, w)
				}
				restore()
			}
		}
	}
}
