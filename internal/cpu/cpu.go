// Package cpu tells pairflow's kernels which SIMD tier this process may use.
//
// Every hot kernel in pairflow has a plain-Go reference implementation and, on
// amd64, faster assembly tiers. The tier is chosen once at start-up from the
// CPU's features; the build tags purego and noasm (synonyms) force the
// reference path everywhere. Packages keep their own copy of the chosen tier
// so that tests can force each available tier in turn.
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
	// AVX2 is AVX2 with FMA3 (Haswell, Zen and later).
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

// ParseTier parses the names String returns.
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

// Best is the highest tier that both this build and this CPU support.
// It is Generic under the purego or noasm build tags and on other
// architectures. The environment variable PAIRFLOW_TIER lowers it (never
// raises it), which lets a user compare tiers without rebuilding.
var Best = detect()

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

func detect() Tier {
	t := hardwareTier()
	if s := os.Getenv("PAIRFLOW_TIER"); s != "" {
		if want, err := ParseTier(s); err == nil && want < t {
			t = want
		}
	}
	return t
}

// Tiers lists every tier this process can run, lowest first: the ones a
// differential test should compare.
func Tiers() []Tier {
	hw := hardwareTier()
	out := []Tier{Generic}
	for t := AVX2; t <= hw; t++ {
		out = append(out, t)
	}
	return out
}

// Supported reports whether t can run in this process.
func Supported(t Tier) bool { return t >= Generic && t <= hardwareTier() }
