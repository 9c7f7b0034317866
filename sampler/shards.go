package sampler

import (
	"fmt"
	"sort"
)

// ShardOrder is the order of one epoch for sequential streaming from shards.
//
// Records are numbered shard by shard: shard 0 holds records
// [0, size₀), shard 1 holds [size₀, size₀+size₁), and so on. The order is
// built in two steps, both seeded by (seed, epoch):
//
//  1. The shard order is shuffled (a [Permutation] of the shards) and the
//     shards are concatenated in that order, each read front to back. Call
//     this the read sequence.
//  2. The read sequence is cut into consecutive windows of Window() records
//     (the last may be shorter) and each window is shuffled on its own (a
//     Permutation per window).
//
// Memory bound: positions [k·W, (k+1)·W) of the order are exactly the records
// of the k-th window of the read sequence, so a reader that reads the read
// sequence front to back holds at most W records (W = Window()) in its buffer to
// serve them in order; the ShardOrder itself holds two int64 per shard and
// nothing per record. Records never move further than one window from their
// place in the read sequence: a smaller window saves memory but mixes less (two
// records of the same window land in the same batch of size B with probability
// about B/W, against B/n for the global [Permutation]).
type ShardOrder struct {
	n      int64
	window int64
	seed   uint64
	epoch  uint64
	// slotEnd[s] is the end (exclusive) of the s-th shard of the read
	// sequence; slotRecord[s] is the first record index of that shard.
	slotEnd    []int64
	slotRecord []int64
}

// NewShardOrder returns the order of one epoch over shards of the given sizes
// (record counts, zero allowed) with windows of window records. It returns an
// error wrapping [ErrConfig] if a size is negative, the total is outside
// [1, MaxRecords] or window < 1. The sizes slice is not retained.
func NewShardOrder(shardSizes []int64, window int64, seed, epoch uint64) (ShardOrder, error) {
	if len(shardSizes) == 0 {
		return ShardOrder{}, fmt.Errorf("sampler: shard order: no shards: %w", ErrConfig)
	}
	if window < 1 {
		return ShardOrder{}, fmt.Errorf("sampler: shard order: window %d: %w (want ≥ 1)", window, ErrConfig)
	}
	start := make([]int64, len(shardSizes))
	var n int64
	for i, sz := range shardSizes {
		if sz < 0 || sz > MaxRecords {
			return ShardOrder{}, fmt.Errorf("sampler: shard order: shard %d has %d records: %w", i, sz, ErrConfig)
		}
		start[i] = n
		n += sz
		if n > MaxRecords {
			return ShardOrder{}, fmt.Errorf("sampler: shard order: more than %d records: %w", int64(MaxRecords), ErrConfig)
		}
	}
	if n == 0 {
		return ShardOrder{}, fmt.Errorf("sampler: shard order: all %d shards are empty: %w", len(shardSizes), ErrConfig)
	}
	shardPerm := newPermutation(uint64(len(shardSizes)), deriveKey(seed, epoch, tagShards, 0))
	o := ShardOrder{
		n: n, window: min(window, n), seed: seed, epoch: epoch,
		slotEnd:    make([]int64, len(shardSizes)),
		slotRecord: make([]int64, len(shardSizes)),
	}
	var end int64
	for s := range shardSizes {
		id := shardPerm.At(int64(s))
		end += shardSizes[id]
		o.slotEnd[s] = end
		o.slotRecord[s] = start[id]
	}
	return o, nil
}

// Len returns the total number of records.
func (o ShardOrder) Len() int64 { return o.n }

// Window returns the window size in records (the requested window, capped at Len()).
func (o ShardOrder) Window() int64 { return o.window }

// ReadAt returns the record at position j of the read sequence (shards in
// shuffled order, each front to back, before the window shuffle).
func (o ShardOrder) ReadAt(j int64) int64 {
	if uint64(j) >= uint64(o.n) {
		panic(fmt.Sprintf("sampler: ShardOrder.ReadAt(%d) out of range [0,%d)", j, o.n))
	}
	s := sort.Search(len(o.slotEnd), func(s int) bool { return o.slotEnd[s] > j })
	var slotStart int64
	if s > 0 {
		slotStart = o.slotEnd[s-1]
	}
	return o.slotRecord[s] + j - slotStart
}

// At returns the record at position i of the epoch's order, 0 ≤ i < Len().
func (o ShardOrder) At(i int64) int64 {
	if uint64(i) >= uint64(o.n) {
		panic(fmt.Sprintf("sampler: ShardOrder.At(%d) out of range [0,%d)", i, o.n))
	}
	wp := o.windowPerm(i / o.window)
	return o.atWith(i, &wp)
}

// windowPerm returns the permutation of window w.
func (o *ShardOrder) windowPerm(w int64) Permutation {
	first := w * o.window
	size := min(o.window, o.n-first)
	return newPermutation(uint64(size), deriveKey(o.seed, o.epoch, tagWindow, uint64(w)))
}

// atWith is At for a caller that holds the permutation of window i / Window().
func (o *ShardOrder) atWith(i int64, wp *Permutation) int64 {
	first := i / o.window * o.window
	return o.ReadAt(first + int64(wp.atUnchecked(uint64(i-first))))
}
