package cputest

import (
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

func TestForEachTier(t *testing.T) {
	tier := cpu.Best
	for _, top := range []cpu.Tier{cpu.Generic, cpu.AVX2, cpu.AVX512} {
		var seen []cpu.Tier
		ForEachTier(t, &tier, top, func(t *testing.T) { seen = append(seen, tier) })
		want := cpu.Tiers()
		if int(top)+1 < len(want) {
			want = want[:top+1]
		}
		if len(seen) != len(want) {
			t.Fatalf("top %v: ran %v, want %v", top, seen, want)
		}
		for i := range want {
			if seen[i] != want[i] {
				t.Fatalf("top %v: ran %v, want %v", top, seen, want)
			}
		}
		if tier != cpu.Best {
			t.Fatalf("tier not restored: %v", tier)
		}
	}
}
