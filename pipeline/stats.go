package pipeline

import (
	"sync/atomic"
	"time"
)

// Stage names, in pipeline order.
const (
	StageRead     = "read"
	StageDecode   = "decode"
	StageAugment  = "augment"
	StagePair     = "pair"
	StageAssemble = "assemble"
	StageEmit     = "emit"
)

// StageStats describes one stage since the pipeline started.
//
// Read, decode, augment and pair run fused in each worker (one sample passes
// through all four on one goroutine, without hand-off), so they share the
// workers' blocked time: a worker blocks only waiting for a free ring slot,
// reported as BlockedOut of each of the four. Assemble blocks on input while
// the next sample in order is unfinished and on output while the batch
// channel is full. Emit is Batches: BlockedIn is the caller's wait for a
// batch, BlockedOut the time spent in the caller's loop body.
type StageStats struct {
	Name        string
	Goroutines  int
	Items       int64         // samples (emit: rows handed out)
	ItemsPerSec float64       // Items / Elapsed
	Busy        time.Duration // time working, summed over the stage's goroutines
	// BusyFraction is Busy / (Elapsed × Goroutines).
	BusyFraction float64
	BlockedIn    time.Duration
	BlockedOut   time.Duration
}

// Stats is a snapshot of the running pipeline.
type Stats struct {
	// Elapsed is the time since the first Batches call; FirstBatch the time
	// from that call to the first batch handed out (0 before it).
	Elapsed, FirstBatch time.Duration
	Stages              []StageStats // read, decode, augment, pair, assemble, emit
	// Samples in flight between workers and assembler: claimed by a worker
	// and not yet put in a batch (bound RingSlots), now and at most so far.
	InFlight, MaxInFlight, RingSlots int
	// Finished batches waiting for the caller (bound Prefetch), now and at
	// most so far.
	OutQueue, MaxOutQueue, Prefetch int
	Batches                         int64 // handed to the caller
	Skipped                         int64 // records skipped so far (handed out)
}

type counter struct {
	items, busy, blockedIn, blockedOut atomic.Int64
}

func (c *counter) add(d time.Duration) {
	c.items.Add(1)
	c.busy.Add(int64(d))
}

// workerStats are one worker's counters (its own cache lines).
type workerStats struct {
	read, decode, augment, pair counter
	blockedOut                  atomic.Int64
	_                           [64]byte
}

type stats struct {
	workers        []workerStats
	assemble, emit counter
	ring, prefetch int
	maxIn, maxOut  atomic.Int64
	firstBatch     atomic.Int64 // ns from start to the first batch handed out
}

func newStats(workers, ring, prefetch int) *stats {
	return &stats{workers: make([]workerStats, workers), ring: ring, prefetch: prefetch}
}

func storeMax(m *atomic.Int64, v int64) {
	for {
		old := m.Load()
		if v <= old || m.CompareAndSwap(old, v) {
			return
		}
	}
}

func (s *stats) noteInFlight(n int) { storeMax(&s.maxIn, int64(n)) }
func (s *stats) noteOut(n int)      { storeMax(&s.maxOut, int64(n)) }

// Stats returns a snapshot of the per-stage counters and queue depths. It is
// safe to call from any goroutine, before, during and after the run.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	started, start := p.started, p.startTime
	out := Stats{Batches: p.batches, Skipped: p.skipsTotal}
	p.mu.Unlock()
	if !started {
		return out
	}
	s := p.st
	out.Elapsed = time.Since(start)
	out.FirstBatch = time.Duration(s.firstBatch.Load())
	el := out.Elapsed.Seconds()
	mk := func(name string, g int, items, busy, in, outb int64) StageStats {
		st := StageStats{Name: name, Goroutines: g, Items: items, Busy: time.Duration(busy),
			BlockedIn: time.Duration(in), BlockedOut: time.Duration(outb)}
		if el > 0 {
			st.ItemsPerSec = float64(items) / el
			st.BusyFraction = time.Duration(busy).Seconds() / (el * float64(g))
		}
		return st
	}
	var blocked int64
	for i := range s.workers {
		blocked += s.workers[i].blockedOut.Load()
	}
	sel := []func(*workerStats) *counter{
		func(w *workerStats) *counter { return &w.read },
		func(w *workerStats) *counter { return &w.decode },
		func(w *workerStats) *counter { return &w.augment },
		func(w *workerStats) *counter { return &w.pair },
	}
	for i, name := range []string{StageRead, StageDecode, StageAugment, StagePair} {
		var items, busy int64
		for j := range s.workers {
			c := sel[i](&s.workers[j])
			items += c.items.Load()
			busy += c.busy.Load()
		}
		out.Stages = append(out.Stages, mk(name, len(s.workers), items, busy, 0, blocked))
	}
	a, e := &s.assemble, &s.emit
	out.Stages = append(out.Stages,
		mk(StageAssemble, 1, a.items.Load(), a.busy.Load(), a.blockedIn.Load(), a.blockedOut.Load()),
		mk(StageEmit, 1, e.items.Load(), e.busy.Load(), e.blockedIn.Load(), e.blockedOut.Load()))
	out.InFlight, out.RingSlots = len(p.sem), s.ring
	out.OutQueue, out.Prefetch = len(p.out), s.prefetch
	out.MaxInFlight, out.MaxOutQueue = int(s.maxIn.Load()), int(s.maxOut.Load())
	return out
}
