package ops

import (
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// The gray-row helpers (unrolled Go, and the AVX2 bulk on amd64) against
// the obvious loops, on every tier, every length up to a few blocks, at an
// odd offset with guard bytes after the output, and on rows with one
// coloured pixel anywhere.
func TestGrayRows(t *testing.T) {
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		grayRowsOnce(t)
		restore()
	}
}

func grayRowsOnce(t *testing.T) {
	t.Helper()
	r := NewRand(7, 0, 0, 0)
	for n := 0; n <= 70; n++ {
		in := make([]uint8, n)
		for i := range in {
			in[i] = uint8(r.Intn(256))
		}
		buf := make([]uint8, 3*n+9)
		for i := range buf {
			buf[i] = 0xA5
		}
		rgb := buf[1 : 1+3*n]
		grayRowToRGB(rgb, in)
		for i, v := range buf[1+3*n:] {
			if v != 0xA5 {
				t.Fatalf("n=%d: grayRowToRGB wrote guard byte %d", n, i)
			}
		}
		for x, v := range in {
			if rgb[3*x] != v || rgb[3*x+1] != v || rgb[3*x+2] != v {
				t.Fatalf("n=%d: grayRowToRGB pixel %d = %v, want %d", n, x, rgb[3*x:3*x+3], v)
			}
		}
		bbuf := make([]uint8, n+9)
		back := bbuf[1 : 1+n]
		rgbRowTakeR(back, rgb)
		for i, v := range bbuf[1+n:] {
			if v != 0 {
				t.Fatalf("n=%d: rgbRowTakeR wrote guard byte %d", n, i)
			}
		}
		for x := range back {
			if back[x] != in[x] {
				t.Fatalf("n=%d: rgbRowTakeR[%d] = %d, want %d", n, x, back[x], in[x])
			}
		}
		if !rgbRowIsGray(rgb) {
			t.Fatalf("n=%d: gray row reported as colour", n)
		}
		for i := range rgb {
			saved := rgb[i]
			rgb[i] ^= 1 << (i % 8)
			if rgbRowIsGray(rgb) {
				t.Fatalf("n=%d: row with sample %d changed reported as gray", n, i)
			}
			rgb[i] = saved
		}
	}
}
