package main

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
)

// Per-batch metadata keys (docs/serve.md, arrowpair/SCHEMA.md §5.1): every
// batch of a served stream carries its epoch and batch index; the last one
// also the stream's summary (arrowpair.StreamSum), which marks it complete.
const (
	MetaEpoch         = arrowpair.MetaEpoch
	MetaBatch         = arrowpair.MetaBatch
	MetaStreamBatches = arrowpair.MetaStreamBatches
	MetaStreamRows    = arrowpair.MetaStreamRows
	MetaStreamCRC32   = arrowpair.MetaStreamCRC32
)

// Per-batch skip counts (docs/serve.md, "Skip budgets"), on every batch of a
// stream under the "skip" policy: the skips the endpoint's stream has
// counted against its budget up to and including the batch, over the run
// and in the batch's epoch. A client resuming after the batch sends them
// back (Descriptor.SkipsSpent), so that the budget counts on.
const (
	MetaSkipped      = "pairflow.skipped"
	MetaEpochSkipped = "pairflow.epoch_skipped"
)

// servedBatch is one batch of an endpoint's stream and where it belongs.
type servedBatch struct {
	rec   arrow.RecordBatch
	at    Position
	spent *SkipsSpent // after the batch; nil: not tagged (no skip policy)
}

// endpoint fixes one stream: the rank's config (Rank set), the worker split
// and where it starts.
type endpoint struct {
	ds          *shards.Dataset
	cfg         pipeline.Config
	worker, of  int
	start       Position
	spent       SkipsSpent // skips counted before start
	fingerprint string     // "" skips the check
}

// stream is an open endpoint stream.
type stream struct {
	ep          endpoint
	schema      *arrow.Schema
	perEpoch    int64          // batches per epoch of the rank
	tmpl        pipeline.State // the run's initial state, repositioned by at
	fingerprint string
	stats       func(pipeline.Stats)
}

// errStartBeyond: the start batch lies past the end of its epoch (the end
// itself, batch == batches per epoch, is normalised, see normalStart).
var errStartBeyond = errors.New("start batch past the end of its epoch")

// normalStart returns the canonical form of start for a rank of perEpoch
// batches per epoch: (E, perEpoch), the position a client holds after
// consuming an epoch's last batch, is (E+1, 0), the next epoch's first
// batch; past the run's last epoch that is the end of the run, whose stream
// is empty and complete. A batch beyond perEpoch is refused.
func normalStart(start Position, perEpoch int64) (Position, error) {
	switch {
	case start.Batch > perEpoch:
		return start, fmt.Errorf("%w: batch %d of epoch %d, whose batches are 0..%d (%d is its end, the same as (%d, 0))",
			errStartBeyond, start.Batch, start.Epoch, perEpoch-1, perEpoch, start.Epoch+1)
	case start.Batch == perEpoch:
		return Position{Epoch: start.Epoch + 1}, nil
	}
	return start, nil
}

// open checks ep (its fingerprint, its start) by building its pipeline once;
// the stream's start is ep.start normalised (normalStart).
func open(ep endpoint) (*stream, error) {
	p, err := pipeline.New(ep.ds, ep.cfg)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	fp := fingerprintOf(p)
	if ep.fingerprint != "" && fp != ep.fingerprint {
		return nil, fmt.Errorf("%w: the dataset or config differs from the one the ticket was issued for (fingerprint %s, this server %s)",
			ErrTicket, ep.fingerprint, fp)
	}
	bs := int64(ep.cfg.BatchSize)
	s := &stream{ep: ep, schema: p.Schema(), perEpoch: (p.Len() + bs - 1) / bs, tmpl: p.State(), fingerprint: fp}
	if s.ep.start, err = normalStart(ep.start, s.perEpoch); err != nil {
		return nil, err
	}
	s.ep.spent = ep.spent.normal(ep.start, s.ep.start)
	if err := s.ep.spent.check(&ep.cfg, s.ep.start); err != nil {
		return nil, err
	}
	if last := s.lastEpoch(); last >= 0 && s.ep.start.Epoch > last+1 {
		return nil, fmt.Errorf("start (%d, %d) is past the end of the run (epochs %d..%d; (%d, 0) is its end)",
			ep.start.Epoch, ep.start.Batch, ep.cfg.Epoch, last, last+1)
	}
	return s, nil
}

// fingerprintOf returns the stream-fixing fingerprint of a pipeline.
func fingerprintOf(p *pipeline.Pipeline) string {
	st := p.State()
	return st.Sampler.Fingerprint + "/" + st.Sampler.Layout
}

// at returns a pipeline positioned at batch b of epoch e, whose skip budget
// has spent sp.
func (s *stream) at(e, b int64, sp SkipsSpent) (*pipeline.Pipeline, error) {
	st := s.tmpl
	st.Sampler.Epoch, st.Sampler.Position = e, b*int64(s.ep.cfg.BatchSize)
	st.Sampler.Skipped, st.EpochSkipped = sp.Total, sp.Epoch
	return pipeline.Resume(s.ep.ds, s.ep.cfg, st)
}

// tagsSkips reports whether the stream's batches carry skip counts.
func (s *stream) tagsSkips() bool { return s.ep.cfg.Skip.Policy == pipeline.PolicySkip }

// spentAfter returns the skip counts of p's state, the stream's after the
// batch p handed out last; nil when the stream does not tag them.
func (s *stream) spentAfter(p *pipeline.Pipeline) *SkipsSpent {
	if !s.tagsSkips() {
		return nil
	}
	st := p.State()
	return &SkipsSpent{Total: st.Sampler.Skipped, Epoch: st.EpochSkipped}
}

// lastEpoch returns the last epoch of the run, or -1 when unbounded.
func (s *stream) lastEpoch() int64 { return lastEpoch(&s.ep.cfg) }

// lastEpoch returns the last epoch of the run cfg configures (eval has one),
// or -1 when unbounded.
func lastEpoch(cfg *pipeline.Config) int64 {
	switch {
	case cfg.Kind == arrowpair.Eval:
		return cfg.Epoch
	case cfg.Epochs == 0:
		return -1
	}
	return cfg.Epoch + cfg.Epochs - 1
}

// batches yields the endpoint's batches in order. Each batch belongs to the
// receiver, who must Release it. A cancelled ctx ends the sequence with
// ctx's error and stops the pipeline.
func (s *stream) batches(ctx context.Context) iter.Seq2[servedBatch, error] {
	if s.ep.of == 1 {
		return s.rankBatches(ctx)
	}
	return s.workerBatches(ctx)
}

// rankBatches runs one pipeline from the start to the end of the run.
func (s *stream) rankBatches(ctx context.Context) iter.Seq2[servedBatch, error] {
	return func(yield func(servedBatch, error) bool) {
		p, err := s.at(s.ep.start.Epoch, s.ep.start.Batch, s.ep.spent)
		if err != nil {
			yield(servedBatch{}, err)
			return
		}
		defer p.Close()
		bs := int64(s.ep.cfg.BatchSize)
		eval := s.ep.cfg.Kind == arrowpair.Eval
		var last pipeline.Stats
		for rec, err := range p.Batches(ctx) {
			if err != nil {
				yield(servedBatch{}, err)
				return
			}
			// The state after the batch says where it ended.
			st := p.State().Sampler
			at := Position{Epoch: st.Epoch, Batch: (st.Position+bs-1)/bs - 1}
			if !eval && st.Position == 0 {
				at = Position{Epoch: st.Epoch - 1, Batch: s.perEpoch - 1}
			}
			if s.stats != nil {
				cur := p.Stats()
				s.stats(statsDelta(cur, last))
				last = cur
			}
			if !yield(servedBatch{rec: rec, at: at, spent: s.spentAfter(p)}, nil) {
				return
			}
		}
	}
}

// workerBatches gives worker w of W the batches b ≡ w (mod W) of each epoch,
// opening the pipeline at each (the stream is a pure function of the batch's
// position, so each batch is the one the rank's stream has there). The skip
// budget counts the worker's own batches: the rank's other batches are not
// made here.
func (s *stream) workerBatches(ctx context.Context) iter.Seq2[servedBatch, error] {
	return func(yield func(servedBatch, error) bool) {
		w, W := int64(s.ep.worker), int64(s.ep.of)
		e, b := s.ep.start.Epoch, s.ep.start.Batch
		b += ((w-b)%W + W) % W // the first b' ≥ b with b' ≡ w
		last := s.lastEpoch()
		spent := s.ep.spent
		for last < 0 || e <= last {
			if b >= s.perEpoch {
				e, b = e+1, w
				spent.Epoch = 0
				continue
			}
			p, err := s.at(e, b, spent)
			if err != nil {
				yield(servedBatch{}, err)
				return
			}
			var got arrow.RecordBatch
			for rec, err := range p.Batches(ctx) {
				if err != nil {
					p.Close()
					yield(servedBatch{}, err)
					return
				}
				got = rec
				break
			}
			if s.stats != nil {
				s.stats(p.Stats())
			}
			sp := s.spentAfter(p)
			if sp != nil {
				spent = *sp
			}
			p.Close()
			if got != nil && !yield(servedBatch{rec: got, at: Position{Epoch: e, Batch: b}, spent: sp}, nil) {
				return
			}
			if got == nil && s.ep.cfg.Kind != arrowpair.Eval {
				yield(servedBatch{}, fmt.Errorf("serve: epoch %d batch %d: the pipeline ended early", e, b))
				return
			}
			b += W
		}
	}
}

// statsDelta returns cur minus prev for the cumulative stage times.
func statsDelta(cur, prev pipeline.Stats) pipeline.Stats {
	d := cur
	d.Stages = append([]pipeline.StageStats(nil), cur.Stages...)
	for i := range d.Stages {
		if i < len(prev.Stages) {
			d.Stages[i].Busy -= prev.Stages[i].Busy
			d.Stages[i].BlockedIn -= prev.Stages[i].BlockedIn
			d.Stages[i].BlockedOut -= prev.Stages[i].BlockedOut
		}
	}
	return d
}

// send writes the batches of seq through write, holding one batch back so
// that the last one can carry the stream summary. It Releases every batch.
// write gets each batch with its position and its tags. It returns the
// summary of what was written and the first error; on error the summary was
// not written and the caller must not mark the stream complete.
func send(seq iter.Seq2[servedBatch, error], write func(rec arrow.RecordBatch, at Position, keys, vals []string) error) (*arrowpair.StreamSum, error) {
	sum := &arrowpair.StreamSum{}
	var held *servedBatch
	release := func() {
		if held != nil {
			held.rec.Release()
			held = nil
		}
	}
	emit := func(b *servedBatch, final bool) error {
		keys := []string{MetaEpoch, MetaBatch}
		vals := []string{strconv.FormatInt(b.at.Epoch, 10), strconv.FormatInt(b.at.Batch, 10)}
		if b.spent != nil {
			keys = append(keys, MetaSkipped, MetaEpochSkipped)
			vals = append(vals, strconv.FormatInt(b.spent.Total, 10), strconv.FormatInt(b.spent.Epoch, 10))
		}
		sum.Add(b.rec)
		if final {
			k, v := sum.Metadata()
			keys, vals = append(keys, k...), append(vals, v...)
		}
		rec := arrowpair.WithMetadata(b.rec, keys, vals)
		b.rec.Release()
		b.rec = nil
		defer rec.Release()
		return write(rec, b.at, keys, vals)
	}
	for b, err := range seq {
		if err != nil {
			release()
			return sum, err
		}
		if held != nil {
			h := held
			held = nil
			if err := emit(h, false); err != nil {
				b.rec.Release()
				return sum, err
			}
		}
		held = &b
	}
	if held != nil {
		h := held
		held = nil
		if err := emit(h, true); err != nil {
			return sum, err
		}
	}
	return sum, nil
}
