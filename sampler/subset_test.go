package sampler

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestSubsetDraws(t *testing.T) {
	idx := []int64{5, 9, 9, 40, 77}
	s, err := NewSubset(idx, 100)
	if err != nil {
		t.Fatal(err)
	}
	idx[0] = 99 // the subset keeps its own copy
	count := map[int64]float64{}
	const draws = 50_000
	for i := range int64(draws) {
		v := s.Draw(3, 0, i)
		if v != s.Draw(3, 0, i) {
			t.Fatal("draw not deterministic")
		}
		count[v]++
	}
	// Uniform over the 5 slots, so 9 (listed twice) twice as often. Chi-square
	// with 3 degrees of freedom; 25 is far in the tail (p ≈ 2e-5).
	want := map[int64]float64{5: 0.2, 9: 0.4, 40: 0.2, 77: 0.2}
	var chi2 float64
	for v, p := range want {
		e := p * draws
		chi2 += (count[v] - e) * (count[v] - e) / e
	}
	if len(count) != len(want) || chi2 > 25 {
		t.Errorf("draw counts %v, chi-square %.1f", count, chi2)
	}
	// Other epochs and seeds give other draws.
	var sameEpoch, sameSeed int
	for i := range int64(1000) {
		if s.Draw(3, 0, i) == s.Draw(3, 1, i) {
			sameEpoch++
		}
		if s.Draw(3, 0, i) == s.Draw(4, 0, i) {
			sameSeed++
		}
	}
	// Two independent draws agree with probability 0.2²·3 + 0.4² = 0.28.
	if math.Abs(float64(sameEpoch)-280) > 80 || math.Abs(float64(sameSeed)-280) > 80 {
		t.Errorf("agreements: epoch+1 %d, seed+1 %d of 1000 (expected about 280)", sameEpoch, sameSeed)
	}
	for _, bad := range [][]int64{nil, {0, 100}, {-1}} {
		if _, err := NewSubset(bad, 100); !errors.Is(err, ErrConfig) {
			t.Errorf("NewSubset(%v): err=%v, want ErrConfig", bad, err)
		}
	}
}

func TestBalancedSubset(t *testing.T) {
	// Classes of sizes 100, 37, 10, 1, 3 and some unlabelled records, shuffled.
	sizes := map[int32]int{0: 100, 1: 37, 2: 10, 3: 1, 7: 3}
	var labels []int32
	for c, n := range sizes {
		for range n {
			labels = append(labels, c)
		}
	}
	labels = append(labels, -1, -1, -1)
	p, _ := NewPermutation(int64(len(labels)), 1, 0)
	shuffled := make([]int32, len(labels))
	for i := range labels {
		shuffled[i] = labels[p.At(int64(i))]
	}
	labels = shuffled

	for _, f := range []float64{0, 0.01, 0.1, 0.25, 0.5, 1} {
		sub, err := BalancedSubset(labels, f, 42)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.IsSorted(sub) || len(slices.Compact(slices.Clone(sub))) != len(sub) {
			t.Fatalf("f=%v: not sorted and unique: %v", f, sub)
		}
		got := map[int32]int{}
		for _, i := range sub {
			if labels[i] < 0 {
				t.Fatalf("f=%v: unlabelled record %d chosen", f, i)
			}
			got[labels[i]]++
		}
		for c, n := range sizes {
			if want := int(math.Round(f * float64(n))); got[c] != want {
				t.Errorf("f=%v class %d: %d chosen, want round(%v·%d)=%d", f, c, got[c], f, n, want)
			}
		}
		again, _ := BalancedSubset(labels, f, 42)
		if !slices.Equal(sub, again) {
			t.Fatalf("f=%v: not deterministic", f)
		}
	}
	a, _ := BalancedSubset(labels, 0.25, 42)
	b, _ := BalancedSubset(labels, 0.25, 43)
	if slices.Equal(a, b) {
		t.Error("seeds 42 and 43 chose the same subset")
	}
	// A class's choice does not depend on the other classes: relabelling
	// class 1 as unlabelled leaves class 0's choice unchanged.
	relabelled := slices.Clone(labels)
	for i, c := range relabelled {
		if c == 1 {
			relabelled[i] = -1
		}
	}
	c, _ := BalancedSubset(relabelled, 0.25, 42)
	class0 := func(s []int64) []int64 {
		return slices.DeleteFunc(slices.Clone(s), func(i int64) bool { return labels[i] != 0 })
	}
	if !slices.Equal(class0(a), class0(c)) {
		t.Error("class 0's choice changed when class 1 was removed")
	}
	for _, f := range []float64{-0.1, 1.1, math.NaN()} {
		if _, err := BalancedSubset(labels, f, 1); !errors.Is(err, ErrConfig) {
			t.Errorf("fraction %v: err=%v, want ErrConfig", f, err)
		}
	}
}

// In SubsetDraws mode an epoch is Len(Subset) draws per world, rounded per
// rank, and wrap padding takes fresh draws instead of repeating.
func TestSubsetStream(t *testing.T) {
	sub := []int64{2, 4, 6, 8, 10, 12, 14}
	c := Config{Mode: SubsetDraws, Records: 20, Subset: sub, Seed: 5, WorldSize: 2, Rank: 1, BatchSize: 3}
	s := mustNew(t, c)
	if s.Len() != 6 { // ⌈7/2⌉ = 4, rounded up to 2 batches of 3
		t.Fatalf("Len()=%d, want 6", s.Len())
	}
	subset, _ := NewSubset(sub, 20)
	for p, v := range drain(s) {
		if want := subset.Draw(5, 0, int64(1+2*p)); v != want {
			t.Fatalf("position %d: %d, want draw %d = %d", p, v, 1+2*p, want)
		}
	}
}
