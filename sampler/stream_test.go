package sampler

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

var testFP = Fingerprint(FingerprintInput{Manifest: []byte("manifest"), PairKind: "simclr", Seed: 9, BatchSize: 4})

// modeConfigs returns one configuration of every mode over about n records.
func modeConfigs(n int64) []Config {
	shards := []int64{n / 3, 0, n / 5, n - n/3 - n/5}
	sub := []int64{0, 3, 3, n - 1, n / 2, 7 % n}
	return []Config{
		{Mode: Shuffle, Records: n, Seed: 9, BatchSize: 4, Fingerprint: testFP},
		{Mode: Shuffle, Records: n, Seed: 9, BatchSize: 4, Tail: Drop, Fingerprint: testFP},
		{Mode: Shards, ShardSizes: shards, Window: 16, Seed: 9, BatchSize: 4, Fingerprint: testFP},
		{Mode: Shards, ShardSizes: shards, Window: 16, Seed: 9, BatchSize: 4, Tail: Drop, Fingerprint: testFP},
		{Mode: Eval, Records: n, Seed: 9, Fingerprint: testFP},
		{Mode: SubsetDraws, Records: n, Subset: sub, Seed: 9, BatchSize: 4, Fingerprint: testFP},
	}
}

func cfgName(c Config) string {
	return fmt.Sprintf("%v/%v/W%d/r%d/B%d", c.Mode, c.Tail, c.WorldSize, c.Rank, c.BatchSize)
}

func mustNew(t testing.TB, c Config) *Stream {
	t.Helper()
	s, err := New(c)
	if err != nil {
		t.Fatalf("New(%s): %v", cfgName(c), err)
	}
	return s
}

// drain returns the rest of the stream's current epoch.
func drain(s *Stream) []int64 {
	var out []int64
	for {
		i, ok := s.Next()
		if !ok {
			return out
		}
		out = append(out, i)
	}
}

// epochs returns the next k epochs of s, each as a slice.
func epochs(s *Stream, k int) [][]int64 {
	var out [][]int64
	for e := range k {
		if e > 0 {
			s.NextEpoch()
		}
		out = append(out, drain(s))
	}
	return out
}

func TestStreamDeterministic(t *testing.T) {
	for _, c := range modeConfigs(103) {
		for _, w := range []int{1, 3} {
			c.WorldSize, c.Rank = w, w-1
			a := epochs(mustNew(t, c), 3)
			b := epochs(mustNew(t, c), 3)
			for e := range a {
				if !slices.Equal(a[e], b[e]) {
					t.Fatalf("%s epoch %d: two streams differ", cfgName(c), e)
				}
			}
			if c.Mode != Eval && slices.Equal(a[0], a[1]) {
				t.Errorf("%s: epochs 0 and 1 are the same order", cfgName(c))
			}
			if c.Mode == Eval && !slices.Equal(a[0], a[1]) {
				t.Errorf("%s: eval order changed between epochs", cfgName(c))
			}
			c2 := c
			c2.Seed++
			if c.Mode != Eval && slices.Equal(epochs(mustNew(t, c2), 1)[0], a[0]) {
				t.Errorf("%s: seed+1 gives the same order", cfgName(c))
			}
		}
	}
}

// The pure At, called in any order (as prefetching producers would), gives
// what Next gives: the number of workers cannot change the sequence.
func TestStreamAtMatchesNext(t *testing.T) {
	for _, c := range modeConfigs(211) {
		c.WorldSize, c.Rank = 4, 1
		s := mustNew(t, c)
		s.NextEpoch()
		want := drain(s)
		rng := rand.New(rand.NewPCG(1, 2))
		for _, p := range rng.Perm(len(want)) {
			if got := s.At(int64(p)); got != want[p] {
				t.Fatalf("%s: At(%d)=%d, Next gave %d", cfgName(c), p, got, want[p])
			}
		}
		mustPanic(t, "At(Len)", func() { s.At(s.Len()) })
	}
}

func TestRanksGlobalOrder(t *testing.T) {
	// Rank r's p-th sample is position r + p·W of the epoch's global order.
	const n = 50
	for _, w := range []int{1, 2, 3, 7, 64} {
		for r := range w {
			s := mustNew(t, Config{Records: n, Seed: 1, WorldSize: w, Rank: r})
			s.NextEpoch()
			perm, _ := NewPermutation(n, 1, 1)
			for p, got := range drain(s) {
				if want := perm.At(int64(r+p*w) % n); got != want {
					t.Fatalf("W=%d r=%d p=%d: %d, want global position %d = %d", w, r, p, got, r+p*w, want)
				}
			}
		}
	}
}

func TestRanksDisjointEqualCounts(t *testing.T) {
	for _, n := range []int64{1, 2, 7, 100, 101, 1009} {
		for _, c := range modeConfigs(n) {
			if c.Mode == Eval || c.Mode == SubsetDraws {
				continue
			}
			for _, w := range []int{1, 2, 3, 8} {
				for _, b := range []int{1, 4} {
					c.WorldSize, c.BatchSize = w, b
					checkRanks(t, c)
				}
			}
		}
	}
}

func checkRanks(t *testing.T, c Config) {
	t.Helper()
	count := map[int64]int{}
	var length int64 = -1
	var n int64
	for r := range c.WorldSize {
		c.Rank = r
		s, err := New(c)
		if c.Tail == Drop && errors.Is(err, ErrConfig) {
			return // too few records to drop to a whole batch per rank
		}
		if err != nil {
			t.Fatalf("%s: %v", cfgName(c), err)
		}
		n = s.n
		s.NextEpoch()
		got := drain(s)
		if length >= 0 && int64(len(got)) != length {
			t.Fatalf("%s: %d samples, rank 0 had %d", cfgName(c), len(got), length)
		}
		length = int64(len(got))
		if length != s.Len() || length%int64(c.BatchSize) != 0 {
			t.Fatalf("%s: %d samples, Len()=%d, batch %d", cfgName(c), length, s.Len(), c.BatchSize)
		}
		for _, v := range got {
			count[v]++
		}
	}
	w, b := int64(c.WorldSize), int64(c.BatchSize)
	switch c.Tail {
	case Drop:
		if want := n / w / b * b; length != want {
			t.Errorf("%s: drop gives %d per rank, want %d", cfgName(c), length, want)
		}
		for v, k := range count {
			if k != 1 {
				t.Fatalf("%s: drop: record %d taken %d times", cfgName(c), v, k)
			}
		}
	case Wrap:
		if want := ((n+w-1)/w + b - 1) / b * b; length != want {
			t.Errorf("%s: wrap gives %d per rank, want %d", cfgName(c), length, want)
		}
		if int64(len(count)) != n {
			t.Fatalf("%s: wrap covers %d of %d records", cfgName(c), len(count), n)
		}
		// Padding repeats at most ⌈padding/n⌉ extra times per record.
		extra := (length*w - n + n - 1) / n
		for v, k := range count {
			if int64(k) > 1+extra {
				t.Fatalf("%s: wrap: record %d taken %d times", cfgName(c), v, k)
			}
		}
	}
}

func TestEvalExactlyOnce(t *testing.T) {
	for _, n := range []int64{1, 2, 7, 10, 1009} {
		for _, w := range []int{1, 2, 3, 4, 16} {
			seen := make([]int, n)
			var lengths []int64
			for r := range w {
				s := mustNew(t, Config{Mode: Eval, Records: n, WorldSize: w, Rank: r, BatchSize: 4})
				got := drain(s)
				lengths = append(lengths, int64(len(got)))
				for p, v := range got {
					if v != int64(r+p*w) {
						t.Fatalf("n=%d W=%d r=%d: position %d is %d, want dataset order %d", n, w, r, p, v, r+p*w)
					}
					seen[v]++
				}
			}
			for v, k := range seen {
				if k != 1 {
					t.Fatalf("n=%d W=%d: record %d seen %d times", n, w, v, k)
				}
			}
			if slices.Max(lengths)-slices.Min(lengths) > 1 {
				t.Errorf("n=%d W=%d: rank counts %v differ by more than one", n, w, lengths)
			}
		}
	}
}

// event is one step of a stream: an index, or an epoch change.
type event struct{ epoch, index int64 }

// run takes k events from s, calling NextEpoch at epoch ends and counting every
// seventh index as skipped.
func run(s *Stream, k int) []event {
	var out []event
	for len(out) < k {
		i, ok := s.Next()
		if !ok {
			s.NextEpoch()
			continue
		}
		if i%7 == 0 {
			s.CountSkipped(1)
		}
		out = append(out, event{s.Epoch(), i})
	}
	return out
}

func TestResumeEquality(t *testing.T) {
	for _, c := range modeConfigs(97) {
		for _, w := range []int{1, 3} {
			c.WorldSize, c.Rank = w, w-1
			full := mustNew(t, c)
			length := int(full.Len())
			total := 3*length + 5
			want := run(full, total)
			cuts := []int{0, 1, length - 1, length, length + 1, 2 * length, total - 1}
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range 10 {
				cuts = append(cuts, rng.IntN(total))
			}
			for _, cut := range cuts {
				if cut < 0 {
					continue
				}
				a := mustNew(t, c)
				got := run(a, cut)
				enc, err := a.State().Encode()
				if err != nil {
					t.Fatal(err)
				}
				st, err := DecodeState(enc)
				if err != nil {
					t.Fatalf("%s cut %d: decode %s: %v", cfgName(c), cut, enc, err)
				}
				b, err := Restore(c, st)
				if err != nil {
					t.Fatalf("%s cut %d: restore: %v", cfgName(c), cut, err)
				}
				if b.Skipped() != a.Skipped() || b.Epoch() != a.Epoch() || b.Position() != a.Position() {
					t.Fatalf("%s cut %d: restored (e%d p%d s%d), saved (e%d p%d s%d)", cfgName(c), cut,
						b.Epoch(), b.Position(), b.Skipped(), a.Epoch(), a.Position(), a.Skipped())
				}
				got = append(got, run(b, total-cut)...)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: resumed at %d differs from the uninterrupted stream", cfgName(c), cut)
				}
				if b.Skipped() != full.Skipped() {
					t.Fatalf("%s cut %d: skipped %d, uninterrupted %d", cfgName(c), cut, b.Skipped(), full.Skipped())
				}
			}
		}
	}
}

func TestWorldSizeChangeAtEpochBoundary(t *testing.T) {
	for _, c := range modeConfigs(101) {
		c.WorldSize, c.Rank = 3, 1
		old := mustNew(t, c)
		old.NextEpoch()
		atStart := old.State() // epoch 1, position 0
		drain(old)
		atEnd := old.State() // epoch 1, position Len
		old.NextEpoch()
		run(old, 2)
		mid := old.State() // epoch 2, position 2

		for _, nw := range []int{1, 2, 5} {
			for r := range nw {
				nc := c
				nc.WorldSize, nc.Rank = nw, r
				for _, tc := range []struct {
					name  string
					st    State
					epoch int
				}{{"start", atStart, 1}, {"end", atEnd, 2}} {
					fresh := mustNew(t, nc)
					for range tc.epoch {
						fresh.NextEpoch()
					}
					want := epochs(fresh, 2)
					s, err := Restore(nc, tc.st)
					if err != nil {
						t.Fatalf("%s → W=%d r=%d at %s: %v", cfgName(c), nw, r, tc.name, err)
					}
					if s.Epoch() != int64(tc.epoch) || s.Position() != 0 {
						t.Fatalf("restored at epoch %d position %d, want %d/0", s.Epoch(), s.Position(), tc.epoch)
					}
					got := epochs(s, 2)
					for e := range want {
						if !slices.Equal(got[e], want[e]) {
							t.Fatalf("%s → W=%d r=%d at %s: epoch %d differs from a fresh start", cfgName(c), nw, r, tc.name, tc.epoch+e)
						}
					}
				}
				if _, err := Restore(nc, mid); !errors.Is(err, ErrTopology) {
					t.Errorf("%s → W=%d r=%d mid-epoch: err=%v, want ErrTopology", cfgName(c), nw, r, err)
				}
			}
		}
	}
}

func TestRestoreRefusesMismatch(t *testing.T) {
	base := Config{Records: 100, Seed: 9, BatchSize: 4, Fingerprint: testFP}
	s := mustNew(t, base)
	run(s, 10)
	st := s.State()
	changes := map[string]func(*Config){
		"fingerprint": func(c *Config) {
			c.Fingerprint = Fingerprint(FingerprintInput{Manifest: []byte("other manifest"), PairKind: "simclr", Seed: 9, BatchSize: 4})
		},
		"no fingerprint": func(c *Config) { c.Fingerprint = "" },
		"seed":           func(c *Config) { c.Seed = 10 },
		"batch size":     func(c *Config) { c.BatchSize = 8 },
		"tail":           func(c *Config) { c.Tail = Drop },
		"records":        func(c *Config) { c.Records = 101 },
		"mode":           func(c *Config) { c.Mode = Eval },
	}
	for name, change := range changes {
		c := base
		change(&c)
		if _, err := Restore(c, st); !errors.Is(err, ErrFingerprint) {
			t.Errorf("%s changed: err=%v, want ErrFingerprint", name, err)
		}
	}
	if _, err := Restore(base, st); err != nil {
		t.Errorf("unchanged: %v", err)
	}
	other := base
	other.WorldSize, other.Rank = 2, 1 // mid-epoch, another rank
	if _, err := Restore(other, st); !errors.Is(err, ErrTopology) {
		t.Errorf("rank changed mid-epoch: err=%v, want ErrTopology", err)
	}
	bad := st
	bad.Version = 2
	if _, err := Restore(base, bad); !errors.Is(err, ErrVersion) {
		t.Errorf("version 2: err=%v, want ErrVersion", err)
	}
	bad = st
	bad.Position = 1000
	if _, err := Restore(base, bad); !errors.Is(err, ErrState) {
		t.Errorf("position past the epoch: err=%v, want ErrState", err)
	}
}

func TestFingerprint(t *testing.T) {
	in := FingerprintInput{Manifest: []byte("m"), PairKind: "simclr", Recipe: []byte(`{}`), Seed: 1, BatchSize: 256, Tail: Wrap}
	fp := Fingerprint(in)
	if !isHex(fp, 64) {
		t.Fatalf("fingerprint %q is not 64 hex digits", fp)
	}
	if Fingerprint(in) != fp {
		t.Fatal("fingerprint not deterministic")
	}
	// Every field matters, and moving bytes between fields changes the hash.
	variants := []FingerprintInput{in, in, in, in, in, in, in}
	variants[0].Manifest = []byte("n")
	variants[1].PairKind = "inpainting"
	variants[2].Recipe = []byte(`{ }`)
	variants[3].Seed = 2
	variants[4].BatchSize = 255
	variants[5].Tail = Drop
	variants[6].Manifest, variants[6].PairKind = []byte("ms"), "imclr"
	seen := map[string]int{fp: -1}
	for i, v := range variants {
		f := Fingerprint(v)
		if j, dup := seen[f]; dup {
			t.Errorf("variant %d has the same fingerprint as %d", i, j)
		}
		seen[f] = i
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]Config{
		"no records":          {Records: 0},
		"negative records":    {Records: -5},
		"too many records":    {Records: MaxRecords + 1},
		"rank ≥ world":        {Records: 10, WorldSize: 2, Rank: 2},
		"negative rank":       {Records: 10, Rank: -1},
		"world too large":     {Records: 10, WorldSize: MaxWorldSize + 1},
		"negative batch":      {Records: 10, BatchSize: -1},
		"bad mode":            {Records: 10, Mode: 9},
		"bad tail":            {Records: 10, Tail: 9},
		"drop leaves nothing": {Records: 10, WorldSize: 4, BatchSize: 4, Tail: Drop},
		"shards no window":    {Mode: Shards, ShardSizes: []int64{3, 4}},
		"shards empty":        {Mode: Shards, ShardSizes: []int64{0, 0}, Window: 2},
		"shards negative":     {Mode: Shards, ShardSizes: []int64{3, -1}, Window: 2},
		"shards sum mismatch": {Mode: Shards, Records: 8, ShardSizes: []int64{3, 4}, Window: 2},
		"window in shuffle":   {Records: 10, Window: 4},
		"subset empty":        {Mode: SubsetDraws, Records: 10},
		"subset out of range": {Mode: SubsetDraws, Records: 10, Subset: []int64{1, 10}},
		"subset in shuffle":   {Records: 10, Subset: []int64{1}},
	}
	for name, c := range cases {
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err=%v, want ErrConfig", name, err)
		}
	}
}

func TestShardOrderWindows(t *testing.T) {
	sizes := []int64{40, 0, 7, 100, 1, 33, 64}
	var n int64
	for _, s := range sizes {
		n += s
	}
	for _, window := range []int64{1, 5, 16, 64, 1000} {
		o, err := NewShardOrder(sizes, window, 11, 2)
		if err != nil {
			t.Fatal(err)
		}
		// The read sequence is the shards, whole and front to back.
		var shardStarts []int64
		var acc int64
		for _, s := range sizes {
			shardStarts = append(shardStarts, acc)
			acc += s
		}
		for j := int64(0); j < n; {
			first := o.ReadAt(j)
			k := slices.Index(shardStarts, first)
			if k < 0 {
				t.Fatalf("window %d: read sequence position %d starts mid-shard at record %d", window, j, first)
			}
			for k+1 < len(sizes) && sizes[k] == 0 {
				k++ // empty shards share their start with the next one
			}
			for off := range sizes[k] {
				if got := o.ReadAt(j + off); got != first+off {
					t.Fatalf("window %d: shard read out of order at %d", window, j+off)
				}
			}
			j += sizes[k]
		}
		// Each window of the order is a permutation of the same window of the
		// read sequence: the stated memory bound.
		seen := make([]bool, n)
		w := o.Window()
		for first := int64(0); first < n; first += w {
			last := min(first+w, n)
			want := map[int64]bool{}
			for j := first; j < last; j++ {
				want[o.ReadAt(j)] = true
			}
			for i := first; i < last; i++ {
				v := o.At(i)
				if !want[v] || seen[v] {
					t.Fatalf("window %d: position %d gives record %d, outside its window or repeated", window, i, v)
				}
				seen[v] = true
			}
		}
	}
	// The shard order changes with the epoch.
	a, _ := NewShardOrder(sizes, 1, 11, 0)
	b, _ := NewShardOrder(sizes, 1, 11, 1)
	same := true
	for i := range n {
		if a.At(i) != b.At(i) {
			same = false
		}
	}
	if same {
		t.Error("shard order identical in epochs 0 and 1")
	}
}
