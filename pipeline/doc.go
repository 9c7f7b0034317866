// Package pipeline turns shard records into Arrow record batches of paired
// views for self-supervised training: it is pairflow's runtime.
//
// Pipeline (New, Resume, Batches, State, Stats, Close; configured by Config)
// runs the stages: read, decode, augment and pair on a pool of workers that
// take sample positions from the sampler, then an assembler that puts samples
// back in order and fills the batches. Output is a pure function of (dataset,
// config, seed, epoch, rank, world size): the worker count and prefetch depth
// never change a byte. See the Pipeline type for the memory bound.
//
// The batches follow the Arrow contract of package arrowpair (SCHEMA.md):
// pipeline fills them with an arrowpair.BatchBuilder, and consumers read them
// with arrowpair's readers or write them out with arrowpair.WriteIPC. This
// package does not define the schema, and consumers of batches need not
// import it.
//
// Ownership follows arrow-go: a batch from Batches belongs to the caller,
// who Releases it.
package pipeline
