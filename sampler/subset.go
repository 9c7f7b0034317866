package sampler

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Subset draws record indices with replacement from a fixed set, for
// supervised training and fine-tuning with few labels. A draw is a pure
// function of (seed, epoch, i), so any draw can be recomputed on resume.
type Subset struct {
	idx []int64
}

// NewSubset returns a Subset over a copy of indices, each of which must lie in
// [0, records). It returns an error wrapping [ErrConfig] if indices is empty or
// an index is out of range. Duplicates are allowed and weight that index.
func NewSubset(indices []int64, records int64) (Subset, error) {
	if len(indices) == 0 {
		return Subset{}, fmt.Errorf("sampler: subset is empty: %w", ErrConfig)
	}
	for i, v := range indices {
		if v < 0 || v >= records {
			return Subset{}, fmt.Errorf("sampler: subset element %d is record %d, outside [0,%d): %w", i, v, records, ErrConfig)
		}
	}
	return Subset{idx: slices.Clone(indices)}, nil
}

// Len returns the number of indices in the subset.
func (s Subset) Len() int64 { return int64(len(s.idx)) }

// Draw returns draw i of the given epoch: a subset element chosen uniformly at
// random (with replacement) by a hash of (seed, epoch, i). In a stream that
// forms batches of B, draw i is slot i mod B of step i / B. The reduction
// to [0, Len()) is a 64×64→128-bit multiply, whose bias is below Len()/2⁶⁴.
func (s Subset) Draw(seed, epoch uint64, i int64) int64 {
	h := mix64(deriveKey(seed, epoch, tagSubset, 0) + uint64(i)*golden)
	j, _ := bits.Mul64(h, uint64(len(s.idx)))
	return s.idx[j]
}

// BalancedSubset chooses a class-balanced labelled subset: for every class c
// with n_c records it keeps round(fraction·n_c) of them (math.Round, halves away
// from zero, so a class may keep none), chosen by a seeded permutation of the
// class's records keyed by (seed, c). Records with a negative label are
// unlabelled and never chosen. The result is sorted ascending.
//
// The choice depends only on (labels, fraction, seed): every method trained
// with the same seed sees the same subset, and each class's choice is
// independent of the other classes. It uses O(len(labels)) memory for the
// class lists. It returns an error wrapping [ErrConfig]
// if fraction is not in [0, 1].
func BalancedSubset(labels []int32, fraction float64, seed uint64) ([]int64, error) {
	if !(fraction >= 0 && fraction <= 1) {
		return nil, fmt.Errorf("sampler: balanced subset: fraction %v: %w (want 0..1)", fraction, ErrConfig)
	}
	byClass := map[int32][]int64{}
	for i, c := range labels {
		if c >= 0 {
			byClass[c] = append(byClass[c], int64(i))
		}
	}
	var out []int64
	for c, members := range byClass {
		k := int64(math.Round(fraction * float64(len(members))))
		if k == 0 {
			continue
		}
		p := newPermutation(uint64(len(members)), deriveKey(seed, 0, tagBalance, uint64(uint32(c))))
		for j := range k {
			out = append(out, members[p.atUnchecked(uint64(j))])
		}
	}
	slices.Sort(out)
	return out, nil
}
