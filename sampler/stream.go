package sampler

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
)

// Mode selects how a [Stream] orders an epoch.
type Mode uint8

const (
	// Shuffle: a global [Permutation] of all records per epoch (the default).
	Shuffle Mode = iota
	// Shards: a [ShardOrder] (shard order shuffled, then a bounded window
	// shuffle), for sequential reading from shards. Ranks still take every
	// W-th position, so each rank reads every window of the read sequence
	// and keeps its 1/W share; a reader's buffer stays within one window.
	Shards
	// Eval: one pass in dataset order, no shuffle, no padding, every record
	// exactly once across the ranks; rank counts may differ by one.
	Eval
	// SubsetDraws: draws with replacement from Config.Subset (see [Subset]);
	// an epoch is Len(Subset) draws, rounded per rank as for the other modes.
	SubsetDraws
)

func (m Mode) String() string {
	switch m {
	case Shuffle:
		return "shuffle"
	case Shards:
		return "shards"
	case Eval:
		return "eval"
	case SubsetDraws:
		return "subset"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Tail says how ranks are made equal when the records do not divide evenly.
type Tail uint8

const (
	// Wrap pads every rank up to ⌈n/W⌉ samples, rounded up to a whole batch,
	// by wrapping around to the start of the epoch's order (the default).
	// Every record is seen at least once per epoch; a few twice.
	Wrap Tail = iota
	// Drop cuts every rank to ⌊n/W⌋ samples, rounded down to a whole batch;
	// the tail of the epoch's order is not seen that epoch.
	Drop
)

func (t Tail) String() string {
	switch t {
	case Wrap:
		return "wrap"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("Tail(%d)", uint8(t))
}

// Limits on Config values, so that every position fits an int64.
const (
	MaxWorldSize = 1 << 20
	MaxBatchSize = 1 << 24
)

// Config is what fixes a rank's stream. The zero value of every optional field
// is a sensible default.
type Config struct {
	Mode Mode
	// Records is the number of records n in the dataset. In Shards mode it
	// may be left 0 (it is the sum of ShardSizes) or must equal that sum.
	Records int64
	Seed    uint64
	// WorldSize W (0 means 1) and Rank r in [0, W).
	WorldSize int
	Rank      int
	// BatchSize B (0 means 1): per-rank epoch lengths are whole batches.
	// Eval mode ignores it (its last batch may be short).
	BatchSize int
	Tail      Tail
	// ShardSizes (record counts per shard, in file order) and Window
	// (records) are for Shards mode only.
	ShardSizes []int64
	Window     int64
	// Subset is the index set of SubsetDraws mode (see [BalancedSubset]).
	Subset []int64
	// Fingerprint identifies everything outside the sampler that fixes the
	// stream (see [Fingerprint]); it is stored in, and checked against, State.
	Fingerprint string
}

// Stream is one rank's sequence of record indices, epoch after epoch.
//
// Rank r of W takes positions r, r+W, r+2W, … of the epoch's global order
// (see [Mode]), so the ranks' sequences are disjoint except for Wrap padding.
// Every value a Stream returns is a pure function of (Config, epoch,
// position): how many workers a pipeline runs, how deep it prefetches or how
// it splits its CPUs cannot change it.
//
// A Stream is not safe for concurrent use; it is a small value with no
// goroutines. [Stream.At] is pure and may be called from many goroutines while
// no goroutine calls a mutating method.
type Stream struct {
	cfg     Config
	world   int64
	rank    int64
	batch   int64
	n       int64 // global records per epoch (Len(Subset) in SubsetDraws)
	length  int64 // this rank's samples per epoch
	layout  string
	epoch   int64
	pos     int64
	skipped int64
	perm    Permutation
	shards  ShardOrder
	subset  Subset
	// Next's cache of the current window's permutation in Shards mode
	// (At stays pure and does not use it).
	winIdx int64
	win    Permutation
}

// New returns the stream of cfg at epoch 0, position 0. It returns an error
// wrapping [ErrConfig] if cfg is invalid. Slices in cfg are copied.
func New(cfg Config) (*Stream, error) {
	s := &Stream{cfg: cfg}
	s.cfg.ShardSizes = slices.Clone(cfg.ShardSizes)
	s.cfg.Subset = slices.Clone(cfg.Subset)
	if err := s.init(); err != nil {
		return nil, err
	}
	if err := s.setEpoch(0); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stream) init() error {
	c := &s.cfg
	if c.WorldSize == 0 {
		c.WorldSize = 1
	}
	if c.BatchSize == 0 {
		c.BatchSize = 1
	}
	switch {
	case c.Mode > SubsetDraws:
		return fmt.Errorf("sampler: mode %v: %w", c.Mode, ErrConfig)
	case c.Tail > Drop:
		return fmt.Errorf("sampler: tail policy %v: %w", c.Tail, ErrConfig)
	case c.WorldSize < 1 || c.WorldSize > MaxWorldSize:
		return fmt.Errorf("sampler: world size %d: %w (want 1..%d)", c.WorldSize, ErrConfig, MaxWorldSize)
	case c.Rank < 0 || c.Rank >= c.WorldSize:
		return fmt.Errorf("sampler: rank %d of world size %d: %w", c.Rank, c.WorldSize, ErrConfig)
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return fmt.Errorf("sampler: batch size %d: %w (want 1..%d)", c.BatchSize, ErrConfig, MaxBatchSize)
	}
	if c.Mode == Shards {
		var sum int64
		for i, sz := range c.ShardSizes {
			if sz < 0 || sz > MaxRecords-sum {
				return fmt.Errorf("sampler: shard %d size %d: %w", i, sz, ErrConfig)
			}
			sum += sz
		}
		if c.Records == 0 {
			c.Records = sum
		}
		if c.Records != sum {
			return fmt.Errorf("sampler: %d records but shard sizes sum to %d: %w", c.Records, sum, ErrConfig)
		}
		if c.Window < 1 {
			return fmt.Errorf("sampler: shards mode window %d: %w (want ≥ 1)", c.Window, ErrConfig)
		}
	} else if len(c.ShardSizes) != 0 || c.Window != 0 {
		return fmt.Errorf("sampler: shard sizes or window set in %v mode: %w", c.Mode, ErrConfig)
	}
	if c.Records < 1 || c.Records > MaxRecords {
		return fmt.Errorf("sampler: %d records: %w (want 1..%d)", c.Records, ErrConfig, int64(MaxRecords))
	}
	s.n = c.Records
	if c.Mode == SubsetDraws {
		sub, err := NewSubset(c.Subset, c.Records)
		if err != nil {
			return err
		}
		s.subset = sub
		s.n = sub.Len()
	} else if len(c.Subset) != 0 {
		return fmt.Errorf("sampler: subset set in %v mode: %w", c.Mode, ErrConfig)
	}
	s.world, s.rank, s.batch = int64(c.WorldSize), int64(c.Rank), int64(c.BatchSize)
	s.length = rankLen(c.Mode, c.Tail, s.n, s.world, s.rank, s.batch)
	if s.length == 0 && c.Mode != Eval {
		return fmt.Errorf("sampler: drop policy leaves no samples per rank (%d records, world size %d, batch size %d): %w",
			s.n, s.world, s.batch, ErrConfig)
	}
	s.layout = layoutOf(c)
	return nil
}

// rankLen is the number of samples rank r of w gets per epoch.
func rankLen(m Mode, t Tail, n, w, r, b int64) int64 {
	if m == Eval {
		if r >= n {
			return 0
		}
		return (n - r + w - 1) / w
	}
	if t == Drop {
		return n / w / b * b
	}
	return ((n+w-1)/w + b - 1) / b * b
}

// layoutOf hashes the sampler's own stream-fixing parameters (everything in
// Config except Seed, WorldSize, Rank and Fingerprint) into 16 hex digits.
func layoutOf(c *Config) string {
	h := sha256.New()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	h.Write([]byte("pairflow/sampler/layout/v1"))
	put(uint64(c.Mode))
	put(uint64(c.Tail))
	put(uint64(c.Records))
	put(uint64(c.BatchSize))
	put(uint64(c.Window))
	put(uint64(len(c.ShardSizes)))
	for _, v := range c.ShardSizes {
		put(uint64(v))
	}
	put(uint64(len(c.Subset)))
	for _, v := range c.Subset {
		put(uint64(v))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

func (s *Stream) setEpoch(e int64) error {
	if e < 0 || e > maxEpoch {
		return fmt.Errorf("sampler: epoch %d: %w", e, ErrConfig)
	}
	s.epoch, s.pos = e, 0
	switch s.cfg.Mode {
	case Shuffle:
		s.perm = newPermutation(uint64(s.n), deriveKey(s.cfg.Seed, uint64(e), tagGlobal, 0))
	case Shards:
		o, err := NewShardOrder(s.cfg.ShardSizes, s.cfg.Window, s.cfg.Seed, uint64(e))
		if err != nil {
			return err
		}
		s.shards = o
		s.winIdx = -1
	}
	return nil
}

const maxEpoch = 1 << 40

// Next returns the index of the next record of this rank's epoch and true, or
// 0 and false once the epoch is exhausted (call [Stream.NextEpoch] to go on).
func (s *Stream) Next() (index int64, ok bool) {
	if s.pos >= s.length {
		return 0, false
	}
	var i int64
	if s.cfg.Mode == Shards {
		g := (s.rank + s.pos*s.world) % s.n
		if w := g / s.shards.window; w != s.winIdx {
			s.win, s.winIdx = s.shards.windowPerm(w), w
		}
		i = s.shards.atWith(g, &s.win)
	} else {
		i = s.at(s.pos)
	}
	s.pos++
	return i, true
}

// At returns the record index at position p of this rank's current epoch,
// 0 ≤ p < Len(), without moving the stream. A pipeline's producers use it to
// run ahead (prefetch) while the consumer-side Stream only advances as samples
// are handed out. It panics if p is out of range.
func (s *Stream) At(p int64) int64 {
	if p < 0 || p >= s.length {
		panic(fmt.Sprintf("sampler: Stream.At(%d) out of range [0,%d)", p, s.length))
	}
	return s.at(p)
}

func (s *Stream) at(p int64) int64 {
	g := s.rank + p*s.world // global position
	switch s.cfg.Mode {
	case Eval:
		return g
	case SubsetDraws:
		return s.subset.Draw(s.cfg.Seed, uint64(s.epoch), g) // fresh draws, no wrap needed
	case Shards:
		return s.shards.At(g % s.n)
	default:
		return int64(s.perm.atUnchecked(uint64(g % s.n)))
	}
}

// Len returns the number of samples this rank gets per epoch.
func (s *Stream) Len() int64 { return s.length }

// Epoch returns the current epoch (0 for a fresh stream).
func (s *Stream) Epoch() int64 { return s.epoch }

// Position returns how many samples of the current epoch Next has returned.
func (s *Stream) Position() int64 { return s.pos }

// NextEpoch moves to position 0 of the next epoch, whether or not the current
// one was exhausted.
func (s *Stream) NextEpoch() {
	if err := s.setEpoch(s.epoch + 1); err != nil {
		// Only reachable after 2⁴⁰ epochs; the config was validated in New.
		panic(err)
	}
}

// CountSkipped adds k to the count of skipped samples (records the pipeline
// drew with Next but did not deliver, e.g. because they failed to decode).
// The count is carried in State so a resumed run keeps its skip accounting.
// It panics if k < 0.
func (s *Stream) CountSkipped(k int64) {
	if k < 0 {
		panic("sampler: CountSkipped with a negative count")
	}
	s.skipped += k
}

// Skipped returns the number of samples counted by CountSkipped, over all epochs.
func (s *Stream) Skipped() int64 { return s.skipped }

// State returns the resumable state of the stream: restoring it with the same
// Config gives a stream whose Next calls return exactly what this one's would.
func (s *Stream) State() State {
	return State{
		Version:     StateVersion,
		Fingerprint: s.cfg.Fingerprint,
		Layout:      s.layout,
		Seed:        s.cfg.Seed,
		Epoch:       s.epoch,
		Position:    s.pos,
		Skipped:     s.skipped,
		WorldSize:   s.cfg.WorldSize,
		Rank:        s.cfg.Rank,
	}
}

// Restore returns the stream of cfg resumed from st.
//
// st must have been saved under the same stream-fixing configuration: its
// fingerprint, seed and layout (mode, records, batch size, tail policy, window,
// shard sizes, subset) must match cfg, or the error wraps [ErrFingerprint]. If
// the world size or rank differ, st must lie on an epoch boundary (position 0,
// or the end of the saving rank's epoch): the stream then starts at that
// boundary with cfg's world size and rank, exactly as a fresh stream would;
// otherwise the error wraps [ErrTopology].
func Restore(cfg Config, st State) (*Stream, error) {
	if err := st.validate(); err != nil {
		return nil, err
	}
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case st.Fingerprint != s.cfg.Fingerprint:
		return nil, fmt.Errorf("sampler: restore: state fingerprint %q, configuration %q: %w", st.Fingerprint, s.cfg.Fingerprint, ErrFingerprint)
	case st.Seed != s.cfg.Seed:
		return nil, fmt.Errorf("sampler: restore: state seed %d, configuration seed %d: %w", st.Seed, s.cfg.Seed, ErrFingerprint)
	case st.Layout != s.layout:
		return nil, fmt.Errorf("sampler: restore: state layout %s, configuration layout %s (mode, records, batch, tail, window, shards or subset changed): %w",
			st.Layout, s.layout, ErrFingerprint)
	}
	epoch, pos := st.Epoch, st.Position
	if st.WorldSize != s.cfg.WorldSize || st.Rank != s.cfg.Rank {
		oldLen := rankLen(s.cfg.Mode, s.cfg.Tail, s.n, int64(st.WorldSize), int64(st.Rank), s.batch)
		switch pos {
		case 0:
		case oldLen:
			epoch, pos = epoch+1, 0
		default:
			return nil, fmt.Errorf("sampler: restore: state of rank %d/%d at epoch %d position %d of %d into rank %d/%d: %w",
				st.Rank, st.WorldSize, st.Epoch, st.Position, oldLen, s.cfg.Rank, s.cfg.WorldSize, ErrTopology)
		}
	}
	if pos > s.length {
		return nil, fmt.Errorf("sampler: restore: position %d beyond the epoch's %d samples: %w", pos, s.length, ErrState)
	}
	if err := s.setEpoch(epoch); err != nil {
		return nil, err
	}
	s.pos, s.skipped = pos, st.Skipped
	return s, nil
}
