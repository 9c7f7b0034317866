package cputest

import (
	"slices"
	"strings"
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

func TestCheckRequires(t *testing.T) {
	const good = `// func fAVX2(x *float32)
// Requires: AVX, AVX2, FMA3, SSE
TEXT ·fAVX2(SB), NOSPLIT, $0-8
	RET

// Requires: AVX, AVX512F, AVX512BW, BMI2, MMX+
TEXT ·gAVX512Prefetch(SB), NOSPLIT, $0-8
	RET

// Requires: AVX, AVX512F, AVX512VBMI
TEXT ·lutAVX512(SB), NOSPLIT, $0-8
	RET
`
	guarded := map[string][]string{"lutAVX512": {"AVX512VBMI"}}
	n, problems, err := checkRequires(strings.NewReader(good), "good.s", guarded)
	if err != nil || n != 3 || len(problems) != 0 {
		t.Fatalf("good file: %d functions, %q, %v", n, problems, err)
	}
	for _, c := range []struct {
		name, text string
		guarded    map[string][]string
		want       string
	}{
		{"AVX-512 in an AVX2 kernel", "// Requires: AVX, AVX2, AVX512VL\nTEXT ·fAVX2(SB), $0\n", nil,
			"bad.s:2: fAVX2 needs AVX512VL, which its tier does not guarantee"},
		{"unguarded VBMI", "// Requires: AVX, AVX512F, AVX512VBMI\nTEXT ·lutAVX512(SB), $0\n", nil,
			"lutAVX512 needs AVX512VBMI"},
		{"no tier in the name", "// Requires: AVX\nTEXT ·plain(SB), $0\n", nil, "its tier is unknown"},
		{"hand-written", "TEXT ·fAVX2(SB), $0\n", nil, "no // Requires: line"},
		{"stale guard", "// Requires: AVX, AVX512F\nTEXT ·lutAVX512(SB), $0\n", guarded,
			"guarded for AVX512VBMI, which it does not use"},
		{"missing guarded function", "// Requires: AVX\nTEXT ·fAVX2(SB), $0\n", guarded,
			"guarded function lutAVX512 is not in the file"},
		{"empty", "", nil, "no TEXT symbols"},
	} {
		_, problems, err := checkRequires(strings.NewReader(c.text), "bad.s", c.guarded)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, c.want) }) {
			t.Errorf("%s: problems %q, want one containing %q", c.name, problems, c.want)
		}
	}
}
