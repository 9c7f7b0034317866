//go:build !amd64 || purego || noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

func reluSIMD(cpu.Tier, []float32, []float32) int                              { return 0 }
func reluGradSIMD(cpu.Tier, []float32, []float32, []float32) int               { return 0 }
func affineSIMD(cpu.Tier, []float32, []float32, float32, float32, float32) int { return 0 }
func affineReLUSIMD(cpu.Tier, []float32, []float32, float32, float32, float32) int {
	return 0
}
func addConstSIMD(cpu.Tier, []float32, float32) int { return 0 }
func addSIMD(cpu.Tier, []float32, []float32) int    { return 0 }
func bnBackSIMD(cpu.Tier, []float32, []float32, []float32, float32, float32, float32, float32) int {
	return 0
}
func sumSIMD(cpu.Tier, []float32) (float64, int)            { return 0, 0 }
func sqDevSIMD(cpu.Tier, []float32, float64) (float64, int) { return 0, 0 }
func dotDevSIMD(cpu.Tier, []float32, []float32, float64) (float64, float64, int) {
	return 0, 0, 0
}

func maxPool2RowSIMD(cpu.Tier, []float32, []uint8, []float32, []float32) int { return 0 }

func maxPool2AffineReLURowSIMD(cpu.Tier, []float32, []uint8, []float32, []float32, float32, float32, float32) int {
	return 0
}

func maxPool2BackRowSIMD(cpu.Tier, []float32, []float32, []float32, []float32, []uint8) int {
	return 0
}

func momentumSIMD(cpu.Tier, []float32, []float32, []float32, float32, float32, float32, float32) int {
	return 0
}
