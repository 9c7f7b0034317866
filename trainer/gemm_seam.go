package trainer

import (
	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// sgemm is the float32 GEMM every float32 layer uses: the one place that
// chooses the kernel (trainer/internal/kern's SIMD SGEMM, whose tier follows
// cpu.Best unless a test forces one).
func sgemm(tA, tB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	kern.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// KernelTier is the SIMD tier the float32 layers' matrix products run on.
func KernelTier() cpu.Tier { return kern.Tier() }
