//go:build amd64 && !purego && !noasm

package imageio

import "github.com/pairflow/pairflow/internal/cpu"

// yccRow2AVX2 is yccRow2Ref over the first n pixels (n a multiple of 8,
// chroma from cb[0:n/2], cr[0:n/2]), eight pixels per step with the same
// exact 32-bit integer arithmetic:
//
//	yy = y*0x10101; b1 = cb-128; r1 = cr-128
//	R = clamp(yy + 91881*r1), G = clamp(yy - 22554*b1 - 46802*r1),
//	B = clamp(yy + 116130*b1), clamp(v) = min(max(v, 0), 0xffffff) >> 16
//
// It writes o[0 : 3n+4]: the last 4 bytes are scratch, to be overwritten.
//
//go:noescape
func yccRow2AVX2(o, y, cb, cr *uint8, n int)

func yccRow2(o, y, cb, cr []uint8) {
	// n leaves at least 2 pixels (6 bytes) after the vector part, room
	// for its 4 scratch bytes.
	n := (len(y) - 2) &^ 7
	if tier < cpu.AVX2 || n <= 0 {
		yccRow2Ref(o, y, cb, cr)
		return
	}
	_, _, _ = o[3*len(y)-1], cb[n/2-1], cr[n/2-1]
	yccRow2AVX2(&o[0], &y[0], &cb[0], &cr[0], n)
	yccRow2Ref(o[3*n:], y[n:], cb[n/2:], cr[n/2:])
}
