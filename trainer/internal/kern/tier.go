package kern

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/pairflow/pairflow/internal/cpu"
)

// tier is the SIMD tier the kernels use. It starts at cpu.Best (lowered to
// the highest tier this package implements) and is changed only by SetTier,
// which tests use to force each tier in turn.
var tier = implemented(cpu.Best)

// implemented maps a CPU tier to the highest tier this package has kernels
// for. There is no AVX-512 path yet: an AVX-512 CPU runs the AVX2 kernels.
func implemented(t cpu.Tier) cpu.Tier {
	if t > cpu.AVX2 {
		return cpu.AVX2
	}
	return t
}

// Tier reports the SIMD tier the kernels currently use.
func Tier() cpu.Tier { return tier }

// SetTier makes the kernels use tier t and returns the previous tier. It
// fails with ErrTier when t cannot run in this process (see cpu.Supported);
// a tier above what this package implements runs the highest one it does.
// SetTier is meant for tests and benchmarks: it must not be called while
// kernels are running.
func SetTier(t cpu.Tier) (cpu.Tier, error) {
	if !cpu.Supported(t) {
		return tier, fmt.Errorf("kern: tier %v: %w", t, ErrTier)
	}
	prev := tier
	tier = implemented(t)
	return prev, nil
}

var threads atomic.Int64

func init() { threads.Store(int64(runtime.GOMAXPROCS(0))) }

// Threads reports how many goroutines a kernel may run at once.
func Threads() int { return int(threads.Load()) }

// SetThreads bounds the goroutines a kernel may run at once (n < 1 means 1)
// and returns the previous bound. Results do not depend on it: every output
// element is reduced in an order fixed by the shape alone.
func SetThreads(n int) int {
	if n < 1 {
		n = 1
	}
	return int(threads.Swap(int64(n)))
}
