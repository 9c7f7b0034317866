//go:build unix

package ops

import "syscall"

// geoCPUSeconds is the process's user+system CPU time. Benchmarks divide
// work by it as well as by wall time: on a shared, loaded machine the wall
// rate understates what one core does.
func geoCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
