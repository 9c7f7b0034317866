package pipeline

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"runtime/debug"
	"time"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/sampler"
	"github.com/pairflow/pairflow/shards"
	"github.com/sourcegraph/conc"
)

// ringPerWorker is the number of sample slots per worker in the ring: how
// far, in samples, the workers may run ahead of the assembler.
const ringPerWorker = 8

// maxReplacements bounds the records tried for one position under the skip
// policy before the pipeline gives up (ErrSkipBudget).
const maxReplacements = 16

// Views of ops.NewRand reserved for the pair kinds' own draws (mask, patch
// grid, rotation class); recipe views use 0 … Views−1.
const (
	randMask = 1<<20 + iota
	randGrid
	randRotation
)

// slot is one place of the ring; sample t lives in slot t mod len(ring).
// A worker fills res and signals ready; the assembler reads it and frees the
// slot by taking a token from the semaphore.
type slot struct {
	ready chan struct{} // capacity 1
	res   result
}

// result is one sample, ready to become a batch row. Its buffers are reused
// by the next sample of the slot.
type result struct {
	err      error
	omitted  bool // eval: the record was bad and is left out
	skips    []Skip
	sampleID int64
	key      string
	label    int32
	hasLabel bool
	epoch    int64
	class    uint8
	params   []ops.Params // one per augmentation column
	pp       []*ops.Params
	// The sample's tensors, per tensor column: in direct mode slices of the
	// batch's reserved Rows, bound per sample; otherwise the slot's own
	// buffers, copied into the batch by the assembler.
	f32 [][]float32 // float32 columns
	u8  [][]uint8   // uint8 columns
}

// batchKey names a batch of the run in direct mode: batch pos/BatchSize of
// an epoch.
type batchKey struct{ epoch, batch int64 }

// stagedRows returns the reserved image storage of batch k, reserving it if
// no worker or the assembler has yet. Safe for concurrent use.
func (p *Pipeline) stagedRows(k batchKey) *arrowpair.Rows {
	p.stageMu.Lock()
	defer p.stageMu.Unlock()
	r := p.staged[k]
	if r == nil {
		r = p.builder.ReserveRows()
		p.staged[k] = r
	}
	return r
}

// unstage forgets batch k once every row of it is written: no worker asks
// for it again.
func (p *Pipeline) unstage(k batchKey) {
	p.stageMu.Lock()
	delete(p.staged, k)
	p.stageMu.Unlock()
}

// releaseRun frees the batch builder and the reservations left when a run
// stops early. The goroutines must have ended (workers may write into
// reserved and adopted rows until then). Safe to call again.
func (p *Pipeline) releaseRun() {
	p.stageMu.Lock()
	defer p.stageMu.Unlock()
	if p.builder != nil {
		p.builder.Release() // first: it frees the rows it adopted
		p.builder = nil
	}
	for k, r := range p.staged {
		r.Release() // a no-op for the rows the builder adopted
		delete(p.staged, k)
	}
}

// run starts the goroutines. p.mu is held.
func (p *Pipeline) run(ctx context.Context) {
	p.started = true
	p.startTime = time.Now()
	p.prefetched.Store(-1)
	p.ctx, p.cancel = context.WithCancel(ctx)
	workers := p.cfg.Workers
	r := ringPerWorker * workers
	p.ring = make([]slot, r)
	for i := range p.ring {
		p.ring[i].ready = make(chan struct{}, 1)
	}
	p.sem = make(chan struct{}, r)
	p.out = make(chan batchMsg, p.cfg.Prefetch)
	p.st = newStats(workers, r, p.cfg.Prefetch)
	skipped, epochSkipped := p.consumer.Skipped(), p.epochSkipped
	p.wg = conc.NewWaitGroup()
	// Batches alive at once: Prefetch queued, one the assembler is handing
	// over, one the consumer holds, and those the workers are writing (the
	// ring spans at most ⌈r/BatchSize⌉+1 batches). Keeping that many lets a
	// running stream reuse its image memory instead of allocating it.
	bs := p.cfg.BatchSize
	keep := min(p.cfg.Prefetch+2+(r+bs-1)/bs+1, 1024)
	b, err := arrowpair.NewBatchBuilder(p.cfg.Allocator, p.layout, bs, arrowpair.KeepBatches(keep))
	if err != nil {
		p.wg.Go(func() {
			defer close(p.out)
			select {
			case p.out <- batchMsg{err: fmt.Errorf("pipeline: batch builder: %w", err)}:
			case <-p.ctx.Done():
			}
		})
		return
	}
	p.builder = b
	// Direct mode: workers write views straight into the batch (see
	// Pipeline's doc). Eval leaves bad records out, which moves the later
	// rows of a batch, so it keeps per-slot buffers and copies.
	p.direct = p.cfg.Kind != arrowpair.Eval && p.startPos%int64(bs) == 0
	p.staged = map[batchKey]*arrowpair.Rows{}
	for i := range workers {
		w := &worker{p: p, st: &p.st.workers[i]}
		w.dec.MaxPixels = p.cfg.MaxPixels
		p.wg.Go(func() { w.loop(p.ctx) })
	}
	p.wg.Go(func() { p.assemble(p.ctx, skipped, epochSkipped) })
}

// locate returns the epoch and rank position of run sample t.
func (p *Pipeline) locate(t int64) (epoch, pos int64) {
	abs := p.startPos + t
	return p.startEpoch + abs/p.length, abs % p.length
}

// tensorCols returns, per tensor column, whether it holds float32 and its
// values per row.
func (p *Pipeline) tensorCols() (f32 []bool, elems []int) {
	l := &p.layout
	for i := range l.TensorColumns() {
		s := l.Shapes[0]
		if l.Kind == arrowpair.Contrastive {
			s = l.Shapes[i]
		}
		n := s.H * s.W * s.C
		isF := l.DType == arrowpair.Float32
		if l.Kind == arrowpair.Inpainting && i == 2 { // mask
			n, isF = s.H*s.W, false
		}
		f32 = append(f32, isF)
		elems = append(elems, n)
	}
	return f32, elems
}

// assemble takes samples in order from the ring, fills batches and sends
// them to Batches. It owns the BatchBuilder.
func (p *Pipeline) assemble(ctx context.Context, skipped, epochSkipped int64) {
	defer close(p.out)
	st := &p.st.assemble
	send := func(m batchMsg) bool {
		t0 := time.Now()
		select {
		case p.out <- m:
			st.blockedOut.Add(int64(time.Since(t0)))
			p.st.noteOut(len(p.out))
			return true
		case <-ctx.Done():
			if m.rec != nil {
				m.rec.Release()
			}
			return false
		}
	}
	b := p.builder // released by releaseRun, once the workers are done too
	isF32, _ := p.tensorCols()
	c := &p.cfg
	fracLimit := int64(-1)
	if c.Skip.MaxFraction > 0 {
		fracLimit = int64(math.Floor(c.Skip.MaxFraction * float64(p.length)))
	}
	ring := int64(len(p.ring))
	batch := int64(c.BatchSize)
	epoch := p.startEpoch
	var pendPos int64
	var pendSkips []Skip
	for t := int64(0); t < p.total; {
		e, pos := p.locate(t)
		if e != epoch {
			epoch, epochSkipped = e, 0
		}
		rows := min(batch-pos%batch, p.length-pos, p.total-t)
		key := batchKey{e, pos / batch}
		if p.direct {
			if err := b.Adopt(p.stagedRows(key)); err != nil {
				send(batchMsg{err: fmt.Errorf("pipeline: %w", err)})
				return
			}
		}
		for i := range rows {
			s := &p.ring[(t+i)%ring]
			t0 := time.Now()
			select {
			case <-s.ready:
			case <-ctx.Done():
				return
			}
			t1 := time.Now()
			st.blockedIn.Add(int64(t1.Sub(t0)))
			res := &s.res
			if res.err != nil {
				send(batchMsg{err: res.err})
				return
			}
			for _, sk := range res.skips {
				skipped++
				epochSkipped++
				var over string
				switch {
				case c.Skip.MaxCount > 0 && skipped > c.Skip.MaxCount:
					over = fmt.Sprintf("%d records skipped, max_count %d", skipped, c.Skip.MaxCount)
				case fracLimit >= 0 && epochSkipped > fracLimit:
					over = fmt.Sprintf("%d records skipped in epoch %d, max_fraction %v of %d allows %d", epochSkipped, epoch, c.Skip.MaxFraction, p.length, fracLimit)
				}
				if over != "" {
					send(batchMsg{err: fmt.Errorf("%w: %s; last: epoch %d position %d record %d (%s record %d): %s",
						ErrSkipBudget, over, sk.Epoch, sk.Position, sk.Index, sk.Shard, sk.Record, sk.Reason)})
					return
				}
				pendSkips = append(pendSkips, sk)
			}
			if !res.omitted {
				if err := p.appendRow(b, res, isF32, int(i)); err != nil {
					send(batchMsg{err: err})
					return
				}
			}
			<-p.sem // the slot is free
			st.items.Add(1)
			st.busy.Add(int64(time.Since(t1)))
		}
		t += rows
		pendPos += rows
		if b.Len() == 0 && t < p.total {
			continue // an eval batch whose records were all skipped: its positions go with the next batch
		}
		if p.direct {
			p.unstage(key) // all its rows are written
		}
		m := batchMsg{positions: pendPos, skips: pendSkips}
		if b.Len() > 0 {
			rec, err := b.NewRecordBatch()
			if err != nil {
				send(batchMsg{err: err})
				return
			}
			m.rec = rec
		}
		pendPos, pendSkips = 0, nil
		if !send(m) {
			return
		}
	}
	p.complete.Store(true)
}

// appendRow appends res's metadata as row want of b's batch and, unless the
// worker wrote its tensors into the batch already (direct mode), copies them.
func (p *Pipeline) appendRow(b *arrowpair.BatchBuilder, res *result, isF32 []bool, want int) error {
	row := arrowpair.Row{
		SampleID: uint64(res.sampleID), Key: res.key, Label: res.label, HasLabel: res.hasLabel,
		Epoch: res.epoch, Class: res.class, Params: res.pp,
	}
	i, err := b.Append(&row)
	if err != nil {
		return fmt.Errorf("pipeline: epoch %d record %d: %w", res.epoch, res.sampleID, err)
	}
	if p.direct {
		if i != want {
			return fmt.Errorf("pipeline: epoch %d record %d: %w: appended as row %d, written as row %d", res.epoch, res.sampleID, arrowpair.ErrRow, i, want)
		}
		return nil
	}
	for c, f := range isF32 {
		if f {
			err = b.SetFloat32(c, i, res.f32[c])
		} else {
			err = b.SetUint8(c, i, res.u8[c])
		}
		if err != nil {
			return fmt.Errorf("pipeline: epoch %d record %d: %w", res.epoch, res.sampleID, err)
		}
	}
	return nil
}

// worker runs the read, decode, augment and pair stages for one sample at a
// time. Its buffers are its own.
type worker struct {
	p       *Pipeline
	st      *workerStats
	scratch ops.Scratch
	dec     imageio.Decoder
	rec     shards.Record
	recIdx  int64 // the record w.rec holds, -1 if none
	src     ops.Image
	rot     ops.Image
	sub     ops.Image       // relative-patch: the patch being augmented
	rnd     ops.Rand        // the view's generator, handed to the recipe
	stream  *sampler.Stream // producer-side stream of streamEpoch (At only)
	sEpoch  int64
	perm    []int32         // mask patch choice
	rows    *arrowpair.Rows // direct mode: the batch rowsKey's storage
	rowsKey batchKey
	isF32   []bool
	elems   []int
	augDur  time.Duration
	pairDur time.Duration
}

func (w *worker) loop(ctx context.Context) {
	p := w.p
	w.isF32, w.elems = p.tensorCols()
	ring := int64(len(p.ring))
	for {
		t0 := time.Now()
		select {
		case p.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		w.st.blockedOut.Add(int64(time.Since(t0)))
		p.st.noteInFlight(len(p.sem))
		t := p.next.Add(1) - 1
		if t >= p.total {
			<-p.sem
			return
		}
		s := &p.ring[t%ring]
		w.process(t, &s.res)
		s.ready <- struct{}{}
	}
}

// streamFor returns a producer-side stream of epoch e (whose At is pure).
func (w *worker) streamFor(e int64) (*sampler.Stream, error) {
	if w.stream != nil && w.sEpoch == e {
		return w.stream, nil
	}
	s, err := sampler.New(w.p.scfg)
	if err != nil {
		return nil, err
	}
	if e != 0 {
		st := s.State()
		st.Epoch = e
		if s, err = sampler.Restore(w.p.scfg, st); err != nil {
			return nil, err
		}
	}
	w.stream, w.sEpoch = s, e
	w.p.prefetchEpoch(e, s)
	return s, nil
}

// process fills res with run sample t, replacing bad records as the skip
// policy says.
func (w *worker) process(t int64, res *result) {
	p := w.p
	epoch, pos := p.locate(t)
	res.err, res.omitted, res.skips = nil, false, res.skips[:0]
	res.epoch, res.class = epoch, 0
	stream, err := w.streamFor(epoch)
	if err != nil {
		res.err = fmt.Errorf("pipeline: sampler for epoch %d: %w", epoch, err)
		return
	}
	w.prepare(res)
	if p.direct { // write this sample's tensors straight into its batch row
		bs := int64(p.cfg.BatchSize)
		if k := (batchKey{epoch, pos / bs}); w.rows == nil || w.rowsKey != k {
			// Keeping the pointer is safe: batch k is not built before
			// this worker's sample of it is ready, and keys never recur.
			w.rows, w.rowsKey = p.stagedRows(k), k
		}
		rows, row := w.rows, int(pos%bs)
		for c, f := range w.isF32 {
			if f {
				res.f32[c] = rows.Float32(c, row)
			} else {
				res.u8[c] = rows.Uint8(c, row)
			}
		}
	}
	g := int64(p.cfg.Rank) + pos*int64(p.cfg.WorldSize)
	idx := stream.At(pos)
	for attempt := 1; ; attempt++ {
		err := w.sampleSafe(res, epoch, idx)
		if err == nil {
			return
		}
		se := w.sampleError(err, epoch, pos, idx)
		if errors.Is(err, ErrPanic) || p.cfg.Skip.Policy == PolicyFail {
			res.err = se
			return
		}
		res.skips = append(res.skips, Skip{Epoch: epoch, Position: pos, Index: idx, Shard: se.Shard,
			Record: se.Record, Key: se.Key, Reason: se.Err.Error()})
		if p.cfg.Kind == arrowpair.Eval {
			res.omitted = true
			return
		}
		if attempt >= maxReplacements {
			res.err = fmt.Errorf("%w: %d records in a row failed at epoch %d position %d; last: %w", ErrSkipBudget, attempt, epoch, pos, se)
			return
		}
		idx = p.replacement(epoch, g, attempt)
	}
}

// replacement is the record that stands in at global position g after
// attempt bad records: a hash of (seed, epoch, g, attempt), uniform over the
// dataset (over the subset in Supervised).
func (p *Pipeline) replacement(epoch, g int64, attempt int) int64 {
	h := mix64(p.cfg.Seed ^ 0x5bd1e9955bd1e995)
	h = mix64(h ^ uint64(epoch))
	h = mix64(h ^ uint64(g))
	h = mix64(h ^ uint64(attempt))
	if p.subset != nil {
		j, _ := bits.Mul64(h, uint64(len(p.subset)))
		return p.subset[j]
	}
	j, _ := bits.Mul64(h, uint64(p.n))
	return int64(j)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// sampleError wraps err with the record's place. The error keeps its
// sentinel (ErrPanic) or gets ErrBadRecord.
func (w *worker) sampleError(err error, epoch, pos, idx int64) *SampleError {
	se := &SampleError{Sentinel: ErrBadRecord, Epoch: epoch, Position: pos, Index: idx, Err: err}
	var pe *panicError
	if errors.As(err, &pe) {
		se.Sentinel, se.Err = ErrPanic, pe
	}
	j, k := w.p.ds.Locate(int(idx))
	se.Shard, se.Record = w.p.ds.Manifest().Shards[j].File, k
	if w.rec.Key != "" && w.recIdx == idx {
		se.Key = w.rec.Key
	}
	return se
}

type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string {
	return fmt.Sprintf("%v [%s]", e.value, firstFrames(e.stack))
}

func (e *panicError) Is(target error) bool { return target == ErrPanic }

// firstFrames keeps the start of a stack trace for the error text.
func firstFrames(s []byte) string {
	const max = 600
	if len(s) > max {
		s = s[:max]
	}
	return string(s)
}

// sampleSafe runs sample, turning a panic into an error.
func (w *worker) sampleSafe(res *result, epoch, idx int64) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: debug.Stack()}
		}
	}()
	return w.sample(res, epoch, idx)
}

// sample reads, decodes, augments and pairs record idx into res.
func (w *worker) sample(res *result, epoch, idx int64) error {
	p := w.p
	w.recIdx = -1
	t0 := time.Now()
	if err := p.ds.Record(int(idx), &w.rec); err != nil {
		return err
	}
	w.recIdx = idx
	t1 := time.Now()
	w.st.read.add(t1.Sub(t0))
	if err := w.dec.DecodeRecord(&w.src, &w.rec); err != nil {
		return err
	}
	t2 := time.Now()
	w.st.decode.add(t2.Sub(t1))
	res.sampleID, res.key, res.label, res.hasLabel = idx, w.rec.Key, w.rec.Label, w.rec.HasLabel
	if !res.hasLabel {
		res.label = 0
	}
	w.augDur, w.pairDur = 0, 0
	if err := w.pair(res, epoch); err != nil {
		return err
	}
	w.st.augment.add(w.augDur)
	w.st.pair.add(w.pairDur)
	return nil
}
