//go:build !unix

package trainer

func processCPU() (float64, bool) { return 0, false }
