//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

// grayExpandAVX2 and rgbTakeRAVX2 are generated: ops/_generate/grayrow.go,
// declared in generated_amd64.go.

// grayRowToRGB writes out[3x], out[3x+1], out[3x+2] = in[x] for every x;
// out must hold 3*len(in) bytes.
func grayRowToRGB(out, in []uint8) {
	out = out[:3*len(in)]
	if tier >= cpu.AVX2 {
		if n := len(in) &^ 15; n > 0 {
			grayExpandAVX2(&out[0], &in[0], n)
			out, in = out[3*n:], in[n:]
		}
	}
	grayRowToRGBGo(out, in)
}

// rgbRowTakeR writes out[x] = row[3x] for every x of out; row must hold
// 3*len(out) bytes.
func rgbRowTakeR(out, row []uint8) {
	row = row[:3*len(out)]
	if tier >= cpu.AVX2 {
		if n := len(out) &^ 15; n > 0 {
			rgbTakeRAVX2(&out[0], &row[0], n)
			out, row = out[n:], row[3*n:]
		}
	}
	rgbRowTakeRGo(out, row)
}
