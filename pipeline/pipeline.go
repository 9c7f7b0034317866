package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/sampler"
	"github.com/pairflow/pairflow/shards"
	"github.com/sourcegraph/conc"
)

// Pipeline streams Arrow record batches of one pair kind from a shards
// dataset: a pool of workers reads, decodes, augments and pairs samples
// (stages read, decode, augment and pair, run one sample at a time by each
// worker), an assembler fills batches in sampler order (assemble), and
// Batches hands them to the caller (emit).
//
// # Determinism
//
// Output is a pure function of (dataset, Config minus Workers and Prefetch):
// sample i of the run is the rank's sampler position i, its randomness comes
// from ops.NewRand(seed, epoch, record index, view) alone (the pair kinds'
// own draws — mask, patch grid, rotation — use reserved view numbers), and
// the assembler puts results back in position order. So 1 or 8 workers give
// byte-identical batches, and tools/preview shows exactly a run's views. A
// record drawn twice in one epoch (wrap padding, subset draws with
// replacement, a replacement for a skipped record) gets the same views both
// times. The function is one build's: JPEG records decode with Go's
// image/jpeg by default and with libjpeg-turbo under the turbojpeg build tag,
// whose pixels differ slightly (imageio.JPEGDecoder names the one in use);
// raw records decode the same in every build.
//
// # Memory bound
//
// Workers claim positions from a counter and fill a ring of R = 8 × Workers
// sample slots indexed by position; a worker waits for a free slot before
// claiming the next position, so at most R samples are in flight between
// the workers and the assembler. Except in Eval, workers write a sample's
// tensors straight into its row of the batch it belongs to (image storage
// reserved per batch with BatchBuilder.ReserveRows, on first use) and the
// assembler only appends the metadata, in order; the ring's R samples span
// at most ⌈R/BatchSize⌉ + 1 batches. Eval, whose bad records are left out
// and so move the later rows, keeps the output tensors of each sample in its
// slot and the assembler copies them. Finished batches wait in a channel of
// Prefetch batches. In all, at most Prefetch + 1 finished batches (Prefetch
// waiting, plus the one the assembler is handing over) plus the ⌈R/BatchSize⌉
// + 1 batches being written (Eval: one batch plus the ring's slots) plus per
// worker one decoded source image and its scratch are alive inside the
// pipeline, whatever the dataset size and however slow the consumer (Stats
// reports the queue depths and their maxima). Batches the caller holds are
// the caller's; the image memory of Released batches is reused.
//
// # Lifetime
//
// Goroutines start with the first Batches call and end when the run is
// done, when the context given to that call is cancelled, or on Close. A
// Pipeline is not safe for concurrent use, except State, Stats and Skips,
// which may be called from any goroutine.
type Pipeline struct {
	ds      *shards.Dataset
	cfg     Config // resolved
	recipes []*ops.Recipe
	layout  arrowpair.Layout
	schema  *arrow.Schema
	scfg    sampler.Config
	subset  []int64 // supervised: the sampler's subset
	n       int64   // records
	length  int64   // rank positions per epoch

	startEpoch, startPos int64
	total                int64 // positions in the run; math.MaxInt64 when unbounded

	mu           sync.Mutex
	consumer     *sampler.Stream
	batches      int64
	epochSkipped int64
	skips        []Skip
	skipsTotal   int64
	runErr       error
	finished     bool
	startTime    time.Time

	// running
	started  bool
	ctx      context.Context
	cancel   context.CancelFunc
	wg       *conc.WaitGroup
	out      chan batchMsg
	sem      chan struct{}
	ring     []slot
	next     atomic.Int64
	complete atomic.Bool // the assembler handed over the run's last batch
	st       *stats
	closed   bool
	builder  *arrowpair.BatchBuilder // the assembler's; workers only ReserveRows
	direct   bool                    // workers write into batch memory (see the memory bound)
	stageMu  sync.Mutex
	staged   map[batchKey]*arrowpair.Rows // direct mode: batches being written

	prefetched atomic.Int64 // the last epoch whose shard order went to ds.Prefetch, -1 before
}

// New returns a pipeline over ds (which the caller keeps open until Close
// and closes afterwards) configured by cfg, starting at cfg.Epoch.
func New(ds *shards.Dataset, cfg Config) (*Pipeline, error) {
	p, err := build(ds, cfg)
	if err != nil {
		return nil, err
	}
	s, err := sampler.New(p.scfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if p.cfg.Epoch > 0 {
		st := s.State()
		st.Epoch = p.cfg.Epoch
		if s, err = sampler.Restore(p.scfg, st); err != nil {
			return nil, fmt.Errorf("%w: epoch %d: %w", ErrConfig, p.cfg.Epoch, err)
		}
	}
	p.start(s)
	return p, nil
}

// Resume returns a pipeline that continues exactly after the last batch
// counted in st: with the same dataset and the same stream-fixing Config
// (Workers and Prefetch may differ) its batches are byte-identical to those
// the saving pipeline would have produced next. A State saved under another
// dataset, kind, recipe, seed, batch size or tail policy is refused (the
// error wraps ErrState and sampler.ErrFingerprint).
func Resume(ds *shards.Dataset, cfg Config, st State) (*Pipeline, error) {
	if st.Version != StateVersion {
		return nil, fmt.Errorf("%w: version %d (this code reads %d)", ErrState, st.Version, StateVersion)
	}
	p, err := build(ds, cfg)
	if err != nil {
		return nil, err
	}
	s, err := sampler.Restore(p.scfg, st.Sampler)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrState, err)
	}
	if s.Position() == s.Len() && p.cfg.Kind != arrowpair.Eval {
		s.NextEpoch()
		st.EpochSkipped = 0
	}
	if p.cfg.Kind != arrowpair.Eval && s.Position()%int64(p.cfg.BatchSize) != 0 {
		return nil, fmt.Errorf("%w: position %d is not on a batch boundary", ErrState, s.Position())
	}
	if st.Batches < 0 || st.EpochSkipped < 0 {
		return nil, fmt.Errorf("%w: negative counts", ErrState)
	}
	p.batches, p.epochSkipped = st.Batches, st.EpochSkipped
	p.start(s)
	return p, nil
}

// start fixes the run's range from the consumer stream's position.
func (p *Pipeline) start(s *sampler.Stream) {
	p.consumer = s
	p.startEpoch, p.startPos = s.Epoch(), s.Position()
	switch {
	case p.cfg.Kind == arrowpair.Eval:
		if p.startEpoch != p.cfg.Epoch {
			p.total = 0
		} else {
			p.total = p.length - p.startPos
		}
	case p.cfg.Epochs == 0:
		p.total = math.MaxInt64
	default:
		epochs := p.cfg.Epoch + p.cfg.Epochs - p.startEpoch
		switch {
		case epochs <= 0:
			p.total = 0
		case epochs > (math.MaxInt64-1)/p.length:
			p.total = math.MaxInt64 // beyond reach
		default:
			p.total = max(0, epochs*p.length-p.startPos)
		}
	}
}

func build(ds *shards.Dataset, cfg Config) (*Pipeline, error) {
	if ds == nil {
		return nil, fmt.Errorf("%w: nil dataset", ErrConfig)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := cfg.resolved()
	p := &Pipeline{ds: ds, cfg: c, n: int64(ds.Len())}
	if p.n == 0 {
		return nil, fmt.Errorf("%w: empty dataset", ErrConfig)
	}
	if err := CheckBudget(ds.Manifest(), c.MaxPixels); err != nil {
		return nil, err
	}
	for i, s := range c.Recipe {
		r, err := loadRecipe(s)
		if err != nil {
			return nil, fmt.Errorf("%w: recipe %d: %w", ErrConfig, i, err)
		}
		p.recipes = append(p.recipes, r)
	}
	for len(p.recipes) < c.views() {
		p.recipes = append(p.recipes, p.recipes[0])
	}
	if err := p.makeLayout(); err != nil {
		return nil, err
	}
	schema, err := arrowpair.NewSchema(p.layout)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	p.schema = schema

	manifest, err := ds.Manifest().Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrConfig, err)
	}
	spec, err := json.Marshal(struct {
		Views         int             `json:"views"`
		Recipes       json.RawMessage `json:"recipes"`
		Mask          MaskOptions     `json:"mask"`
		Patch         PatchOptions    `json:"patch"`
		LabelFraction float64         `json:"label_fraction"`
	}{c.views(), p.layout.Recipe, c.Mask, c.Patch, c.LabelFraction})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	tail := sampler.Wrap
	if c.DropLast {
		tail = sampler.Drop
	}
	p.scfg = sampler.Config{
		Records: p.n, Seed: c.Seed, WorldSize: c.WorldSize, Rank: c.Rank,
		BatchSize: c.BatchSize, Tail: tail,
		Fingerprint: sampler.Fingerprint(sampler.FingerprintInput{
			Manifest: manifest, PairKind: string(c.Kind), Recipe: spec,
			Seed: c.Seed, BatchSize: c.BatchSize, Tail: tail,
		}),
	}
	if c.Order == OrderShards {
		p.scfg.Mode, p.scfg.Window = sampler.Shards, c.Window
		if p.scfg.Window == 0 {
			p.scfg.Window = min(4096, p.n)
		}
		for j := range ds.NumShards() {
			p.scfg.ShardSizes = append(p.scfg.ShardSizes, int64(ds.Manifest().Shards[j].Records))
		}
	}
	switch c.Kind {
	case arrowpair.Eval:
		p.scfg.Mode = sampler.Eval
	case arrowpair.Supervised:
		labels, err := readLabels(ds)
		if err != nil {
			return nil, err
		}
		sub, err := sampler.BalancedSubset(labels, c.LabelFraction, c.Seed)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if len(sub) == 0 {
			return nil, fmt.Errorf("%w: supervised: no labelled records in the subset (label_fraction %v)", ErrConfig, c.LabelFraction)
		}
		p.scfg.Mode, p.scfg.Subset, p.subset = sampler.SubsetDraws, sub, sub
	}
	probe, err := sampler.New(p.scfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	p.length = probe.Len()
	return p, nil
}

// readLabels reads every record's label (-1 when it has none).
func readLabels(ds *shards.Dataset) ([]int32, error) {
	labels := make([]int32, 0, ds.Len())
	it := ds.Iter()
	var rec shards.Record
	for it.Next(&rec) {
		if rec.HasLabel {
			labels = append(labels, rec.Label)
		} else {
			labels = append(labels, -1)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("%w: reading labels: %w", ErrConfig, err)
	}
	return labels, nil
}

// makeLayout fixes the image shapes from the first record that decodes.
func (p *Pipeline) makeLayout() error {
	c := &p.cfg
	img, err := probe(p.ds, c.MaxPixels)
	if err != nil {
		return err
	}
	w, h := img.W, img.H
	if c.Kind == arrowpair.RelativePatch {
		ps := patchSide(w, h, c.Patch)
		if ps < 1 {
			return fmt.Errorf("%w: the first record (%dx%d) is too small for a 3×3 patch grid", ErrConfig, w, h)
		}
		w, h = ps, ps
	}
	l := arrowpair.Layout{Kind: c.Kind}
	for i, r := range p.recipes[:c.views()] {
		vw, vh, vc := r.ViewShape(w, h)
		if vw <= 0 || vh <= 0 {
			return fmt.Errorf("%w: recipe %d (%s): the view size depends on the draw; end it with a fixed-size crop or resize", ErrConfig, i, r.Name)
		}
		dt := arrowpair.Float32
		if r.Output.Format == ops.Uint8HWC {
			dt = arrowpair.Uint8
		}
		if i > 0 && dt != l.DType {
			return fmt.Errorf("%w: recipe %d outputs %s, recipe 0 %s: every view needs the same dtype", ErrConfig, i, dt, l.DType)
		}
		l.DType = dt
		l.Shapes = append(l.Shapes, arrowpair.Shape{H: vh, W: vw, C: vc})
	}
	if c.Kind == arrowpair.Rotation && l.Shapes[0].H != l.Shapes[0].W {
		return fmt.Errorf("%w: rotation needs square views, recipe gives %dx%d", ErrConfig, l.Shapes[0].W, l.Shapes[0].H)
	}
	var rj []byte
	var err2 error
	if len(p.cfg.Recipe) == 1 {
		rj, err2 = json.Marshal(*p.recipes[0])
	} else {
		list := make([]ops.Recipe, len(p.recipes))
		for i, r := range p.recipes {
			list[i] = *r
		}
		rj, err2 = json.Marshal(list)
	}
	if err2 != nil {
		return fmt.Errorf("%w: recipe JSON: %w", ErrConfig, err2)
	}
	l.Recipe = rj
	if err := l.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	p.layout = l
	return nil
}

// Schema returns the schema of every batch.
func (p *Pipeline) Schema() *arrow.Schema { return p.schema }

// Layout returns the batches' layout (kind, dtype, shapes, recipe JSON).
func (p *Pipeline) Layout() arrowpair.Layout { return p.layout }

// Len returns the number of rank positions per epoch.
func (p *Pipeline) Len() int64 { return p.length }

// batchMsg goes from the assembler to Batches.
type batchMsg struct {
	rec       arrow.RecordBatch // nil: positions only (an eval batch whose samples were all skipped)
	positions int64             // sampler positions the batch covers
	skips     []Skip
	err       error
}

// Batches returns the run's batches in order. Each batch belongs to the
// caller, who must Release it (arrowpair.WriteIPC does). After an error the
// sequence ends; a cancelled ctx ends it with ctx's error and stops the
// pipeline. Breaking out of the loop leaves the pipeline paused: a later
// Batches call continues with the next batch, or Close stops it.
func (p *Pipeline) Batches(ctx context.Context) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		p.mu.Lock()
		if p.closed || p.runErr != nil {
			err := p.runErr
			if err == nil {
				err = ErrClosed
			}
			p.mu.Unlock()
			yield(nil, err)
			return
		}
		if p.finished {
			p.mu.Unlock()
			return
		}
		if !p.started {
			p.run(ctx)
		}
		p.mu.Unlock()
		for {
			t0 := time.Now()
			var msg batchMsg
			var ok bool
			select {
			case msg, ok = <-p.out:
			case <-ctx.Done():
				p.stop(ctx.Err())
				yield(nil, ctx.Err())
				return
			case <-p.ctx.Done():
				err := context.Cause(p.ctx)
				p.stop(err)
				yield(nil, err)
				return
			}
			p.st.emit.blockedIn.Add(int64(time.Since(t0)))
			if !ok && !p.complete.Load() { // the goroutines stopped early
				err := context.Cause(p.ctx)
				if err == nil {
					err = ErrClosed
				}
				p.stop(err)
				yield(nil, err)
				return
			}
			if !ok {
				p.mu.Lock()
				p.finished = true
				p.mu.Unlock()
				p.wg.Wait()
				p.releaseRun()
				return
			}
			if msg.err != nil {
				p.stop(msg.err)
				yield(nil, msg.err)
				return
			}
			ta := time.Now()
			p.advance(&msg)
			p.st.emit.busy.Add(int64(time.Since(ta)))
			if msg.rec == nil {
				continue
			}
			if p.st.emit.items.Add(msg.rec.NumRows()) == msg.rec.NumRows() {
				p.st.firstBatch.Store(int64(time.Since(p.startTime)))
			}
			t1 := time.Now()
			cont := yield(msg.rec, nil)
			p.st.emit.blockedOut.Add(int64(time.Since(t1)))
			if !cont {
				return
			}
		}
	}
}

// advance moves the consumer-side stream over a batch handed to the caller.
func (p *Pipeline) advance(m *batchMsg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range m.positions {
		p.consumer.Next()
	}
	p.consumer.CountSkipped(int64(len(m.skips)))
	p.epochSkipped += int64(len(m.skips))
	for _, s := range m.skips {
		p.skipsTotal++
		if len(p.skips) < maxSkipList {
			p.skips = append(p.skips, s)
		}
	}
	if m.rec != nil {
		p.batches++
	}
	if p.consumer.Position() == p.consumer.Len() && p.cfg.Kind != arrowpair.Eval {
		p.consumer.NextEpoch()
		p.epochSkipped = 0
	}
}

// maxSkipList bounds the skips kept for Skips (all are counted).
const maxSkipList = 10000

// stop records err as the run's end and cancels the goroutines.
func (p *Pipeline) stop(err error) {
	p.mu.Lock()
	if p.runErr == nil {
		p.runErr = err
	}
	p.mu.Unlock()
	p.cancel()
}

// Close stops the goroutines, waits for them and frees every batch not yet
// handed out. It is safe to call more than once; batches already handed to
// the caller stay valid until the caller Releases them.
func (p *Pipeline) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	started := p.started
	p.mu.Unlock()
	if !started {
		return nil
	}
	p.cancel()
	p.wg.Wait()
	p.releaseRun()
	for msg := range p.out {
		if msg.rec != nil {
			msg.rec.Release()
		}
	}
	return nil
}

// Skips returns the skipped records reported so far (as handed to the
// caller, in order; at most the first 10,000 are kept) and how many there
// were in all.
func (p *Pipeline) Skips() ([]Skip, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Skip(nil), p.skips...), p.skipsTotal
}

// Skip reports one record left out: in training kinds replaced by another
// record (so batches stay full), in Eval left out of its batch.
type Skip struct {
	Epoch    int64  `json:"epoch"`
	Position int64  `json:"position"` // rank position in the epoch
	Index    int64  `json:"index"`    // dataset-wide record index
	Shard    string `json:"shard"`
	Record   int    `json:"record"` // index within the shard
	Key      string `json:"key,omitempty"`
	Reason   string `json:"reason"`
}

// SampleError is the error of one sample: a bad record (ErrBadRecord) or a
// panic inside an op (ErrPanic). It names the record and its place in the
// run; errors.Is sees both the sentinel and the cause (e.g.
// shards.ErrChecksum).
type SampleError struct {
	Sentinel        error // ErrBadRecord or ErrPanic
	Epoch, Position int64
	Index           int64
	Shard           string
	Record          int
	Key             string
	Err             error
}

func (e *SampleError) Error() string {
	key := ""
	if e.Key != "" {
		key = fmt.Sprintf(" key %q", e.Key)
	}
	what := "bad record"
	if e.Sentinel == ErrPanic {
		what = "panic in an op"
	}
	return fmt.Sprintf("pipeline: %s: epoch %d position %d: record %d (%s record %d%s): %v",
		what, e.Epoch, e.Position, e.Index, e.Shard, e.Record, key, e.Err)
}

// Unwrap returns the sentinel and the cause.
func (e *SampleError) Unwrap() []error { return []error{e.Sentinel, e.Err} }

// StateVersion is the version of State's JSON.
const StateVersion = 1

// State is a pipeline checkpoint, versioned JSON:
//
//	{"version":1,"sampler":{…sampler.State…},"batches":12,"epoch_skipped":0}
//
// Sampler is the consumer-side sampler state: it counts the positions of the
// batches handed to the caller, not what workers prefetched. Batches counts
// batches handed out over the run; EpochSkipped the skips of the current
// epoch (for the fraction budget; the run's total is Sampler.Skipped).
type State struct {
	Version      int           `json:"version"`
	Sampler      sampler.State `json:"sampler"`
	Batches      int64         `json:"batches"`
	EpochSkipped int64         `json:"epoch_skipped"`
}

// State returns the checkpoint after the batches handed to the caller so far.
func (p *Pipeline) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return State{Version: StateVersion, Sampler: p.consumer.State(), Batches: p.batches, EpochSkipped: p.epochSkipped}
}

// Encode returns st as JSON.
func (st State) Encode() ([]byte, error) { return json.Marshal(st) }

// DecodeState parses a State written by Encode, refusing unknown fields and
// other versions (ErrState).
func DecodeState(b []byte) (State, error) {
	if len(b) > 2*sampler.MaxStateBytes {
		return State{}, fmt.Errorf("%w: %d bytes", ErrState, len(b))
	}
	var raw struct {
		Version      int             `json:"version"`
		Sampler      json.RawMessage `json:"sampler"`
		Batches      int64           `json:"batches"`
		EpochSkipped int64           `json:"epoch_skipped"`
	}
	if err := strictJSON(b, &raw); err != nil {
		return State{}, fmt.Errorf("%w: %v", ErrState, err)
	}
	if raw.Version != StateVersion {
		return State{}, fmt.Errorf("%w: version %d (this code reads %d)", ErrState, raw.Version, StateVersion)
	}
	ss, err := sampler.DecodeState(raw.Sampler)
	if err != nil {
		return State{}, fmt.Errorf("%w: %w", ErrState, err)
	}
	if raw.Batches < 0 || raw.EpochSkipped < 0 {
		return State{}, fmt.Errorf("%w: negative counts", ErrState)
	}
	return State{Version: raw.Version, Sampler: ss, Batches: raw.Batches, EpochSkipped: raw.EpochSkipped}, nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}
