package kern

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/internal/cpu/cputest"
)

// eps32 is the float32 unit roundoff, 2^-24.
const eps32 = 1.0 / (1 << 24)

// sentinel fills guard bands; any kernel write to one is detected, and a
// kernel that reads one into a result turns it into NaN.
var sentinel = float32(math.NaN())

func isSentinel(v float32) bool { return math.Float32bits(v) == math.Float32bits(sentinel) }

// forEachTier runs f with the kernels forced to each tier this process can
// run (up to topTier) and logs the tiers covered.
func forEachTier(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	cputest.ForEachTier(t, &tier, topTier, f)
}

// simdTiers returns the SIMD tiers this process can run (up to topTier),
// for tests that demand identical bits across them; it skips t when there
// are fewer than two.
func simdTiers(t *testing.T) []cpu.Tier {
	t.Helper()
	var simd []cpu.Tier
	for _, tr := range cpu.Tiers() {
		if tr > cpu.Generic && tr <= topTier {
			simd = append(simd, tr)
		}
	}
	if len(simd) < 2 {
		t.Skipf("fewer than two SIMD tiers here (%v): nothing to compare", simd)
	}
	t.Logf("tiers compared: %v", simd)
	return simd
}

func withThreads(n int, f func()) {
	prev := SetThreads(n)
	defer SetThreads(prev)
	f()
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

// guarded returns a slice of n elements inside a larger one whose bands
// before and after are sentinels, plus a check that the bands are intact.
func guarded(n int) (inner []float32, check func(t *testing.T, what string)) {
	const band = 67
	all := make([]float32, n+2*band)
	for i := range all {
		all[i] = sentinel
	}
	inner = all[band : band+n : band+n]
	return inner, func(t *testing.T, what string) {
		t.Helper()
		for i := 0; i < band; i++ {
			if !isSentinel(all[i]) || !isSentinel(all[band+n+i]) {
				t.Fatalf("%s: guard band overwritten", what)
			}
		}
	}
}

// matrix fills a rows×cols matrix with leading dimension ld (> cols leaves
// a sentinel gap at the end of each row) inside a guarded slice.
func matrix(r *rand.Rand, rows, cols, ld int) (m []float32, check func(t *testing.T, what string)) {
	m, check = guarded(need(rows, cols, ld))
	for i := 0; i < rows; i++ {
		for j := 0; j < cols; j++ {
			m[i*ld+j] = float32(r.NormFloat64())
		}
	}
	return m, check
}

// checkGaps verifies that the ld-cols gap of each row still holds sentinels.
func checkGaps(t *testing.T, what string, m []float32, rows, cols, ld int) {
	t.Helper()
	for i := 0; i+1 < rows; i++ {
		for j := cols; j < ld; j++ {
			if !isSentinel(m[i*ld+j]) {
				t.Fatalf("%s: gap element (%d,%d) written", what, i, j)
			}
		}
	}
}

func bitsEqual(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return i
		}
	}
	return -1
}
