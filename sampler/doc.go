// Package sampler decides which record comes next: the seeded, resumable order
// of samples per epoch and per rank that a pairflow pipeline reads in.
//
// It is a small, pure package: every index it produces is a function of the
// configuration, the epoch and the position, computed on demand in O(1) memory
// whatever the dataset size (the shard mode keeps two integers per shard). It
// runs no goroutines, reads no files and knows nothing about images, workers or
// Arrow.
//
// # Orders
//
//   - [Permutation]: the global order of an epoch, a seeded bijection of
//     [0, n) (a Feistel network with cycle walking) keyed by (seed, epoch).
//     Position i is computed directly by At(i); Index is the inverse.
//   - [ShardOrder]: for sequential streaming, shards are shuffled and then
//     records are shuffled within windows of a fixed size; a reader needs to
//     buffer at most one window of records.
//   - Eval mode: dataset order, one pass, every record exactly once.
//   - [Subset]: draws with replacement from a (for example class-balanced,
//     see [BalancedSubset]) labelled subset, for supervised training and
//     fine-tuning with few labels.
//
// # Ranks and tails
//
// Rank r of a world of W takes positions r, r+W, r+2W, … of the epoch's
// global order. In the training modes every rank gets the same number of
// samples per epoch, a whole number of batches: Wrap (the default) pads by
// wrapping around to the start of the order, Drop cuts the tail. Eval mode
// never pads: rank counts differ by at most one.
//
// # How a pipeline uses it
//
// The sequence a rank's consumer (the trainer) sees is exactly the rank's
// [Stream] sequence, whatever the number of workers. A pipeline keeps one
// Stream per rank on the consumer side and advances it with Next only as
// samples are handed to the consumer; producers, however many, compute the
// indices they prefetch with the pure [Stream.At] (or a clone built by
// [Restore] from the consumer's State) and the pipeline restores their order
// before delivery. Samples the pipeline could not deliver (a corrupt record)
// are still taken with Next and counted with [Stream.CountSkipped]. The
// consumer-side Stream's [Stream.State] is then what a checkpoint saves:
// restoring it yields the samples the consumer has not yet seen, not those a
// producer had prefetched.
//
// # State
//
// [State] is versioned JSON: seed, epoch, position, skipped count, world size,
// rank, a [Fingerprint] of what outside the sampler fixes the stream (dataset
// manifest, pair kind, recipe, seed, batch size, pad/drop policy) and a hash
// of the sampler's own parameters. Restoring under a different fingerprint is
// refused ([ErrFingerprint]); worker count, prefetch depth and CPU split are not
// part of it and may change freely. The world size may change at an epoch
// boundary, giving the same stream as a fresh start at that epoch with the new
// world size; mid-epoch it is refused ([ErrTopology]).
//
// # What it is not for
//
// It does not read shards, decode or augment images, run workers or batch
// samples; it does not seed augmentations (a pipeline can derive those from
// the seed, the epoch and the record index). Orders are reproducible, not secret: the Feistel
// round function is a fast mixer, not a cryptographic cipher.
package sampler
