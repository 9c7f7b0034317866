package cpu

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestTiers(t *testing.T) {
	ts := Tiers()
	if len(ts) == 0 || ts[0] != Generic || ts[len(ts)-1] != Best {
		t.Fatalf("Tiers() = %v, want generic..%v", ts, Best)
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
	if Supported(Best+1) || Supported(-1) {
		t.Errorf("Supported accepts a tier outside generic..%v", Best)
	}
	if Best > Hardware() {
		t.Errorf("Best %v above the hardware tier %v", Best, Hardware())
	}
	if !asmEnabled && Hardware() != Generic {
		t.Errorf("purego build detected %v", Hardware())
	}
	t.Logf("tiers available: %v, running %s", ts, Describe())
}

func TestParseTierRejects(t *testing.T) {
	for _, s := range []string{"sse9", "", "avx", "avx5122"} {
		if _, err := ParseTier(s); err == nil {
			t.Errorf("ParseTier(%q) accepted", s)
		}
	}
}

func TestCap(t *testing.T) {
	if AVX512.Cap(AVX2) != AVX2 || Generic.Cap(AVX512) != Generic || AVX2.Cap(AVX2) != AVX2 {
		t.Fatal("Cap is not min")
	}
}

func TestFromEnv(t *testing.T) {
	for _, c := range []struct {
		v      string
		hw     Tier
		want   Tier
		errHas string
	}{
		{"", AVX512, AVX512, ""},
		{"", Generic, Generic, ""},
		{"avx2", AVX512, AVX2, ""},
		{" AVX512 ", AVX512, AVX512, ""},
		{"generic", AVX2, Generic, ""},
		{"purego", AVX512, Generic, ""},
		{"avx512", AVX2, AVX2, "runs at most avx2"},
		{"avx2", Generic, Generic, "runs at most generic"},
		{"fast", AVX512, AVX512, "unknown tier"},
	} {
		got, err := fromEnv(c.v, c.hw)
		if c.errHas == "" {
			if err != nil || got != c.want {
				t.Errorf("fromEnv(%q, %v) = %v, %v; want %v", c.v, c.hw, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.errHas) || !strings.Contains(err.Error(), EnvVar) {
			t.Errorf("fromEnv(%q, %v) error %v, want one naming %s and %q", c.v, c.hw, err, EnvVar, c.errHas)
		}
	}
}

// TestEnvStopsStartup runs this test binary again with a bad PAIRFLOW_TIER
// and checks that it stops before any test runs, with status 2.
func TestEnvStopsStartup(t *testing.T) {
	if os.Getenv("PAIRFLOW_CPU_CHILD") == "1" {
		t.Fatal("the child ran a test: a bad PAIRFLOW_TIER was ignored")
	}
	for _, v := range []string{"bogus", (Hardware() + 1).String()} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestEnvStopsStartup$")
		cmd.Env = append(os.Environ(), EnvVar+"="+v, "PAIRFLOW_CPU_CHILD=1")
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), EnvVar+"="+v) {
			t.Errorf("%s=%s: err %v, output %q; want exit 2 naming the variable", EnvVar, v, err, out)
		}
	}
	// A lowering the CPU supports starts normally.
	cmd := exec.Command(os.Args[0], "-test.run=^TestTiers$", "-test.v")
	cmd.Env = append(os.Environ(), EnvVar+"=generic")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "running generic") {
		t.Errorf("%s=generic: %v\n%s", EnvVar, err, out)
	}
}
