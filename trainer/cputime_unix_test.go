//go:build unix

package trainer

import "syscall"

// processCPU returns the user+system CPU time this process has used, in
// seconds (benchmarks report it per step: on a shared machine it moves less
// than wall time when other jobs take the cores).
func processCPU() (float64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime), true
}
