//go:build amd64 && !purego && !noasm

package ops

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/internal/cpu/cputest"
)

// TestHueFwdAllColours checks the first half of the SIMD hue kernels (RGB
// to H, S, V as float32) of every tier the CPU has bit for bit against
// cfHueFwd on every one of the 2^24 RGB colours: the half that depends on
// the pixel only is verified exhaustively, the half that depends on the
// shift by TestHueAllColours. (The AVX-512 kernel's divisions by 255 and 6
// are multiplications and an FMA, DIVEXACT2, which this test proves exact
// for every input they can see.)
func TestHueFwdAllColours(t *testing.T) {
	if testing.Short() {
		t.Skip("2^24 colours")
	}
	kernels := []struct {
		tier  cpu.Tier
		lanes int
		fwd   func(hsv *float32, src *uint8, n int)
	}{{cpu.AVX2, 8, cfHueFwdAVX2}, {cpu.AVX512, 16, cfHueFwdAVX512}}
	for _, k := range kernels {
		if !cpu.Supported(k.tier) {
			t.Logf("%v: not supported here, skipped", k.tier)
			continue
		}
		t.Run(k.tier.String(), func(t *testing.T) {
			const n = 1 << 16           // one (r, g) plane: every b for 256 g values
			src := make([]uint8, 3*n+8) // the AVX2 kernel reads 8 bytes past the last pixel
			hsv := make([]float32, 3*n)
			for r := 0; r < 256; r++ {
				for i := 0; i < n; i++ {
					src[3*i], src[3*i+1], src[3*i+2] = uint8(r), uint8(i>>8), uint8(i)
				}
				k.fwd(&hsv[0], &src[0], n)
				for i := 0; i < n; i++ {
					blk, l := i/k.lanes*3*k.lanes, i%k.lanes
					h, s, v := cfHueFwd(src[3*i], src[3*i+1], src[3*i+2])
					gh, gs, gv := hsv[blk+l], hsv[blk+k.lanes+l], hsv[blk+2*k.lanes+l]
					if math.Float32bits(gh) != math.Float32bits(h) || math.Float32bits(gs) != math.Float32bits(s) ||
						math.Float32bits(gv) != math.Float32bits(v) {
						t.Fatalf("rgb %v: %v hsv (%v, %v, %v), reference (%v, %v, %v)", src[3*i:3*i+3], k.tier, gh, gs, gv, h, s, v)
					}
				}
			}
		})
	}
}

// TestGeneratedColorKernelsTails drives the generated kernels through their
// wrappers on every tier the CPU has, for every length from 0 to 70 pixels
// (200 bytes for the byte kernels: the AVX-512 ones mask their last block,
// the AVX2 ones leave it to the reference), at offsets 0 to 3 inside a
// buffer whose guard bands before and after must stay intact, in place and
// out of place. The output must be the reference's byte for byte.
func TestGeneratedColorKernelsTails(t *testing.T) {
	const guard = 80
	rng := rand.New(rand.NewPCG(11, 12))
	ops := []struct {
		name   string
		unit   int // bytes per element
		maxLen int // elements
		ref    func(dst, src []uint8)
		run    func(dst, src []uint8)
	}{
		{"saturate", 3, 70, func(d, s []uint8) { cfSaturateRef(d, s, 1.37, -30) }, func(d, s []uint8) { cfSaturate(d, s, 1.37, -30) }},
		{"hue", 3, 70, func(d, s []uint8) { cfHueRef(d, s, -0.21) }, func(d, s []uint8) { cfHue(d, s, -0.21) }},
		{"affine", 1, 200, func(d, s []uint8) { cfAffineRef(d, s, 0.7, 41.3) }, func(d, s []uint8) { cfAffine(d, s, 0.7, 41.3) }},
		{"scale", 1, 200, func(d, s []uint8) { cfAffineRef(d, s, 1.9, 0) }, func(d, s []uint8) { cfAffine(d, s, 1.9, 0) }},
	}
	cputest.ForEachTier(t, &tier, topTier, func(t *testing.T) {
		tr := tier
		for _, op := range ops {
			for n := 0; n <= op.maxLen; n++ {
				for off := 0; off < 4; off++ {
					nb := n * op.unit
					src := make([]uint8, guard+off+nb+guard)
					for i := range src {
						src[i] = uint8(rng.IntN(256))
					}
					want := make([]uint8, nb)
					op.ref(want, src[guard+off:guard+off+nb])
					for _, inPlace := range []bool{false, true} {
						buf := bytes.Clone(src)
						in := buf[guard+off : guard+off+nb]
						dst := in
						if !inPlace {
							dst = make([]uint8, guard+off+nb+guard)
							copy(dst, src)
							dst = dst[guard+off : guard+off+nb]
						}
						op.run(dst, in)
						if !bytes.Equal(dst, want) {
							t.Fatalf("%s tier %v n %d offset %d in place %v: differs from the reference", op.name, tr, n, off, inPlace)
						}
						full := dst[:cap(dst)]
						if inPlace {
							full = buf[guard+off:]
						}
						if !bytes.Equal(full[nb:nb+guard], src[guard+off+nb:guard+off+nb+guard]) {
							t.Fatalf("%s tier %v n %d offset %d: wrote past the end", op.name, tr, n, off)
						}
						if inPlace && !bytes.Equal(buf[:guard+off], src[:guard+off]) {
							t.Fatalf("%s tier %v n %d offset %d: wrote before the start", op.name, tr, n, off)
						}
					}
				}
			}
		}
	})
}

// TestGeneratedGraySumTails is TestGeneratedColorKernelsTails for the gray
// and sum kernels: gray with one and three output channels (three also in
// place), the luma sum and the byte sum, every length from 0 to 70 pixels
// (200 bytes), offsets 0 to 3, guard bands after the output.
func TestGeneratedGraySumTails(t *testing.T) {
	const guard = 80
	rng := rand.New(rand.NewPCG(13, 14))
	cputest.ForEachTier(t, &tier, topTier, func(t *testing.T) {
		for n := 0; n <= 70; n++ {
			for off := 0; off < 4; off++ {
				src := make([]uint8, off+3*n+guard)
				for i := range src {
					src[i] = uint8(rng.IntN(256))
				}
				in := src[off : off+3*n]
				for _, outC := range []int{1, 3} {
					want := make([]uint8, outC*n)
					cfGrayRef(want, in, outC)
					buf := make([]uint8, off+outC*n+guard)
					for i := range buf {
						buf[i] = 0x5A
					}
					cfGray(buf[off:off+outC*n], in, outC)
					if !bytes.Equal(buf[off:off+outC*n], want) {
						t.Fatalf("gray%d n %d offset %d: differs from the reference", outC, n, off)
					}
					for i, v := range buf[off+outC*n:] {
						if v != 0x5A || (i < off && buf[i] != 0x5A) {
							t.Fatalf("gray%d n %d offset %d: wrote outside the output", outC, n, off)
						}
					}
				}
				inPlace := bytes.Clone(src)
				want := make([]uint8, 3*n)
				cfGrayRef(want, in, 3)
				cfGray(inPlace[off:off+3*n], inPlace[off:off+3*n], 3)
				if !bytes.Equal(inPlace[off:off+3*n], want) || !bytes.Equal(inPlace[off+3*n:], src[off+3*n:]) {
					t.Fatalf("gray3 in place n %d offset %d: wrong output or wrote past it", n, off)
				}
				if got, w := cfLumaSum(in), cfLumaSumRef(in); got != w {
					t.Fatalf("luma sum n %d offset %d: %d, want %d", n, off, got, w)
				}
				for _, m := range []int{n, 3 * n} {
					if got, w := cfSumU8(src[off:off+m]), cfSumU8Ref(src[off:off+m]); got != w {
						t.Fatalf("byte sum of %d bytes offset %d: %d, want %d", m, off, got, w)
					}
				}
			}
		}
	})
}

// TestGeneratedConvertTails runs the conversion kernels (through
// convertRow3/convertRow1 and the reference for what they leave) on every
// tier for every row length from 0 to 70 pixels, plain and with random
// means and stds, the row cut to its own length (cap included, so the AVX2
// kernels cannot take the last block) and not, into float planes with guard
// bands before and after: the output must be the reference's bit for bit
// and the guards intact.
func TestGeneratedConvertTails(t *testing.T) {
	const guard = 20
	const sentinel = -7.5
	rng := rand.New(rand.NewPCG(15, 16))
	cputest.ForEachTier(t, &tier, topTier, func(t *testing.T) {
		for _, c := range []int{1, 3} {
			for n := 0; n <= 70; n++ {
				for _, norm := range []bool{false, true} {
					ms := [6]float32{0, 0, 0, 1, 1, 1}
					if norm {
						for i := range ms {
							ms[i] = float32(rng.Float64()*1.2 - 0.1)
						}
					}
					src := make([]uint8, c*n+16)
					for i := range src {
						src[i] = uint8(rng.IntN(256))
					}
					for _, tight := range []bool{false, true} {
						row := src[:c*n]
						if tight {
							row = src[: c*n : c*n]
						}
						want := make([][]float32, c)
						got := make([][]float32, c)
						bufs := make([][]float32, c)
						for ch := range c {
							want[ch] = make([]float32, n)
							bufs[ch] = make([]float32, guard+n+guard)
							for i := range bufs[ch] {
								bufs[ch][i] = sentinel
							}
							got[ch] = bufs[ch][guard : guard+n]
						}
						if c == 3 {
							convertRow3Ref(want[0], want[1], want[2], row, &ms, 0)
							done := convertRow3(got[0], got[1], got[2], row, &ms)
							convertRow3Ref(got[0], got[1], got[2], row, &ms, done)
						} else {
							convertRow1Ref(want[0], row, &ms, 0)
							convertRow1Ref(got[0], row, &ms, convertRow1(got[0], row, &ms))
						}
						for ch := range c {
							for i := range n {
								if math.Float32bits(got[ch][i]) != math.Float32bits(want[ch][i]) {
									t.Fatalf("c %d n %d norm %v tight %v: channel %d pixel %d: %v, reference %v", c, n, norm, tight, ch, i, got[ch][i], want[ch][i])
								}
							}
							for i := range guard {
								if bufs[ch][i] != sentinel || bufs[ch][guard+n+i] != sentinel {
									t.Fatalf("c %d n %d norm %v tight %v: channel %d guard band written", c, n, norm, tight, ch)
								}
							}
						}
					}
				}
			}
		}
	})
}

// TestAffineLUT checks cfAffine on every tier, on the AVX-512 tier both with
// the VBMI table lookup and without it (haveVBMI off): every byte value
// under 200 random brightness and contrast factors (a in [0, 3), b in
// [-300, 300), b 0 for brightness), then lengths 0..300 around cfLUTMin at
// offsets 0..3, in place and not, with guard bands; the output must be
// cfAffineRef's.
func TestAffineLUT(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	saved := haveVBMI
	defer func() { haveVBMI = saved }()
	for _, vbmi := range []bool{false, true} {
		if vbmi && !saved {
			t.Log("no AVX-512 VBMI here: the table lookup is not covered")
			continue
		}
		haveVBMI = vbmi
		t.Run(fmt.Sprintf("vbmi=%v", vbmi), func(t *testing.T) { testAffineLUT(t, rng, vbmi) })
	}
}

func testAffineLUT(t *testing.T, rng *rand.Rand, vbmi bool) {
	const guard = 70
	cputest.ForEachTier(t, &tier, topTier, func(t *testing.T) {
		all := make([]uint8, 256*3)
		for i := range all {
			all[i] = uint8(i)
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		for r := 0; r < 200; r++ {
			a := float32(rng.Float64() * 3)
			b := float32(0)
			if r%2 == 1 {
				b = float32(rng.Float64()*600 - 300)
			}
			want := make([]uint8, len(all))
			cfAffineRef(want, all, a, b)
			got := make([]uint8, len(all))
			cfAffine(got, all, a, b)
			if !bytes.Equal(got, want) {
				t.Fatalf("vbmi %v a %v b %v: all bytes: differs from the reference", vbmi, a, b)
			}
		}
		for n := 0; n <= 300; n++ {
			for off := 0; off < 4; off++ {
				a, b := float32(rng.Float64()*2), float32(rng.Float64()*200-100)
				src := make([]uint8, guard+off+n+guard)
				for i := range src {
					src[i] = uint8(rng.IntN(256))
				}
				want := make([]uint8, n)
				cfAffineRef(want, src[guard+off:guard+off+n], a, b)
				for _, inPlace := range []bool{false, true} {
					buf := bytes.Clone(src)
					in := buf[guard+off : guard+off+n]
					out := in
					if !inPlace {
						out = make([]uint8, n+guard)[:n]
					}
					cfAffine(out, in, a, b)
					if !bytes.Equal(out, want) {
						t.Fatalf("vbmi %v n %d off %d in place %v: differs from the reference", vbmi, n, off, inPlace)
					}
					if inPlace && (!bytes.Equal(buf[:guard+off], src[:guard+off]) || !bytes.Equal(buf[guard+off+n:], src[guard+off+n:])) {
						t.Fatalf("vbmi %v n %d off %d: wrote outside the bytes", vbmi, n, off)
					}
					if !inPlace && !bytes.Equal(out[n:n+guard], make([]uint8, guard)) {
						t.Fatalf("vbmi %v n %d off %d: wrote past the end", vbmi, n, off)
					}
				}
			}
		}
	})
}

// TestResizeH3Q4Kernel checks the two-row RGB horizontal pass for plans
// with two and four taps (the AVX-512 VBMI+VNNI kernels, four outputs per
// step, and the AVX2 kernels they leave the last out%4 to) against
// resizeHRef, on every tier with VBMI and VNNI on and off: plain and
// mirrored plans for sizes in -> out with in/out in [1/2, 2], rows as
// long as the kernels' bound checks need and no longer, and an int16 guard
// after the one the AVX2 kernels may write.
func TestResizeH3Q4Kernel(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	saved, savedVNNI := haveVBMI, haveVNNI
	defer func() { haveVBMI, haveVNNI = saved, savedVNNI }()
	for _, vbmi := range []bool{false, true} {
		haveVBMI, haveVNNI = vbmi && saved, vbmi && savedVNNI
		t.Run(fmt.Sprintf("vbmi=%v", vbmi), func(t *testing.T) { testResizeH3Q4Kernel(t, rng, vbmi) })
	}
}

func testResizeH3Q4Kernel(t *testing.T, rng *rand.Rand, vbmi bool) {
	cputest.ForEachTier(t, &tier, topTier, func(t *testing.T) {
		seen := map[int]int{}
		for out := 1; out <= 70; out++ {
			for in := max(2, out/2); in <= 2*out; in += 1 + out/9 {
				for _, flip := range []bool{false, true} {
					p := buildResizePlan(in, out, true)
					if p.k != 2 && p.k != 4 {
						continue
					}
					if flip {
						p.mirror()
					}
					if p.q4 != nil {
						seen[p.k]++
					}
					nb := 3*in + 16 // what the AVX2 kernel's bound checks ask
					src0, src1 := make([]uint8, nb), make([]uint8, nb)
					for i := 0; i < 3*in; i++ {
						src0[i], src1[i] = uint8(rng.IntN(256)), uint8(rng.IntN(256))
					}
					want0, want1 := make([]int16, 3*out), make([]int16, 3*out)
					resizeHRef(want0, src0[:3*in], 3, p)
					resizeHRef(want1, src1[:3*in], 3, p)
					const g = -12345
					got0, got1 := make([]int16, 3*out+2), make([]int16, 3*out+2)
					got0[3*out+1], got1[3*out+1] = g, g
					if !resizeH3x2(got0, got1, src0, src1, p) {
						continue
					}
					for i := 0; i < 3*out; i++ {
						if got0[i] != want0[i] || got1[i] != want1[i] {
							t.Fatalf("vbmi %v %d->%d (k %d) flip %v: sample %d: %d,%d want %d,%d", vbmi, in, out, p.k, flip, i, got0[i], got1[i], want0[i], want1[i])
						}
					}
					if got0[3*out+1] != g || got1[3*out+1] != g {
						t.Fatalf("vbmi %v %d->%d flip %v: wrote past the output", vbmi, in, out, flip)
					}
				}
			}
		}
		if vbmi && tier >= cpu.AVX512 && (seen[2] == 0 || seen[4] == 0) {
			t.Fatalf("plans with a q4 table swept, by taps: %v", seen)
		}
	})
}

// resizeFeatureRuns lists the AVX-512 VNNI settings the resize kernel tests
// run under: off, and on where the CPU has it.
func resizeFeatureRuns() []featureRun {
	saved := haveVNNI
	set := func(on bool) func() (restore func()) {
		return func() func() {
			haveVNNI = on
			return func() { haveVNNI = saved }
		}
	}
	runs := []featureRun{{"vnni=false", set(false)}}
	if saved {
		runs = append(runs, featureRun{"vnni=true", set(true)})
	}
	return runs
}
