//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

// cfSobelRowAVX2 is generated: ops/_generate/sobel.go, declared in
// generated_amd64.go.

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
