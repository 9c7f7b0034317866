//go:build !amd64 || purego || noasm

package ops

func cfBlurH(dst, pad, w []float32, C int) { cfBlurHRef(dst, pad, w, C) }

func cfBlurV(dst []uint8, tmp []float32, offs []int32, w []float32) { cfBlurVRef(dst, tmp, offs, w) }

func cfWiden(dst []float32, src []uint8) { cfWidenRef(dst, src) }

func cfBlurV2(dst0, dst1 []uint8, tmp []float32, offs []int32, w []float32) {
	cfBlurV2Ref(dst0, dst1, tmp, offs, w)
}
