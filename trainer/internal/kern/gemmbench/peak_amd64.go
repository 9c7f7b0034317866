//go:build amd64 && !purego && !noasm

package main

import "github.com/pairflow/pairflow/internal/cpu"

// fmaLoop runs n iterations of twelve independent ymm FMAs (192 FLOP each);
// fmaLoop512 twelve zmm FMAs (384 FLOP each). Both are in peak_amd64.s.
func fmaLoop(n int)
func fmaLoop512(n int)

// peakLoop returns the FMA loop of width tier t (AVX2 or AVX-512) and its
// FLOP per iteration, or nil when the CPU lacks it.
func peakLoop(t cpu.Tier) (func(int), float64) {
	switch {
	case t >= cpu.AVX512 && cpu.Supported(cpu.AVX512):
		return fmaLoop512, 384
	case t >= cpu.AVX2 && cpu.Supported(cpu.AVX2):
		return fmaLoop, 192
	}
	return nil, 0
}
