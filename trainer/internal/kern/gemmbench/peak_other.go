//go:build !amd64 || purego || noasm

package main

import "github.com/pairflow/pairflow/internal/cpu"

func peakLoop(cpu.Tier) (func(int), float64) { return nil, 0 }
