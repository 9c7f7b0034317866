//go:build amd64 && !purego && !noasm

package imageio

import "github.com/pairflow/pairflow/internal/cpu"

// yccRow2 converts a row with yccRow2AVX2 (generated; ycc_decl_amd64.go)
// where the tier allows, and finishes it with yccRow2Ref.
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
