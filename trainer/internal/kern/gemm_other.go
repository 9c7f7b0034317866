//go:build !amd64 || purego || noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

func microKernel(_ cpu.Tier, kc int, a []float32, aRow, aStep int, b []float32, bStep int, c []float32, ldc, h, w int, alpha, beta float32, load bool) {
	microKernelGo(kc, a, aRow, aStep, b, bStep, c, ldc, h, w, alpha, beta, load)
}

func packA6(cpu.Tier, int, []float32, int, []float32) int { return 0 }

func packB16(cpu.Tier, int, []float32, int, []float32) bool { return false }

func packB16T(cpu.Tier, int, []float32, int, []float32) int { return 0 }
