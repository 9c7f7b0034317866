package ops

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// TestConvertTiersAgree converts a size sweep of unaligned sub-images into
// guard-banded destinations on every tier and demands identical float bits,
// equal to the formula (float32(v)/255 − mean)/std.
func TestConvertTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	const guard = 5
	for _, c := range []int{1, 3} {
		mean, std := []float32{0.485, 0.456, 0.406}[:c], []float32{0.229, 0.224, 0.225}[:c]
		for _, norm := range []bool{false, true} {
			for _, sz := range geoSizes {
				_, src := geoGuarded(sz[0], sz[1], c, 1)
				for y := 0; y < src.H; y++ {
					for i := range src.Row(y) {
						src.Row(y)[i] = uint8(rng.IntN(256))
					}
				}
				if rng.IntN(2) == 0 { // tight images take the one-long-row path
					tight := NewImage(src.W, src.H, c)
					copyImage(tight, src)
					src = tight
				}
				n := sz[0] * sz[1] * c
				var ref []float32
				for _, tr := range cpu.Tiers() {
					restore := setTier(tr)
					buf := make([]float32, n+2*guard)
					for i := range buf {
						buf[i] = -7
					}
					var err error
					if norm {
						err = ToFloat32CHW(buf[guard:guard+n], src, mean, std)
					} else {
						err = ToFloat32CHW(buf[guard:guard+n], src, nil, nil)
					}
					restore()
					if err != nil {
						t.Fatal(err)
					}
					for i := 0; i < guard; i++ {
						if buf[i] != -7 || buf[guard+n+i] != -7 {
							t.Fatalf("%v: guard overwritten", tr)
						}
					}
					got := buf[guard : guard+n]
					if ref == nil {
						ref = got
						plane := sz[0] * sz[1]
						for y := 0; y < src.H; y++ {
							for x := 0; x < src.W; x++ {
								for ch := 0; ch < c; ch++ {
									v := src.Row(y)[x*c+ch]
									want := float32(v) / 255
									if norm {
										want = (want - mean[ch]) / std[ch]
									}
									if g := got[ch*plane+y*src.W+x]; math.Float32bits(g) != math.Float32bits(want) {
										t.Fatalf("c=%d %v (%d,%d,%d): %v want %v", c, sz, x, y, ch, g, want)
									}
								}
							}
						}
						continue
					}
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(ref[i]) {
							t.Fatalf("c=%d norm=%v %v: tier %v differs at %d: %v vs %v", c, norm, sz, tr, i, got[i], ref[i])
						}
					}
				}
			}
		}
	}
}

func TestConvertErrors(t *testing.T) {
	m := NewImage(4, 3, 3)
	if err := ToFloat32CHW(make([]float32, 35), m, nil, nil); !errors.Is(err, ErrOutput) {
		t.Fatalf("short dst: %v", err)
	}
	if err := ToFloat32CHW(make([]float32, 36), m, []float32{1}, []float32{1}); !errors.Is(err, ErrOutput) {
		t.Fatalf("mean of wrong length: %v", err)
	}
	if err := ToUint8HWC(make([]uint8, 37), m); !errors.Is(err, ErrOutput) {
		t.Fatalf("long dst: %v", err)
	}
	sub := m.Sub(1, 1, 2, 2)
	sub.Pix[0] = 9
	out := make([]uint8, 12)
	if err := ToUint8HWC(out, &sub); err != nil || out[0] != 9 {
		t.Fatalf("uint8 sub-image: %v %v", err, out)
	}
}

// TestConvertAllBytes runs every byte value through every channel on every
// tier, plain and normalised: the AVX2 paths divide by 255 with
// multiplications and FMAs, which match the division only because it is
// checked here for all 256 inputs. The image is 256x2 so that all of the
// first row's values go through the plain bulk kernel (which leaves a tight
// image's last block to the general one).
func TestConvertAllBytes(t *testing.T) {
	mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
	for _, c := range []int{1, 3} {
		m := NewImage(256, 2, c)
		for y := 0; y < 2; y++ {
			for x := 0; x < 256; x++ {
				for ch := 0; ch < c; ch++ {
					// a permutation of 0..255 per channel and row
					m.Pix[y*m.Stride+x*c+ch] = uint8(x*(2*ch+1) + 17*ch + 101*y)
				}
			}
		}
		plane := 2 * 256
		for _, norm := range []bool{false, true} {
			for _, tr := range cpu.Tiers() {
				got := make([]float32, plane*c)
				restore := setTier(tr)
				var err error
				if norm {
					err = ToFloat32CHW(got, m, mean[:c], std[:c])
				} else {
					err = ToFloat32CHW(got, m, nil, nil)
				}
				restore()
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < plane; i++ {
					for ch := 0; ch < c; ch++ {
						v := m.Pix[i*c+ch]
						want := float32(v) / 255
						if norm {
							want = (want - mean[ch]) / std[ch]
						}
						if g := got[ch*plane+i]; math.Float32bits(g) != math.Float32bits(want) {
							t.Fatalf("%v c=%d norm=%v pixel %d byte %d: %v want %v", tr, c, norm, i, v, g, want)
						}
					}
				}
			}
		}
	}
}
