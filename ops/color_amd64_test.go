//go:build amd64 && !purego && !noasm

package ops

import (
	"math"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
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
