//go:build !unix

package main

// cpuSeconds is unavailable here; -clock cpu is refused.
func cpuSeconds() float64 { return 0 }
