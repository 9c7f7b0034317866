//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

// cfSobelRowAVX2 is cfSobelRowRef over n outputs, n a multiple of 16; it
// reads n+2 samples of a, b and c.
//
//go:noescape
func cfSobelRowAVX2(dst, a, b, c *uint8, n int)

func cfSobelRow(dst, a, b, c []uint8) {
	if tier >= cpu.AVX2 {
		if n := len(dst) &^ 15; n > 0 {
			_, _, _ = a[len(dst)+1], b[len(dst)+1], c[len(dst)+1]
			cfSobelRowAVX2(&dst[0], &a[0], &b[0], &c[0], n)
			dst, a, b, c = dst[n:], a[n:], b[n:], c[n:]
		}
	}
	cfSobelRowRef(dst, a, b, c)
}
