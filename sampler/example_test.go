package sampler_test

import (
	"errors"
	"fmt"

	"github.com/pairflow/pairflow/sampler"
)

// The order of an epoch is a pure function of (n, seed, epoch); any position
// can be computed directly.
func ExamplePermutation() {
	p, err := sampler.NewPermutation(10, 42, 0)
	if err != nil {
		panic(err)
	}
	var order []int64
	for i := range p.Len() {
		order = append(order, p.At(i))
	}
	fmt.Println(order)
	fmt.Println("position of record 3:", p.Index(3))
	// Output:
	// [5 6 2 7 8 4 9 3 1 0]
	// position of record 3: 7
}

// Two ranks split an epoch of 5 records; with the default Wrap policy both get
// 3 samples, the first position of the order being repeated as padding.
func ExampleStream_ranks() {
	for rank := range 2 {
		s, err := sampler.New(sampler.Config{Records: 5, Seed: 7, WorldSize: 2, Rank: rank})
		if err != nil {
			panic(err)
		}
		fmt.Print("rank ", rank, ":")
		for i, ok := s.Next(); ok; i, ok = s.Next() {
			fmt.Print(" ", i)
		}
		fmt.Println()
	}
	// Output:
	// rank 0: 4 0 2
	// rank 1: 3 1 4
}

// Evaluation: dataset order, one pass, no padding.
func ExampleStream_eval() {
	for rank := range 3 {
		s, _ := sampler.New(sampler.Config{Mode: sampler.Eval, Records: 7, WorldSize: 3, Rank: rank})
		fmt.Print("rank ", rank, ":")
		for i, ok := s.Next(); ok; i, ok = s.Next() {
			fmt.Print(" ", i)
		}
		fmt.Println()
	}
	// Output:
	// rank 0: 0 3 6
	// rank 1: 1 4
	// rank 2: 2 5
}

// A checkpoint saves the consumer-side stream's State; restoring it continues
// exactly where the consumer stopped. A different dataset is refused.
func ExampleRestore() {
	fp := sampler.Fingerprint(sampler.FingerprintInput{
		Manifest: []byte("manifest bytes"), PairKind: "simclr",
		Recipe: []byte(`{"crop":{"scale":[0.08,1]}}`), Seed: 1, BatchSize: 2,
	})
	cfg := sampler.Config{Records: 8, Seed: 1, BatchSize: 2, Fingerprint: fp}
	s, _ := sampler.New(cfg)
	s.Next()
	s.Next()
	saved, _ := s.State().Encode()

	st, err := sampler.DecodeState(saved)
	if err != nil {
		panic(err)
	}
	r, _ := sampler.Restore(cfg, st)
	a, _ := s.Next()
	b, _ := r.Next()
	fmt.Println("same next sample:", a == b)

	other := cfg
	other.Fingerprint = sampler.Fingerprint(sampler.FingerprintInput{Manifest: []byte("another dataset")})
	_, err = sampler.Restore(other, st)
	fmt.Println("other dataset refused:", errors.Is(err, sampler.ErrFingerprint))
	// Output:
	// same next sample: true
	// other dataset refused: true
}

// A 10% class-balanced labelled subset, then batches drawn from it with
// replacement.
func ExampleBalancedSubset() {
	labels := []int32{0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}
	sub, _ := sampler.BalancedSubset(labels, 0.1, 3)
	fmt.Println("subset:", sub)
	s, _ := sampler.New(sampler.Config{Mode: sampler.SubsetDraws, Records: int64(len(labels)), Subset: sub, Seed: 3, BatchSize: 4})
	var draws []int64
	for i, ok := s.Next(); ok; i, ok = s.Next() {
		draws = append(draws, i)
	}
	fmt.Println("draws:", draws)
	// Output:
	// subset: [8 11]
	// draws: [8 11 11 11]
}

// How a pipeline uses a Stream: producers prefetch with the pure At, however
// many there are; the consumer-side Stream advances with Next only when a
// sample is handed to the trainer, so its State never counts prefetched work.
func Example_pipeline() {
	cfg := sampler.Config{Records: 100, Seed: 11, BatchSize: 4}
	consumer, _ := sampler.New(cfg)

	// Producers run 8 positions ahead of the consumer.
	var prefetched []int64
	for p := consumer.Position(); p < consumer.Position()+8; p++ {
		prefetched = append(prefetched, consumer.At(p))
	}
	// The trainer takes one batch of 4; then the job is checkpointed.
	for range 4 {
		consumer.Next()
	}
	st := consumer.State()

	// After a restart the stream resumes at the 5th prefetched sample.
	resumed, _ := sampler.Restore(cfg, st)
	next, _ := resumed.Next()
	fmt.Println("position saved:", st.Position)
	fmt.Println("resumes at the 5th prefetched sample:", next == prefetched[4])
	// Output:
	// position saved: 4
	// resumes at the 5th prefetched sample: true
}
