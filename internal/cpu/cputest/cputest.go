// Package cputest runs a test or benchmark once per SIMD tier: the one
// helper every kernel package's differential tests use (see the dispatch
// convention in package cpu).
package cputest

import (
	"strings"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// ForEachTier runs f as a subtest named after each tier this process can
// run (cpu.Tiers) up to top, the highest tier the package implements, with
// *tier set to it; it restores *tier afterwards and logs the tiers covered.
// Tiers above top are skipped: the package would run its top kernels again.
// Subtests must not run in parallel with each other or with code that reads
// *tier.
func ForEachTier(t *testing.T, tier *cpu.Tier, top cpu.Tier, f func(t *testing.T)) {
	t.Helper()
	saved := *tier
	defer func() { *tier = saved }()
	var ran []string
	for _, tr := range cpu.Tiers() {
		if tr > top {
			break
		}
		*tier = tr
		t.Run(tr.String(), f)
		ran = append(ran, tr.String())
	}
	t.Logf("tiers covered: %s (cpu %v)", strings.Join(ran, " "), cpu.Hardware())
}

// ForEachTierB is ForEachTier for benchmarks.
func ForEachTierB(b *testing.B, tier *cpu.Tier, top cpu.Tier, f func(b *testing.B)) {
	b.Helper()
	saved := *tier
	defer func() { *tier = saved }()
	for _, tr := range cpu.Tiers() {
		if tr > top {
			break
		}
		*tier = tr
		b.Run(tr.String(), f)
	}
}
