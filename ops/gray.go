package ops

import "encoding/binary"

// Plain-Go row helpers for gray-in-RGB images, unrolled eight pixels at a
// time so the compiler drops the per-sample bounds checks. They are exact
// copies of the obvious loops (TestGrayRows checks them against those).

// grayRowToRGBGo writes out[3x], out[3x+1], out[3x+2] = in[x] for every
// x; out must hold 3*len(in) bytes. It is grayRowToRGB's reference and tail
// (gray_amd64.go has the AVX2 bulk).
func grayRowToRGBGo(out, in []uint8) {
	out = out[:3*len(in)]
	x := 0
	for ; x+8 <= len(in); x += 8 {
		s := in[x : x+8 : x+8]
		o := out[3*x : 3*x+24 : 3*x+24]
		o[0], o[1], o[2] = s[0], s[0], s[0]
		o[3], o[4], o[5] = s[1], s[1], s[1]
		o[6], o[7], o[8] = s[2], s[2], s[2]
		o[9], o[10], o[11] = s[3], s[3], s[3]
		o[12], o[13], o[14] = s[4], s[4], s[4]
		o[15], o[16], o[17] = s[5], s[5], s[5]
		o[18], o[19], o[20] = s[6], s[6], s[6]
		o[21], o[22], o[23] = s[7], s[7], s[7]
	}
	for ; x < len(in); x++ {
		v := in[x]
		out[3*x], out[3*x+1], out[3*x+2] = v, v, v
	}
}

// rgbRowTakeRGo writes out[x] = row[3x] for every x of out; row must hold
// 3*len(out) bytes. It is rgbRowTakeR's reference and tail.
func rgbRowTakeRGo(out, row []uint8) {
	row = row[:3*len(out)]
	x := 0
	for ; x+8 <= len(out); x += 8 {
		s := row[3*x : 3*x+24 : 3*x+24]
		o := out[x : x+8 : x+8]
		o[0], o[1], o[2], o[3] = s[0], s[3], s[6], s[9]
		o[4], o[5], o[6], o[7] = s[12], s[15], s[18], s[21]
	}
	for ; x < len(out); x++ {
		out[x] = row[3*x]
	}
}

// gray3Mask selects, in each of the three 8-byte words of a 24-byte block
// of RGB samples starting at a pixel, the bytes b[j] with j%3 != 2: the
// block is gray exactly when b[j] == b[j+1] at those positions.
const (
	gray3Mask0 = 0xffff_00ff_ff00_ffff // bytes 2, 5 are blue
	gray3Mask1 = 0xff00_ffff_00ff_ff00 // bytes 0, 3, 6 (samples 8, 11, 14)
	gray3Mask2 = 0x00ff_ff00_ffff_00ff // bytes 1, 4, 7 (samples 17, 20, 23)
)

// rgbRowIsGray reports whether every pixel of the RGB row (3*n bytes) has
// R == G == B.
func rgbRowIsGray(row []uint8) bool {
	i := 0
	// Each block reads row[i+1 : i+25], so it needs one byte past the
	// block's 24.
	for ; i+25 <= len(row); i += 24 {
		b := row[i : i+25 : i+25]
		d0 := binary.LittleEndian.Uint64(b[0:]) ^ binary.LittleEndian.Uint64(b[1:])
		d1 := binary.LittleEndian.Uint64(b[8:]) ^ binary.LittleEndian.Uint64(b[9:])
		d2 := binary.LittleEndian.Uint64(b[16:]) ^ binary.LittleEndian.Uint64(b[17:])
		if d0&gray3Mask0|d1&gray3Mask1|d2&gray3Mask2 != 0 {
			return false
		}
	}
	for ; i+2 < len(row); i += 3 {
		if row[i] != row[i+1] || row[i] != row[i+2] {
			return false
		}
	}
	return true
}
