//go:build amd64 && !purego && !noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

// sgemmKernel6x16AVX2 is the AVX2/FMA register-tile kernel; its reference is
// microKernelGo (same arguments, strides in elements, load as 0 or 1). It
// keeps the 6×16 accumulator tile in twelve ymm registers, computes each
// element as a chain of fused multiply-adds over p = 0..kc-1 and stores
// c = fma(beta, c, alpha·acc) (alpha·acc alone when load is 0). Edge tiles
// (h < 6 or w < 16) use masked loads and stores whose first lane is always
// inside c, so no byte outside the h×w part of c is written. kc must be ≥ 1.
//
//go:noescape
func sgemmKernel6x16AVX2(kc int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc, h, w int, alpha, beta float32, load int)

func microKernel(t cpu.Tier, kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
	if t >= cpu.AVX2 {
		l := 0
		if load {
			l = 1
		}
		sgemmKernel6x16AVX2(kc, &a[0], aRow, aStep, &b[0], bStep, &c[0], ldc, h, w, alpha, beta, l)
		return
	}
	microKernelGo(kc, a, aRow, aStep, b, bStep, c, ldc, h, w, alpha, beta, load)
}

// packA6AVX2 packs six rows of untransposed A, kc8 columns (a positive
// multiple of 8), as packABlock's six-row loop does, and writes two floats
// past dst[6·kc8−1]. Reference: packABlock.
//
//go:noescape
func packA6AVX2(kc8 int, a *float32, lda int, dst *float32)

// packB16AVX2 copies 16 floats from each of kc ≥ 1 rows of untransposed B
// into a contiguous panel. Reference: packBBlock.
//
//go:noescape
func packB16AVX2(kc int, b *float32, ldb int, dst *float32)

// packA6 packs as many columns of a full six-row panel as the SIMD path
// handles (a multiple of 8) and returns how many; the caller packs the rest
// and must leave two floats of room after dst[6·returned−1].
func packA6(t cpu.Tier, kc int, a []float32, lda int, dst []float32) int {
	kc8 := kc &^ 7
	if t < cpu.AVX2 || kc8 == 0 {
		return 0
	}
	_ = a[5*lda+kc8-1]  // bounds: six rows of kc8 columns
	_ = dst[mr*kc8+2-1] // bounds: the packed columns and the two-float spill
	packA6AVX2(kc8, &a[0], lda, &dst[0])
	return kc8
}

// packB16 packs a full 16-column panel of kc rows; it reports false when
// the caller must do it.
func packB16(t cpu.Tier, kc int, b []float32, ldb int, dst []float32) bool {
	if t < cpu.AVX2 || kc == 0 {
		return false
	}
	_ = b[(kc-1)*ldb+nr-1]
	_ = dst[kc*nr-1]
	packB16AVX2(kc, &b[0], ldb, &dst[0])
	return true
}

// packB16TAVX2 packs p < kc8 (a positive multiple of 8) of a full 16-column
// panel of a transposed B. Reference: packBBlock.
//
//go:noescape
func packB16TAVX2(kc8 int, b *float32, ldb int, dst *float32)

// packB16T packs the first multiple of 8 rows of a full 16-column panel of
// a transposed B and returns how many; the caller packs the rest.
func packB16T(t cpu.Tier, kc int, b []float32, ldb int, dst []float32) int {
	kc8 := kc &^ 7
	if t < cpu.AVX2 || kc8 == 0 {
		return 0
	}
	_ = b[15*ldb+kc8-1]
	_ = dst[kc8*nr-1]
	packB16TAVX2(kc8, &b[0], ldb, &dst[0])
	return kc8
}
