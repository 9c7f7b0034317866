//go:build !unix

package ops

func geoCPUSeconds() float64 { return 0 }
