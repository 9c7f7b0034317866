package ops

import "github.com/pairflow/pairflow/internal/cpu"

// tier is the SIMD tier every kernel in this package dispatches on. It is
// chosen once at start-up; tests switch it with setTier to compare tiers.
var tier = cpu.Best

// Tier reports the SIMD tier the operators run on in this process.
func Tier() cpu.Tier { return tier }

// setTier forces t for the duration of a test and returns the restore func.
// Tests must not run in parallel with a forced tier.
func setTier(t cpu.Tier) (restore func()) {
	if !cpu.Supported(t) {
		panic("ops: tier " + t.String() + " not supported here")
	}
	old := tier
	tier = t
	return func() { tier = old }
}
