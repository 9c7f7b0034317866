//go:build !amd64 || purego || noasm

package ops

// grayRowToRGB writes out[3x], out[3x+1], out[3x+2] = in[x] for every x;
// out must hold 3*len(in) bytes.
func grayRowToRGB(out, in []uint8) { grayRowToRGBGo(out, in) }

// rgbRowTakeR writes out[x] = row[3x] for every x of out; row must hold
// 3*len(out) bytes.
func rgbRowTakeR(out, row []uint8) { rgbRowTakeRGo(out, row) }
