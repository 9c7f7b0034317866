//go:build amd64 && !purego && !noasm

package main

import "github.com/pairflow/pairflow/internal/cpu"

// fmaLoop runs n iterations of twelve independent ymm FMAs (192 FLOP each);
// it is in peak_amd64.s.
func fmaLoop(n int)

const flopPerIter = 192

func fmaAvailable() bool { return cpu.Supported(cpu.AVX2) }
