//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

// The kernels these wrappers call (cfWidenAVX2, cfBlurHAVX2, cfBlurVAVX2,
// cfBlurV2<ISA>) are generated: ops/_generate/blur.go, declared in
// generated_amd64.go.

func cfWiden(dst []float32, src []uint8) {
	dst = dst[:len(src)]
	if tier >= cpu.AVX2 {
		if n := len(src) &^ 31; n > 0 {
			cfWidenAVX2(&dst[0], &src[0], n)
			dst, src = dst[n:], src[n:]
		}
	}
	cfWidenRef(dst, src)
}

func cfBlurH(dst, pad, w []float32, C int) {
	if tier >= cpu.AVX2 {
		if n := len(dst) &^ 7; n > 0 {
			_ = pad[n-1+(len(w)-1)*C] // the taps of the last block are in range
			cfBlurHAVX2(&dst[0], &pad[0], n, &w[0], len(w), 4*C)
			dst, pad = dst[n:], pad[n:]
		}
	}
	cfBlurHRef(dst, pad, w, C)
}

// cfBlurV is cfBlurVRef. The caller guarantees len(offs) >= len(w) and
// 0 <= offs[k] <= len(tmp)-len(dst) for every tap k (the assembly reads
// unchecked): cfBlurStrip's offsets are slot*n with slot in [0, K) and
// len(tmp) == K*n, so they are in range by construction (checking each
// offset per call showed up as several percent of the pass in profiles).
func cfBlurV(dst []uint8, tmp []float32, offs []int32, w []float32) {
	if tier >= cpu.AVX2 {
		if n := len(dst) &^ 7; n > 0 {
			_ = offs[len(w)-1]
			cfBlurVAVX2(&dst[0], &tmp[0], &offs[0], &w[0], len(w), n)
			// finish the tail with the reference on shifted views
			rest := dst[n:]
			if len(rest) > 0 {
				var sh [64]int32
				so := sh[:0]
				if len(w) > len(sh) {
					so = make([]int32, 0, len(w))
				}
				for _, o := range offs[:len(w)] {
					so = append(so, o+int32(n))
				}
				cfBlurVRef(rest, tmp, so, w)
			}
			return
		}
	}
	cfBlurVRef(dst, tmp, offs, w)
}

// cfBlurV2 is cfBlurV2Ref, with the same unchecked-offset contract as
// cfBlurV for offs[:len(w)+1].
func cfBlurV2(dst0, dst1 []uint8, tmp []float32, offs []int32, w []float32) {
	if tier >= cpu.AVX512 && len(dst0) >= 64 && len(w) >= 2 {
		_ = offs[len(w)]
		_ = dst1[len(dst0)-1]
		cfBlurV2AVX512(&dst0[0], &dst1[0], &tmp[0], &offs[0], &w[0], len(w), len(dst0))
		return
	}
	if tier >= cpu.AVX2 && len(dst0) >= 32 && len(w) >= 2 {
		_ = offs[len(w)]
		_ = dst1[len(dst0)-1]
		cfBlurV2AVX2(&dst0[0], &dst1[0], &tmp[0], &offs[0], &w[0], len(w), len(dst0))
		return
	}
	cfBlurV(dst0, tmp, offs, w)
	cfBlurV(dst1[:len(dst0)], tmp, offs[1:], w)
}
