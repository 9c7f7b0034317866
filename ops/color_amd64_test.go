//go:build amd64 && !purego && !noasm

package ops

import (
	"math"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// TestHueFwdAllColours checks the first half of the AVX2 hue kernel (RGB to
// H, S, V as float32) bit for bit against cfHueFwd on every one of the 2^24
// RGB colours: the half that depends on the pixel only is verified
// exhaustively, the half that depends on the shift by TestHueAllColours.
func TestHueFwdAllColours(t *testing.T) {
	if testing.Short() {
		t.Skip("2^24 colours")
	}
	if !cpu.Supported(cpu.AVX2) {
		t.Skip("no AVX2")
	}
	const n = 1 << 16           // one (r, g) plane: every b for 256 g values
	src := make([]uint8, 3*n+8) // the kernel reads 8 bytes past the last pixel
	hsv := make([]float32, 3*n)
	for r := 0; r < 256; r++ {
		for i := 0; i < n; i++ {
			src[3*i], src[3*i+1], src[3*i+2] = uint8(r), uint8(i>>8), uint8(i)
		}
		cfHueFwdAVX2(&hsv[0], &src[0], n)
		for i := 0; i < n; i++ {
			blk, l := i/8*24, i%8
			h, s, v := cfHueFwd(src[3*i], src[3*i+1], src[3*i+2])
			gh, gs, gv := hsv[blk+l], hsv[blk+8+l], hsv[blk+16+l]
			if math.Float32bits(gh) != math.Float32bits(h) || math.Float32bits(gs) != math.Float32bits(s) ||
				math.Float32bits(gv) != math.Float32bits(v) {
				t.Fatalf("rgb %v: AVX2 hsv (%v, %v, %v), reference (%v, %v, %v)", src[3*i:3*i+3], gh, gs, gv, h, s, v)
			}
		}
	}
}
