//go:build unix

package shards

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user+system CPU time. Benchmarks report
// throughput per CPU-second next to wall-clock throughput because the
// development machine is shared and wall-clock numbers there are noisy.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
