package ops

import "github.com/pairflow/pairflow/internal/cpu"

// topTier is the highest tier this package has kernels for.
const topTier = cpu.AVX512

// tier is the SIMD tier every kernel in this package dispatches on (the
// dispatch convention of package cpu): cpu.Best capped at topTier. Tests
// switch it with setTier or cputest.ForEachTier(t, &tier, topTier, f).
var tier = cpu.Best.Cap(topTier)

// Tier reports the SIMD tier the operators run on in this process.
func Tier() cpu.Tier { return tier }

// setTier forces t for the duration of a test and returns the restore func.
// Tests must not run in parallel with a forced tier.
func setTier(t cpu.Tier) (restore func()) {
	if !cpu.Supported(t) {
		panic("ops: tier " + t.String() + " not supported here")
	}
	old := tier
	tier = t.Cap(topTier)
	return func() { tier = old }
}
