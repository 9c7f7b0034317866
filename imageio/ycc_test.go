package imageio

import (
	"bytes"
	"fmt"
	"image/color"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// forTiers runs f once per SIMD tier this process supports.
func forTiers(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := tier
	defer func() { tier = saved }()
	for _, tr := range cpu.Tiers() {
		tier = tr
		t.Run(tr.String(), f)
	}
}

// TestYCCRow2Exhaustive converts every (Y, Cb, Cr) triple through
// yccRow2 on every tier and compares with color.YCbCrToRGB.
func TestYCCRow2Exhaustive(t *testing.T) {
	forTiers(t, func(t *testing.T) {
		y := make([]uint8, 256)
		for i := range y {
			y[i] = uint8(i)
		}
		cb := make([]uint8, 128)
		cr := make([]uint8, 128)
		o := make([]uint8, 3*256)
		for b := range 256 {
			for r := range 256 {
				for i := range cb {
					cb[i], cr[i] = uint8(b), uint8(r)
				}
				yccRow2(o, y, cb, cr)
				for i, v := range y {
					wr, wg, wb := color.YCbCrToRGB(v, uint8(b), uint8(r))
					if o[3*i] != wr || o[3*i+1] != wg || o[3*i+2] != wb {
						t.Fatalf("Y=%d Cb=%d Cr=%d: got %v, want %d,%d,%d", v, b, r, o[3*i:3*i+3], wr, wg, wb)
					}
				}
			}
		}
	})
}

// TestYCCRow2Lengths checks every tier against the reference for row
// lengths 0..80, unaligned slices, and bytes written outside the row.
func TestYCCRow2Lengths(t *testing.T) {
	forTiers(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		const guard = 37
		for w := range 81 {
			for _, off := range []int{0, 1, 5} {
				t.Run(fmt.Sprint(w, "/", off), func(t *testing.T) {
					n := (w + 1) / 2
					y := make([]uint8, off+w)[off:]
					cb := make([]uint8, off+n)[off:]
					cr := make([]uint8, off+n)[off:]
					fill(rng, y)
					fill(rng, cb)
					fill(rng, cr)
					want := make([]uint8, 3*w)
					yccRow2Ref(want, y, cb, cr)
					buf := bytes.Repeat([]uint8{0xa5}, off+3*w+guard)
					yccRow2(buf[off:off+3*w:off+3*w], y, cb, cr)
					if !bytes.Equal(buf[off:off+3*w], want) {
						t.Fatalf("differs from reference:\n got %v\nwant %v", buf[off:off+3*w], want)
					}
					for i, v := range buf[off+3*w:] {
						if v != 0xa5 {
							t.Fatalf("wrote guard byte %d after the row", i)
						}
					}
					for i, v := range buf[:off] {
						if v != 0xa5 {
							t.Fatalf("wrote guard byte %d before the row", i)
						}
					}
				})
			}
		}
	})
}
