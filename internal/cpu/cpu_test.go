package cpu

import "testing"

func TestTiers(t *testing.T) {
	ts := Tiers()
	if len(ts) == 0 || ts[0] != Generic {
		t.Fatalf("Tiers() = %v, want Generic first", ts)
	}
	for i, tier := range ts {
		if !Supported(tier) {
			t.Errorf("Tiers()[%d] = %v not Supported", i, tier)
		}
		back, err := ParseTier(tier.String())
		if err != nil || back != tier {
			t.Errorf("ParseTier(%q) = %v, %v", tier.String(), back, err)
		}
	}
	if Best > ts[len(ts)-1] {
		t.Errorf("Best %v above the hardware tier %v", Best, ts[len(ts)-1])
	}
	if !asmEnabled && Best != Generic {
		t.Errorf("purego build chose %v", Best)
	}
	t.Logf("tiers available: %v, best: %v", ts, Best)
}

func TestParseTierRejects(t *testing.T) {
	if _, err := ParseTier("sse9"); err == nil {
		t.Fatal("ParseTier accepted an unknown tier")
	}
}
