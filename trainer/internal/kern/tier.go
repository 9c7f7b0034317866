package kern

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"github.com/pairflow/pairflow/internal/cpu"
)

// topTier is the highest tier this package has kernels for.
const topTier = cpu.AVX512

// tier is the SIMD tier the kernels use (the dispatch convention of package
// cpu): cpu.Best capped at topTier. It is changed only by SetTier and by
// tests (cputest.ForEachTier).
var tier = cpu.Best.Cap(topTier)

// Tier reports the SIMD tier the kernels currently use.
func Tier() cpu.Tier { return tier }

// TopTier is the highest tier this package implements; a CPU with more runs
// this one.
func TopTier() cpu.Tier { return topTier }

// TierVar is the variable the kernels dispatch on, for tests of packages
// built on kern (cputest.ForEachTier(t, kern.TierVar(), kern.TopTier(), f)).
// Nothing else may write it.
func TierVar() *cpu.Tier { return &tier }

// SetTier makes the kernels use tier t (capped at TopTier) and returns the
// previous tier. It fails with ErrTier when t cannot run in this process
// (see cpu.Supported). SetTier is meant for tests and benchmarks: it must
// not be called while kernels are running.
func SetTier(t cpu.Tier) (cpu.Tier, error) {
	if !cpu.Supported(t) {
		return tier, fmt.Errorf("kern: tier %v: %w", t, ErrTier)
	}
	prev := tier
	tier = t.Cap(topTier)
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
