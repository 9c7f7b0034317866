package sampler

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBaselineFisherYates is the per-element cost of the usual way to get
// an epoch's order (math/rand/v2 PCG, an in-memory Fisher–Yates shuffle of n
// int64, 8 MB at this n): compare it with BenchmarkPermutationAt in the same run.
func BenchmarkBaselineFisherYates(b *testing.B) {
	const n = 1_000_003
	perm := make([]int64, n)
	for i := range perm {
		perm[i] = int64(i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	i := n - 1
	for b.Loop() {
		j := rng.IntN(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
		if i--; i == 0 {
			i = n - 1
		}
	}
}

func BenchmarkPermutationAt(b *testing.B) {
	// 1,000,003 uses a 2^20 domain (1.05 n); 1,048,577 = 2^20+1 uses 2^21
	// (about 2 n), the most cycle walking; 20 uses the small-n table.
	for _, n := range []int64{20, 1_000_003, 1<<20 + 1} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			p, err := NewPermutation(n, 1, 2)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var sink int64
			i := int64(0)
			for b.Loop() {
				sink += p.At(i)
				if i++; i == n {
					i = 0
				}
			}
			if sink < 0 {
				b.Fatal(sink)
			}
		})
	}
}

func BenchmarkShardOrderAt(b *testing.B) {
	sizes := make([]int64, 1000)
	for i := range sizes {
		sizes[i] = 1000 + int64(i%7)
	}
	o, err := NewShardOrder(sizes, 4096, 1, 2)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var sink int64
	i := int64(0)
	for b.Loop() {
		sink += o.At(i)
		if i++; i == o.Len() {
			i = 0
		}
	}
	if sink < 0 {
		b.Fatal(sink)
	}
}

func BenchmarkStreamNext(b *testing.B) {
	const n = 1_000_003
	sizes := make([]int64, 1000)
	for i := range sizes {
		sizes[i] = n / 1000
	}
	sizes[0] += n % 1000
	sub := make([]int64, 1000)
	for i := range sub {
		sub[i] = int64(i * 997)
	}
	for _, c := range []Config{
		{Mode: Shuffle, Records: n, WorldSize: 8, Rank: 3, BatchSize: 256},
		{Mode: Shards, ShardSizes: sizes, Window: 4096, WorldSize: 8, Rank: 3, BatchSize: 256},
		{Mode: Eval, Records: n, WorldSize: 8, Rank: 3},
		{Mode: SubsetDraws, Records: n, Subset: sub, WorldSize: 8, Rank: 3, BatchSize: 256},
	} {
		b.Run(c.Mode.String(), func(b *testing.B) {
			s, err := New(c)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			var sink int64
			for b.Loop() {
				i, ok := s.Next()
				if !ok {
					s.NextEpoch()
					i, _ = s.Next()
				}
				sink += i
			}
			if sink < 0 {
				b.Fatal(sink)
			}
		})
	}
}
