//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

// cfNoiseAddAVX2 is generated: ops/_generate/noise.go, declared in
// generated_amd64.go.

func cfNoiseAdd(dst, src []uint8, noise []float32) {
	dst = dst[:len(src)]
	noise = noise[:len(src)]
	if tier >= cpu.AVX2 {
		if n := len(src) &^ 31; n > 0 {
			cfNoiseAddAVX2(&dst[0], &src[0], &noise[0], n)
			dst, src, noise = dst[n:], src[n:], noise[n:]
		}
	}
	cfNoiseAddRef(dst, src, noise)
}
