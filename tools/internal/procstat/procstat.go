// Package procstat reads the memory figures the benchmark commands report
// from /proc/self/status (Linux).
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// KB returns the kB field named field ("VmHWM:", "RssAnon:", ...) of
// /proc/self/status, or 0 where the system does not report it.
func KB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0
			}
			return n
		}
	}
	return 0
}

// PeakRSSKB returns the process's peak resident set size in kB (VmHWM), or
// 0 where the system does not report it.
func PeakRSSKB() int64 { return KB("VmHWM:") }
