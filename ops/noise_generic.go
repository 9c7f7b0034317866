//go:build !amd64 || purego || noasm

package ops

func cfNoiseAdd(dst, src []uint8, noise []float32) { cfNoiseAddRef(dst, src, noise) }
