//go:build !unix

package main

// cpuSeconds is unavailable here: -clock cpu reports 0.
func cpuSeconds() float64 { return 0 }
