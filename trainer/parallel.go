package trainer

import (
	"runtime"
	"sync/atomic"

	"github.com/sourcegraph/conc"
)

// parallelFor calls fn on the chunks [lo, hi) of [0, n), each at most grain
// long, on up to GOMAXPROCS goroutines. The chunking depends only on n and
// grain, never on the number of threads, and each chunk must write disjoint
// outputs: results are then identical whatever the thread count.
func parallelFor(n, grain int, fn func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	chunks := (n + grain - 1) / grain
	workers := runtime.GOMAXPROCS(0)
	if workers > chunks {
		workers = chunks
	}
	if workers <= 1 {
		for lo := 0; lo < n; lo += grain {
			fn(lo, min(lo+grain, n))
		}
		return
	}
	var next atomic.Int64
	var wg conc.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo := c * grain
				fn(lo, min(lo+grain, n))
			}
		})
	}
	wg.Wait()
}

// grainFor picks a chunk length so that each chunk does about work
// operations given the per-item cost (a function of the shape only).
func grainFor(perItem int) int {
	const work = 1 << 16
	if perItem <= 0 {
		return 1 << 20
	}
	g := work / perItem
	if g < 1 {
		g = 1
	}
	return g
}
