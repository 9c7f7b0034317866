package ops

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/internal/cpu/cputest"
)

// geoSizes is the size sweep: 1×1, odd, 32×32, 224×224, very wide, very tall.
var geoSizes = [][2]int{{1, 1}, {2, 1}, {1, 3}, {7, 5}, {13, 11}, {28, 28}, {32, 32}, {33, 17}, {224, 224}, {1031, 2}, {3, 517}}

func geoRandImage(rng *rand.Rand, w, h, c int) *Image {
	m := NewImage(w, h, c)
	for i := range m.Pix {
		m.Pix[i] = uint8(rng.IntN(256))
	}
	return m
}

const geoGuard = 0xA5

// geoGuarded returns a w×h×c sub-image at an odd offset inside a larger
// image filled with geoGuard, so writes outside the sub-image and reads of
// an unaligned start are both exercised.
func geoGuarded(w, h, c, off int) (outer *Image, sub *Image) {
	outer = NewImage(w+2*off, h+2*off, c)
	for i := range outer.Pix {
		outer.Pix[i] = geoGuard
	}
	s := outer.Sub(off, off, w, h)
	return outer, &s
}

func geoCheckGuard(t *testing.T, outer *Image, off, w, h int) {
	t.Helper()
	for y := 0; y < outer.H; y++ {
		for x := 0; x < outer.W; x++ {
			if x >= off && x < off+w && y >= off && y < off+h {
				continue
			}
			for ch := 0; ch < outer.C; ch++ {
				if v := outer.Pix[y*outer.Stride+x*outer.C+ch]; v != geoGuard {
					t.Fatalf("guard byte at (%d,%d,%d) overwritten: %d", x, y, ch, v)
				}
			}
		}
	}
}

func geoTight(m *Image) []uint8 {
	out := make([]uint8, 0, m.W*m.H*m.C)
	for y := 0; y < m.H; y++ {
		out = append(out, m.Row(y)...)
	}
	return out
}

// geoResizeFloat is an independent float64 model of torch's antialiased
// bilinear resize (no fixed point): the weights of resizePlan unquantised,
// applied in 2-D, rounded half to even.
func geoResizeFloat(src *Image, w, h int) []uint8 {
	weights := func(in, out int) ([][]float64, []int) {
		scale := float64(in) / float64(out)
		support, inv := 1.0, 1.0
		if scale >= 1 {
			support, inv = scale, 1/scale
		}
		ws := make([][]float64, out)
		lo := make([]int, out)
		for i := range ws {
			c := scale * (float64(i) + 0.5)
			a := max(int(c-support+0.5), 0)
			b := min(int(c+support+0.5), in)
			tot := 0.0
			for j := a; j < b; j++ {
				v := math.Max(0, 1-math.Abs((float64(j)-c+0.5)*inv))
				ws[i] = append(ws[i], v)
				tot += v
			}
			for j := range ws[i] {
				ws[i][j] /= tot
			}
			lo[i] = a
		}
		return ws, lo
	}
	wx, lx := weights(src.W, w)
	wy, ly := weights(src.H, h)
	c := src.C
	out := make([]uint8, 0, w*h*c)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			for ch := 0; ch < c; ch++ {
				acc := 0.0
				for j, vy := range wy[y] {
					for i, vx := range wx[x] {
						acc += vy * vx * float64(src.Pix[(ly[y]+j)*src.Stride+(lx[x]+i)*c+ch])
					}
				}
				out = append(out, uint8(math.RoundToEven(acc)))
			}
		}
	}
	return out
}

func TestResizePlanWeights(t *testing.T) {
	for in := 1; in <= 300; in += 7 {
		for _, out := range []int{1, 2, 3, 5, 17, 28, 32, 100, 224, 513} {
			p := buildResizePlan(in, out, in%2 == 0)
			for i := 0; i < out; i++ {
				sum := 0
				for _, w := range p.w[i*p.k : i*p.k+p.k] {
					if w < 0 {
						t.Fatalf("plan %d->%d: negative weight", in, out)
					}
					sum += int(w)
				}
				if sum != 1<<resizeWeightBits {
					t.Fatalf("plan %d->%d output %d: weights sum to %d", in, out, i, sum)
				}
				if int(p.start[i])+p.k > in && p.fast {
					t.Fatalf("plan %d->%d output %d: taps past the input", in, out, i)
				}
			}
		}
	}
}

// TestResizeTiersAgree resizes a sweep of sizes, channels, unaligned
// sub-images and guard-banded outputs on every tier, demanding identical
// bytes, and checks the result against the float model within ±1.
func TestResizeTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	outs := [][2]int{{1, 1}, {3, 2}, {32, 32}, {17, 9}, {224, 224}, {28, 28}, {5, 300}}
	for _, c := range []int{1, 3} {
		for _, in := range geoSizes {
			for _, o := range outs {
				if testing.Short() && (in[0]*in[1] > 5000 && o[0]*o[1] > 5000) {
					continue
				}
				srcOuter, src := geoGuarded(in[0], in[1], c, 3)
				for y := 0; y < src.H; y++ {
					for i := range src.Row(y) {
						src.Row(y)[i] = uint8(rng.IntN(256))
					}
				}
				_ = srcOuter
				var ref []uint8
				for _, tr := range cpu.Tiers() {
					restore := setTier(tr)
					outer, dst := geoGuarded(o[0], o[1], c, 5)
					var s Scratch
					resizeInto(&s, dst, src)
					restore()
					geoCheckGuard(t, outer, 5, o[0], o[1])
					got := geoTight(dst)
					if ref == nil {
						ref = got
						model := geoResizeFloat(src, o[0], o[1])
						for i := range model {
							if d := int(model[i]) - int(got[i]); d > 1 || d < -1 {
								t.Fatalf("c=%d %v->%v sample %d: %d, float model %d", c, in, o, i, got[i], model[i])
							}
						}
						continue
					}
					if !bytes.Equal(got, ref) {
						t.Fatalf("c=%d %v->%v: tier %v differs from generic", c, in, o, tr)
					}
				}
			}
		}
	}
}

// TestResizeLastRowPadding resizes a sub-image whose last row ends exactly
// at the end of its buffer, the case where the AVX2 horizontal kernel must
// not read past the slice.
func TestResizeLastRowPadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, w := range []int{1, 2, 3, 4, 9, 64, 65} {
		src := geoRandImage(rng, w, 6, 3)
		src.Pix = src.Pix[:len(src.Pix):len(src.Pix)]
		var ref []uint8
		for _, tr := range cpu.Tiers() {
			restore := setTier(tr)
			var s Scratch
			dst := NewImage(max(w/3, 1), 2, 3)
			resizeInto(&s, dst, src)
			restore()
			if ref == nil {
				ref = geoTight(dst)
			} else if !bytes.Equal(ref, geoTight(dst)) {
				t.Fatalf("w=%d: tier %v differs", w, tr)
			}
		}
	}
}

func TestRandomResizedCropDegenerate(t *testing.T) {
	var s Scratch
	var p Params
	op, err := NewRandomResizedCrop(32, 32, [2]float64{0.08, 1}, [2]float64{0.75, 4.0 / 3})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, sz := range geoSizes {
		for _, c := range []int{1, 3} {
			src := geoRandImage(rng, sz[0], sz[1], c)
			for seed := range uint64(20) {
				r := NewRand(seed, 0, 0, 0)
				out, err := op.Apply(&s, src, &r, &p)
				if err != nil {
					t.Fatal(err)
				}
				b := p.Crop
				if out.W != 32 || out.H != 32 || b.W < 1 || b.H < 1 || b.X < 0 || b.Y < 0 || int(b.X+b.W) > sz[0] || int(b.Y+b.H) > sz[1] {
					t.Fatalf("%v: box %+v out %s", sz, b, geoFmt(out))
				}
			}
		}
	}
	// An empty image is an error, not a panic.
	empty := &Image{W: 0, H: 5, C: 3}
	r := NewRand(1, 0, 0, 0)
	if _, err := op.Apply(&s, empty, &r, &p); !errors.Is(err, ErrEmptyImage) {
		t.Fatalf("empty image: %v", err)
	}
	// Zero-area and oversized boxes in ResizedCrop.
	src := geoRandImage(rng, 5, 4, 3)
	if _, err := ResizedCrop(&s, src, Box{0, 0, 0, 3}, 4, 4, 0); !errors.Is(err, ErrParam) {
		t.Fatalf("zero-area crop: %v", err)
	}
	out, err := ResizedCrop(&s, src, Box{-3, -2, 11, 9}, 11, 9, 7)
	if err != nil {
		t.Fatal(err)
	}
	if out.Pix[0] != 7 || out.Row(2)[3*3] != src.Pix[0] {
		t.Fatalf("oversized crop: fill or placement wrong")
	}
}

// TestRandomResizedCropRule checks torchvision's sampling rule: accepted
// boxes lie within the scale and ratio ranges (up to rounding), and a
// fallback centre crop respects the ratio clamp.
func TestRandomResizedCropRule(t *testing.T) {
	op, _ := NewRandomResizedCrop(8, 8, [2]float64{0.2, 0.5}, [2]float64{0.75, 4.0 / 3})
	for seed := range uint64(2000) {
		r := NewRand(seed, 1, 2, 0)
		b := op.CropBox(&r, 400, 350)
		area := float64(b.W*b.H) / (400 * 350)
		if area < 0.18 || area > 0.53 {
			t.Fatalf("seed %d: box %+v area fraction %.3f outside scale", seed, b, area)
		}
		ar := float64(b.W) / float64(b.H)
		if ar < 0.73 || ar > 1.37 {
			t.Fatalf("seed %d: box %+v ratio %.3f", seed, b, ar)
		}
	}
	// Fallback: a very wide image cannot fit a box of ratio <= 4/3 with
	// scale 1, so the centre crop is clamped to ratio 4/3.
	big, _ := NewRandomResizedCrop(8, 8, [2]float64{1, 1}, [2]float64{0.75, 4.0 / 3})
	r := NewRand(0, 0, 0, 0)
	if b := big.CropBox(&r, 300, 30); b != (Box{130, 0, 40, 30}) {
		t.Fatalf("fallback box %+v, want {130 0 40 30}", b)
	}
	if b := big.CropBox(&r, 30, 300); b != (Box{0, 130, 30, 40}) {
		t.Fatalf("fallback box %+v, want {0 130 30 40}", b)
	}
}

func TestRandomCropPadding(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	src := geoRandImage(rng, 5, 4, 3)
	op, err := NewRandomCrop(8, 8, [4]int{1, 1, 1, 1}, true, 9)
	if err != nil {
		t.Fatal(err)
	}
	var s Scratch
	var p Params
	for seed := range uint64(50) {
		r := NewRand(seed, 0, 0, 0)
		out, err := op.Apply(&s, src, &r, &p)
		if err != nil {
			t.Fatal(err)
		}
		b := p.Crop
		for y := 0; y < 8; y++ {
			for x := 0; x < 8; x++ {
				sx, sy := int(b.X)+x, int(b.Y)+y
				want := uint8(9)
				if sx >= 0 && sy >= 0 && sx < 5 && sy < 4 {
					want = src.Pix[sy*src.Stride+sx*3+1]
				}
				if got := out.Pix[y*out.Stride+x*3+1]; got != want {
					t.Fatalf("seed %d box %+v (%d,%d): %d want %d", seed, b, x, y, got, want)
				}
			}
		}
	}
}

func TestRotateFlipsExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, sz := range geoSizes {
		src := geoRandImage(rng, sz[0], sz[1], 3)
		// Four quarter turns are the identity; two are a double flip.
		cur := src
		for range 4 {
			next := NewImage(cur.H, cur.W, 3)
			Rot90(next, cur, 1)
			cur = next
		}
		if !bytes.Equal(cur.Pix, src.Pix) {
			t.Fatalf("%v: four quarter turns changed the image", sz)
		}
		half := NewImage(src.W, src.H, 3)
		Rot90(half, src, 2)
		flip := NewImage(src.W, src.H, 3)
		copyImage(flip, src)
		FlipH(flip)
		FlipV(flip)
		if !bytes.Equal(half.Pix, flip.Pix) {
			t.Fatalf("%v: rot180 != hflip∘vflip", sz)
		}
		// Rotating by 0 degrees is the identity.
		rot := NewImage(src.W, src.H, 3)
		Rotate(rot, src, 0, 0)
		if !bytes.Equal(rot.Pix, src.Pix) {
			t.Fatalf("%v: rotate(0) changed the image", sz)
		}
	}
}

func TestGeometryNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	src := geoRandImage(rng, 400, 350, 3)
	op, _ := NewRandomResizedCrop(224, 224, [2]float64{0.08, 1}, [2]float64{0.75, 4.0 / 3})
	var s Scratch
	var p Params
	seed := uint64(0)
	run := func() {
		r := NewRand(seed, 0, seed, 0)
		seed++
		if _, err := op.Apply(&s, src, &r, &p); err != nil {
			t.Fatal(err)
		}
	}
	// Warm the plan cache for every crop size the seeds below draw.
	for range 200 {
		run()
	}
	seed = 0
	if n := testing.AllocsPerRun(200, run); n != 0 {
		t.Fatalf("RandomResizedCrop allocates %v times per view", n)
	}
}

// FuzzResizeTiers is a differential fuzz test: any sizes, channels, offsets
// and mirror flag give identical bytes on every tier.
func FuzzResizeTiers(f *testing.F) {
	f.Add(uint16(28), uint16(28), uint16(32), uint16(32), uint8(3), uint8(1), false, uint64(1))
	f.Add(uint16(400), uint16(350), uint16(224), uint16(224), uint8(3), uint8(0), true, uint64(2))
	f.Add(uint16(1), uint16(1), uint16(5), uint16(3), uint8(1), uint8(2), false, uint64(3))
	f.Add(uint16(700), uint16(9), uint16(31), uint16(17), uint8(3), uint8(5), true, uint64(4))
	f.Fuzz(func(t *testing.T, sw, sh, dw, dh uint16, c, off uint8, flip bool, seed uint64) {
		sw, sh, dw, dh = sw%512+1, sh%512+1, dw%300+1, dh%300+1
		ch := 1 + 2*int(c%2)
		o := int(off % 8)
		rng := rand.New(rand.NewPCG(seed, 7))
		outer := geoRandImage(rng, int(sw)+o, int(sh)+o, ch)
		src := outer.Sub(o, o, int(sw), int(sh))
		var ref []uint8
		for _, tr := range cpu.Tiers() {
			restore := setTier(tr)
			var s Scratch
			dst := NewImage(int(dw), int(dh), ch)
			resizeMirror(&s, dst, &src, flip)
			restore()
			if ref == nil {
				ref = dst.Pix
			} else if !bytes.Equal(ref, dst.Pix) {
				t.Fatalf("%dx%d -> %dx%d c=%d flip=%v: tier %v differs", sw, sh, dw, dh, ch, flip, tr)
			}
		}
	})
}

// TestResizeHPaths sweeps RGB widths so that every specialised horizontal
// AVX2 path (k = 2 upscaling, k = 4 and k = 8 downscaling, each with an odd
// or even output count, and the generic tap loop) is compared with the
// reference, byte for byte, on two and three rows (the two-row kernels and
// the single last row).
func TestResizeHPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	seen := map[int]bool{}
	for in := 5; in <= 90; in += 7 {
		for _, out := range []int{3, 4, 9, 10, 17, 24, 31, 40, 57, 64} {
			p := buildResizePlan(in, out, true)
			seen[p.k] = true
			for _, h := range []int{2, 3} {
				src := geoRandImage(rng, in, h, 3)
				var ref []uint8
				for _, tr := range cpu.Tiers() {
					restore := setTier(tr)
					dst := NewImage(out, h, 3)
					var s Scratch
					resizeInto(&s, dst, src)
					restore()
					if ref == nil {
						ref = dst.Pix
						continue
					}
					if !bytes.Equal(dst.Pix, ref) {
						t.Fatalf("%d->%d (k=%d) h=%d: tier %v differs from generic", in, out, p.k, h, tr)
					}
				}
			}
		}
	}
	for _, k := range []int{2, 4, 8, 12} {
		if !seen[k] {
			t.Errorf("no plan with k=%d swept", k)
		}
	}
}

// TestResizePlanSlabs builds plans through a Scratch's cache, past its bound
// (which clears it and its slabs), and checks that every plan still equals
// a freshly allocated one: plans cut from shared slabs must not overlap.
func TestResizePlanSlabs(t *testing.T) {
	var s Scratch
	c := resizeCache(&s)
	type key struct{ in, out, kind int }
	var keys []key
	var plans []*resizePlan
	for in := 1; len(keys) < maxResizePlans+300; in++ {
		for _, out := range []int{224, 32, 7} {
			for _, kind := range []int{planV, planH, planHFlip} {
				keys = append(keys, key{in, out, kind})
				plans = append(plans, c.plan(in, out, kind))
			}
		}
	}
	for i, k := range keys {
		want := buildResizePlan(k.in, k.out, k.kind != planV)
		if k.kind == planHFlip {
			want.mirror()
		}
		got := plans[i]
		if got.in != want.in || got.out != want.out || got.k != want.k || got.fast != want.fast ||
			!slices.Equal(got.start, want.start) || !slices.Equal(got.w, want.w) ||
			!slices.Equal(got.wq, want.wq) || !slices.Equal(got.w8, want.w8) {
			t.Fatalf("plan %d (%+v) differs from a fresh one", i, k)
		}
	}
}

// TestResizeVKernel runs the vertical pass through resizeV (and the
// reference for what it leaves) on every tier: row lengths 0..200 (the
// 16- and 32-sample groups, the two-group columns and the overlapping last
// group), 2 to 12 taps (even, as plans give the kernels), weights in
// [0, 1<<14] and samples over the whole range the horizontal pass gives
// (0..255<<7) plus negatives, so the clamps at 0 and 255 are both reached;
// the output must be the reference's and the bytes after it untouched.
// On amd64 it runs with AVX-512 VNNI on and off (resizeFeatureRuns).
func TestResizeVKernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, vnni := range resizeFeatureRuns() {
		t.Run(vnni.name, func(t *testing.T) {
			defer vnni.set()()
			testResizeVKernel(t, rng)
		})
	}
}

// featureRun is one setting of optional CPU features a kernel test runs
// under: set applies it and returns what restores the previous one.
type featureRun struct {
	name string
	set  func() (restore func())
}

func testResizeVKernel(t *testing.T, rng *rand.Rand) {
	const guard = 40
	cputest.ForEachTier(t, &tier, topTier, func(t *testing.T) {
		for n := 0; n <= 200; n++ {
			for _, k := range []int{2, 4, 6, 12} {
				stride := n + rng.IntN(3)
				mid := make([]int16, (k-1)*stride+n+rng.IntN(2))
				for i := range mid {
					mid[i] = int16(rng.IntN(255<<7+2000) - 1000)
				}
				w := make([]int16, k)
				for j := range w {
					w[j] = int16(rng.IntN(1<<14 + 1))
				}
				want := make([]uint8, n)
				acc := make([]int32, n)
				resizeVRef(want, mid, stride, n, w, 0, acc)
				buf := make([]uint8, n+guard)
				for i := range buf {
					buf[i] = 0x5A
				}
				got := buf[:n]
				done := 0
				if haveResizeAsm && n >= 16 {
					done = resizeV(got, mid, stride, n, w)
				}
				resizeVRef(got, mid, stride, n, w, done, acc)
				if !bytes.Equal(got, want) {
					t.Fatalf("n %d k %d: differs from the reference", n, k)
				}
				for i := n; i < len(buf); i++ {
					if buf[i] != 0x5A {
						t.Fatalf("n %d k %d: byte %d after the row written", n, k, i-n)
					}
				}
			}
		}
	})
}

// TestResizeH3Rows checks the RGB horizontal kernels on their int16
// output, before the vertical pass can round a difference away: the
// single-row kernel (which the resize runs only on an odd last row) and the
// two-row one, on every SIMD tier, equal resizeHRef on random rows for
// every plan kind (two- and four-tap steps, the quad plans).
func TestResizeH3Rows(t *testing.T) {
	if !haveResizeAsm {
		t.Skip("no resize kernels in this build")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	checked := 0
	for in := 5; in <= 90; in += 7 {
		for _, out := range []int{3, 4, 9, 10, 17, 24, 31, 40, 57, 64} {
			for _, quad := range []bool{false, true} {
				p := buildResizePlan(in, out, quad)
				if !p.fast {
					continue
				}
				src0, src1 := make([]uint8, in*3+64), make([]uint8, in*3+64)
				for i := range src0 {
					src0[i], src1[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
				}
				want0, want1 := make([]int16, p.out*3+1), make([]int16, p.out*3+1)
				resizeHRef(want0, src0, 3, p)
				resizeHRef(want1, src1, 3, p)
				for _, tr := range cpu.Tiers() {
					if tr < cpu.AVX2 {
						continue
					}
					restore := setTier(tr)
					got0, got1 := make([]int16, p.out*3+1), make([]int16, p.out*3+1)
					resizeH3(got0, src0, p)
					if !slices.Equal(got0, want0) {
						t.Errorf("%d->%d quad=%v (k=%d) tier %v: one-row kernel differs from resizeHRef", in, out, quad, p.k, tr)
					}
					clear(got0)
					if resizeH3x2(got0, got1, src0, src1, p) && (!slices.Equal(got0, want0) || !slices.Equal(got1, want1)) {
						t.Errorf("%d->%d quad=%v (k=%d) tier %v: two-row kernel differs from resizeHRef", in, out, quad, p.k, tr)
					}
					restore()
					checked++
				}
			}
		}
	}
	t.Logf("%d plan × tier cases", checked)
}
