package ops

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

func TestBlurTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	var s Scratch
	for _, sz := range cfSizes {
		for _, c := range []int{1, 3} {
			src := cfRandImage(rng, sz[0], sz[1], c)
			for _, ks := range [][2]float64{{23, 0.1}, {23, 2}, {3, 0.7}, {5, 2}, {9, 1.3}, {1, 1}, {23, 0}, {45, 6}} {
				k, sigma := int(ks[0]), ks[1]
				cfTiersAgree(t, fmt.Sprintf("blur(%d,%v)", k, sigma), src, func(m *Image) *Image {
					cfBlur(&s, m, k, sigma)
					return m
				})
			}
		}
	}
}

func TestGaussKernel(t *testing.T) {
	buf := make([]float32, 64)
	for _, tc := range []struct {
		k     int
		sigma float64
		taps  int
	}{{23, 2, 23}, {23, 0.1, 3}, {23, 0, 1}, {23, -1, 1}, {1, 5, 1}, {3, 1e-30, 1}} {
		w := cfGaussKernel(buf, tc.k, tc.sigma)
		if len(w) != tc.taps {
			t.Errorf("k=%d sigma=%v: %d taps, want %d", tc.k, tc.sigma, len(w), tc.taps)
		}
		var sum float64
		for i, v := range w {
			if math.IsNaN(float64(v)) || v != w[len(w)-1-i] {
				t.Errorf("k=%d sigma=%v: kernel %v not symmetric", tc.k, tc.sigma, w)
			}
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-6 {
			t.Errorf("k=%d sigma=%v: sum %v", tc.k, tc.sigma, sum)
		}
	}
}

func TestBlurOp(t *testing.T) {
	for _, bad := range []string{
		`{"op":"gaussian_blur","kernel_size":4}`,
		`{"op":"gaussian_blur","kernel_size":3,"kernel_fraction":0.1}`,
		`{"op":"gaussian_blur","kernel_fraction":1.5}`,
		`{"op":"gaussian_blur","kernel_size":3,"sigma":[2,1]}`,
		`{"op":"gaussian_blur","kernel_size":3,"sigma":"x"}`,
		`{"op":"gaussian_blur"}`,
	} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	op, err := Decode([]byte(`{"op":"gaussian_blur","kernel_fraction":0.1,"sigma":[0.1,2.0]}`))
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(op.Spec())
	if _, err := Decode(js); err != nil {
		t.Fatalf("round trip %s: %v", js, err)
	}
	var s Scratch
	for _, sz := range [][2]int{{224, 224}, {1, 1}, {5, 40}} {
		m := cfRandImage(rand.New(rand.NewPCG(1, 1)), sz[0], sz[1], 3)
		r := NewRand(1, 2, 3, 0)
		var p Params
		if _, err := op.Apply(&s, m, &r, &p); err != nil {
			t.Fatal(err)
		}
		wantK := int32(sz[1]/10/2*2 + 1)
		if !p.Has(OpBlur) || p.BlurKernel != wantK || p.BlurSigma < 0.1 || p.BlurSigma > 2 {
			t.Fatalf("%v: params %+v, want kernel %d", sz, p, wantK)
		}
	}
	// The hot path does not allocate once the scratch is warm.
	g, _ := NewGaussianBlur(23, 0, [2]float64{0.1, 2})
	m := NewImage(64, 48, 3)
	r := NewRand(1, 2, 3, 0)
	var p Params
	if a := testing.AllocsPerRun(20, func() { g.Apply(&s, m, &r, &p) }); a != 0 {
		t.Errorf("blur allocates %v per call", a)
	}
}

// TestBlurStripsMatchWhole checks that cutting a wide image into vertical
// strips (to keep the ring in L1), and blurring one channel of a gray RGB
// image, change no output byte: cfBlur against one whole-width strip of all
// channels, on every tier.
func TestBlurStripsMatchWhole(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var s Scratch
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		for _, sz := range [][2]int{{224, 224}, {1031, 2}, {300, 7}, {97, 40}, {23, 5}, {225, 224}, {1, 1}, {3, 517}} {
			for _, c := range []int{1, 3} {
				src := cfRandImage(rng, sz[0], sz[1], c)
				if c == 3 && sz[0]%2 == 1 { // odd widths: a gray RGB image
					for i := 0; i+2 < len(src.Pix); i += 3 {
						src.Pix[i+1], src.Pix[i+2] = src.Pix[i], src.Pix[i]
					}
				}
				for _, ks := range [][2]float64{{23, 2}, {23, 0.6}, {45, 6}, {9, 1.3}} {
					k, sigma := int(ks[0]), ks[1]
					got := NewImage(src.W, src.H, c)
					copy(got.Pix, src.Pix)
					cfBlur(&s, got, k, sigma)
					want := NewImage(src.W, src.H, c)
					copy(want.Pix, src.Pix)
					b := cfScratch(&s)
					w := cfGaussKernel(make([]float32, k), k, sigma)
					if len(w) > 1 {
						cfBlurStrip(b, want, want, 0, want.W, w)
					}
					for i := range want.Pix {
						if got.Pix[i] != want.Pix[i] {
							t.Fatalf("tier %v %dx%dx%d blur(%d,%v): sample %d = %d, whole-width %d",
								tr, sz[0], sz[1], c, k, sigma, i, got.Pix[i], want.Pix[i])
						}
					}
				}
			}
		}
		restore()
	}
}

// cfBlurSlot is r % K for every row and size (K is the ring size: 2R+2).
func TestBlurSlot(t *testing.T) {
	for K := 1; K <= 32; K++ {
		for H := 1; H <= 80; H++ {
			hb := 0
			if H >= K {
				hb = (H - K) % K
			}
			for r := 0; r < H; r++ {
				if got := cfBlurSlot(r, H, K, hb); got != r%K {
					t.Fatalf("cfBlurSlot(%d, H=%d, K=%d) = %d, want %d", r, H, K, got, r%K)
				}
			}
		}
	}
}

// TestBlurV2Kernel compares the two-row vertical pass with two calls of the
// reference on every tier: lengths 0..200 (several 32-wide AVX2 and
// 64-wide AVX-512 blocks and their overlapping last blocks), samples that
// round below 0 and above 255, 1..23 taps, random ring offsets (as cfBlurStrip's are: any slot,
// not only consecutive ones), unaligned destinations and guard bytes after
// them.
func TestBlurV2Kernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	const guard = 7
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		for n := 0; n <= 200; n++ {
			for _, nw := range []int{1, 2, 3, 7, 15, 23} {
				slots := nw + 1
				ring := make([]float32, slots*n+1)
				for i := range ring {
					ring[i] = rng.Float32()*400 - 50 // both clamps
				}
				w := make([]float32, nw)
				for i := range w {
					w[i] = rng.Float32() / float32(nw)
				}
				offs := make([]int32, nw+1)
				for i := range offs {
					offs[i] = int32(rng.IntN(slots) * n)
				}
				want0, want1 := make([]uint8, n), make([]uint8, n)
				cfBlurVRef(want0, ring, offs, w)
				cfBlurVRef(want1, ring, offs[1:], w)
				buf := make([]uint8, 2*(n+2*guard)+1)
				for i := range buf {
					buf[i] = 0xA5
				}
				d0 := buf[1+guard : 1+guard+n]
				d1 := buf[1+3*guard+n : 1+3*guard+2*n]
				cfBlurV2(d0, d1, ring, offs, w)
				for i := 0; i < n; i++ {
					if d0[i] != want0[i] || d1[i] != want1[i] {
						t.Fatalf("%v n=%d taps=%d: sample %d = %d,%d want %d,%d", tr, n, nw, i, d0[i], d1[i], want0[i], want1[i])
					}
				}
				for i, v := range buf {
					in0 := i >= 1+guard && i < 1+guard+n
					in1 := i >= 1+3*guard+n && i < 1+3*guard+2*n
					if !in0 && !in1 && v != 0xA5 {
						t.Fatalf("%v n=%d taps=%d: guard byte %d overwritten", tr, n, nw, i)
					}
				}
			}
		}
		restore()
	}
}

// TestBlurHKernel compares the horizontal pass with its reference on every
// tier: lengths 0..200 (the 64- and 32-wide blocks, their overlapping last
// blocks and the 8-wide loop), 1..23 taps, 1 and 3 channels, an unaligned
// destination with guard values after it.
func TestBlurHKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const guard = 5
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		for _, c := range []int{1, 3} {
			for _, nw := range []int{1, 3, 9, 23} {
				w := make([]float32, nw)
				for i := range w {
					w[i] = rng.Float32()
				}
				for n := 0; n <= 200; n++ {
					pad := make([]float32, n+(nw-1)*c)
					for i := range pad {
						pad[i] = float32(rng.IntN(256))
					}
					want := make([]float32, n)
					cfBlurHRef(want, pad, w, c)
					buf := make([]float32, n+1+guard)
					for i := range buf {
						buf[i] = -3
					}
					got := buf[1 : 1+n]
					cfBlurH(got, pad, w, c)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("%v c=%d taps=%d n=%d: output %d = %v, want %v", tr, c, nw, n, i, got[i], want[i])
						}
					}
					if buf[0] != -3 || buf[1+n] != -3 {
						t.Fatalf("%v c=%d taps=%d n=%d: guard overwritten", tr, c, nw, n)
					}
				}
			}
		}
		restore()
	}
}
