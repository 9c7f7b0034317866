package ops

import "testing"

// The unrolled gray-row helpers against the obvious loops, on every length
// up to a few blocks and on rows with one coloured pixel anywhere.
func TestGrayRows(t *testing.T) {
	r := NewRand(7, 0, 0, 0)
	for n := 0; n <= 40; n++ {
		in := make([]uint8, n)
		for i := range in {
			in[i] = uint8(r.Intn(256))
		}
		rgb := make([]uint8, 3*n)
		grayRowToRGB(rgb, in)
		for x, v := range in {
			if rgb[3*x] != v || rgb[3*x+1] != v || rgb[3*x+2] != v {
				t.Fatalf("n=%d: grayRowToRGB pixel %d = %v, want %d", n, x, rgb[3*x:3*x+3], v)
			}
		}
		back := make([]uint8, n)
		rgbRowTakeR(back, rgb)
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
