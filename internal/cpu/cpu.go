// Package cpu tells pairflow's kernels which SIMD tier this process may use.
//
// Every hot kernel in pairflow has a plain-Go reference implementation and, on
// amd64, faster assembly tiers. The tier is chosen once at start-up from the
// CPU's features; the build tags purego and noasm (synonyms) force the
// reference path everywhere.
//
// The environment variable PAIRFLOW_TIER (generic, avx2 or avx512) lowers the
// tier for the whole process, which lets a user compare tiers on one binary.
// It never raises it: an unknown value, or a tier this CPU or build lacks,
// stops the program at start-up with a message on stderr and exit status 2,
// since running on another tier than the one asked for would make a
// comparison lie.
//
// # Dispatch convention
//
// A kernel package keeps its tier in one unexported variable, capped at the
// highest tier it has kernels for, and exports it read-only:
//
//	const topTier = cpu.AVX512 // the highest tier this package implements
//	var tier = cpu.Best.Cap(topTier)
//	func Tier() cpu.Tier { return tier }
//
// Kernels dispatch on tier (switch tier, or tier >= cpu.AVX2). Tests compare
// every tier with cputest.ForEachTier(t, &tier, topTier, f), which sets the
// variable in turn and logs the tiers it covered. Tools print the tier they
// run (Describe, or the package's Tier()).
//
// This package is not for general CPU feature detection: use golang.org/x/sys/cpu.
package cpu

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/cpu"
)

// Tier is a level of SIMD support. Higher tiers include the lower ones.
type Tier int

const (
	// Generic is the plain-Go reference path, available everywhere.
	Generic Tier = iota
	// AVX2 is AVX2 with FMA3 and BMI2 (Haswell, Zen and later).
	AVX2
	// AVX512 is AVX-512 F, BW, DQ and VL (Skylake-X, Zen 4 and later).
	AVX512
)

func (t Tier) String() string {
	switch t {
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Tier(%d)", int(t))
}

// Cap returns the lower of t and top: a package that implements tiers up to
// top runs Best.Cap(top).
func (t Tier) Cap(top Tier) Tier { return min(t, top) }

// ParseTier parses the names String returns (and purego or noasm for
// generic), ignoring case and surrounding space.
func ParseTier(s string) (Tier, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "generic", "purego", "noasm":
		return Generic, nil
	case "avx2":
		return AVX2, nil
	case "avx512", "avx-512":
		return AVX512, nil
	}
	return Generic, fmt.Errorf("cpu: unknown tier %q (want generic, avx2 or avx512)", s)
}

// EnvVar is the environment variable that lowers the tier.
const EnvVar = "PAIRFLOW_TIER"

var hardware = hardwareTier()

// Best is the tier the process runs: the highest that both this build and
// this CPU support, lowered by PAIRFLOW_TIER when set.
var Best, envErr = fromEnv(os.Getenv(EnvVar), hardware)

func init() {
	if envErr != nil {
		fmt.Fprintf(os.Stderr, "pairflow: %v\n", envErr)
		os.Exit(2)
	}
}

// Hardware is the highest tier this build and CPU support, whatever
// PAIRFLOW_TIER says. It is Generic under the purego or noasm build tags and
// on other architectures.
func Hardware() Tier { return hardware }

func hardwareTier() Tier {
	if !asmEnabled {
		return Generic
	}
	t := Generic
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasBMI2 {
		t = AVX2
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX512VL {
			t = AVX512
		}
	}
	return t
}

// fromEnv applies the value v of PAIRFLOW_TIER to the hardware tier hw.
func fromEnv(v string, hw Tier) (Tier, error) {
	if v == "" {
		return hw, nil
	}
	want, err := ParseTier(v)
	if err != nil {
		return hw, fmt.Errorf("%s=%s: %w", EnvVar, v, err)
	}
	if want > hw {
		why := "this CPU"
		if !asmEnabled {
			why = "this build (purego/noasm or not amd64)"
		}
		return hw, fmt.Errorf("%s=%s: %s runs at most %v", EnvVar, v, why, hw)
	}
	return want, nil
}

// Tiers lists every tier this process may run, Generic up to Best, lowest
// first: the ones a differential test compares.
func Tiers() []Tier {
	out := make([]Tier, 0, Best+1)
	for t := Generic; t <= Best; t++ {
		out = append(out, t)
	}
	return out
}

// Supported reports whether t can run in this process (Generic..Best).
func Supported(t Tier) bool { return t >= Generic && t <= Best }

// Describe says which tier the process runs and why, for a tool's banner:
// "avx512", or "avx2 (PAIRFLOW_TIER; cpu avx512)" when lowered.
func Describe() string {
	if Best == hardware {
		return Best.String()
	}
	return fmt.Sprintf("%v (%s; cpu %v)", Best, EnvVar, hardware)
}
