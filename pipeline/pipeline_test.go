package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/sampler"
	"github.com/pairflow/pairflow/shards"
)

// kindConfigs gives a runnable configuration of every pair kind.
func kindConfigs() map[arrowpair.Kind]pipeline.Config {
	m := map[arrowpair.Kind]pipeline.Config{}
	for _, k := range arrowpair.Kinds() {
		c := baseConfig(k)
		switch k {
		case arrowpair.Contrastive:
			c.Views = 3
		case arrowpair.RelativePatch:
			c.Recipe = pipeline.Recipes{pipeline.PatchRecipe(6, 3, true)}
		case arrowpair.Inpainting:
			c.Mask = pipeline.MaskOptions{Mode: pipeline.MaskPatches, Ratio: 0.4, Patch: 3, Fill: -1}
		case arrowpair.Supervised:
			c.LabelFraction = 0.5
		case arrowpair.Eval:
			c.Recipe = pipeline.Recipes{pipeline.EvalRecipe(12, 3)}
		}
		m[k] = c
	}
	return m
}

// Output depends on the seed and the configuration only: 1 and 8 workers,
// and any prefetch depth, give byte-identical IPC streams for every kind.
func TestDeterministicAcrossWorkers(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 37})
	for kind, cfg := range kindConfigs() {
		t.Run(string(kind), func(t *testing.T) {
			cfg.Epochs = 2
			if kind == arrowpair.Eval {
				cfg.Epochs = 0
			}
			cfg.Workers, cfg.Prefetch = 1, 1
			one := runBytes(t, ds, cfg)
			cfg.Workers, cfg.Prefetch = 8, 4
			eight := runBytes(t, ds, cfg)
			if !bytes.Equal(one, eight) {
				t.Fatalf("1 and 8 workers differ (%d vs %d bytes)", len(one), len(eight))
			}
			rows := readRows(t, one)
			want := 2 * 40 // 37 records wrap to 40 = 5 batches of 8, two epochs
			switch kind {
			case arrowpair.Eval:
				want = 37
			case arrowpair.Supervised:
				want = 2 * 24 // a 50% subset of 37: 19 draws per epoch, padded to 24
			}
			if len(rows) != want {
				t.Fatalf("%d rows, want %d", len(rows), want)
			}
			cfg.Seed++
			if kind != arrowpair.Eval && bytes.Equal(one, runBytes(t, ds, cfg)) {
				t.Fatal("another seed gave the same stream")
			}
		})
	}
}

// A pipeline resumed from a State continues byte-identically, whatever its
// worker count and prefetch depth, across an epoch boundary too.
func TestResume(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 29})
	for _, kind := range []arrowpair.Kind{arrowpair.Contrastive, arrowpair.Supervised, arrowpair.Eval} {
		t.Run(string(kind), func(t *testing.T) {
			cfg := kindConfigs()[kind]
			cfg.Epochs = 3
			ref := must(pipeline.New(ds, cfg))
			all := takeBatches(t, ref, -1)
			ref.Close()
			for _, cut := range []int{0, 1, 3, 4, 5, len(all)} {
				if cut > len(all) {
					continue
				}
				a := must(pipeline.New(ds, cfg))
				got := takeBatches(t, a, cut)
				enc := must(a.State().Encode())
				a.Close()
				st := must(pipeline.DecodeState(enc))
				if st.Batches != int64(cut) {
					t.Fatalf("state counts %d batches, %d handed out", st.Batches, cut)
				}
				c2 := cfg
				c2.Workers, c2.Prefetch = 5, 1
				b := must(pipeline.Resume(ds, c2, st))
				got = append(got, takeBatches(t, b, -1)...)
				b.Close()
				if len(got) != len(all) {
					t.Fatalf("cut %d: %d batches after resume, want %d", cut, len(got), len(all))
				}
				for i := range got {
					if !bytes.Equal(got[i], all[i]) {
						t.Fatalf("cut %d: batch %d differs after resume", cut, i)
					}
				}
			}
		})
	}
}

// A State from another seed (or dataset) is refused.
func TestResumeRefusesOtherStream(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 20})
	cfg := baseConfig(arrowpair.Contrastive)
	p := must(pipeline.New(ds, cfg))
	takeBatches(t, p, 1)
	st := p.State()
	p.Close()
	cfg.Seed++
	if _, err := pipeline.Resume(ds, cfg, st); !errors.Is(err, pipeline.ErrState) || !errors.Is(err, sampler.ErrFingerprint) {
		t.Fatalf("resume with another seed: %v", err)
	}
	cfg.Seed--
	cfg.Recipe = pipeline.Recipes{"torchvision-a"}
	if _, err := pipeline.Resume(ds, cfg, st); !errors.Is(err, sampler.ErrFingerprint) {
		t.Fatalf("resume with another recipe: %v", err)
	}
	if _, err := pipeline.DecodeState([]byte(`{"version":2,"sampler":{}}`)); !errors.Is(err, pipeline.ErrState) {
		t.Fatalf("version 2 state: %v", err)
	}
}

// A consumer that stalls never makes the pipeline hold more than its bound:
// ring slots, Prefetch waiting batches, and Arrow memory stay flat over many
// batches.
func TestSlowConsumerBounded(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 24})
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	cfg := baseConfig(arrowpair.Contrastive)
	cfg.Epochs, cfg.Workers, cfg.Prefetch, cfg.Allocator = 0, 3, 2, mem
	p := must(pipeline.New(ds, cfg))
	batchBytes := cfg.BatchSize * 2 * 3 * 12 * 12 * 4 // two float32 views per row
	var peak int
	n := 0
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		rec.Release()
		n++
		// Stall: let the pipeline run until it is full and blocked.
		saturated := false
		for i := 0; i < 2_000_000 && !saturated; i++ {
			s := p.Stats()
			saturated = s.InFlight == s.RingSlots && s.OutQueue == s.Prefetch
			if !saturated {
				runtime.Gosched()
			}
		}
		if !saturated {
			t.Fatal("pipeline never filled its buffers")
		}
		peak = max(peak, mem.CurrentAlloc())
		if n == 40 {
			break
		}
	}
	s := p.Stats()
	if s.MaxInFlight > s.RingSlots || s.MaxOutQueue > s.Prefetch {
		t.Fatalf("in flight %d of %d, out queue %d of %d", s.MaxInFlight, s.RingSlots, s.MaxOutQueue, s.Prefetch)
	}
	// The documented bound: Prefetch waiting + one being handed over + the
	// ⌈R/BatchSize⌉+1 batches the ring's R samples are written into (workers
	// write views straight into batch memory, so the ring slots hold none),
	// plus the builder's metadata; far below 40 batches' worth.
	writing := (s.RingSlots+cfg.BatchSize-1)/cfg.BatchSize + 1
	if bound := (cfg.Prefetch+1+writing)*batchBytes + 64<<10; peak > bound {
		t.Fatalf("peak Arrow memory %d bytes, bound %d", peak, bound)
	}
	p.Close()
	mem.AssertSize(t, 0)
}

// Cancelling mid-epoch stops every goroutine and frees every Arrow byte.
func TestCancelMidEpoch(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 64})
	before := runtime.NumGoroutine()
	for _, viaClose := range []bool{false, true} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		cfg := baseConfig(arrowpair.Inpainting)
		cfg.Workers, cfg.Allocator, cfg.Epochs = 4, mem, 0
		p := must(pipeline.New(ds, cfg))
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		var last error
		for rec, err := range p.Batches(ctx) {
			if err != nil {
				last = err
				break
			}
			rec.Release()
			n++
			if n == 3 {
				if viaClose {
					break
				}
				cancel()
			}
		}
		if !viaClose && !errors.Is(last, context.Canceled) {
			t.Fatalf("after cancel: %v", last)
		}
		p.Close()
		cancel()
		mem.AssertSize(t, 0)
		if !viaClose {
			for _, err := range p.Batches(context.Background()) {
				if err == nil {
					t.Fatal("batches after cancel")
				}
			}
		}
	}
	waitGoroutines(t, before)
}

func waitGoroutines(t *testing.T, want int) {
	t.Helper()
	n := runtime.NumGoroutine()
	for i := 0; i < 1_000_000 && n > want; i++ {
		runtime.Gosched()
		n = runtime.NumGoroutine()
	}
	if n > want {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines, %d before:\n%s", n, want, buf[:runtime.Stack(buf, true)])
	}
}

// Bad records under fail stop the run with an error naming the record.
func TestBadRecordFail(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 30, checksum: []int{11}, badPNG: []int{20}})
	cfg := baseConfig(arrowpair.Eval)
	cfg.Recipe = pipeline.Recipes{pipeline.EvalRecipe(12, 3)}
	p := must(pipeline.New(ds, cfg))
	defer p.Close()
	var rows int64
	var got error
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			got = err
			break
		}
		rows += rec.NumRows()
		rec.Release()
	}
	var se *pipeline.SampleError
	if !errors.As(got, &se) || !errors.Is(got, pipeline.ErrBadRecord) || !errors.Is(got, shards.ErrChecksum) {
		t.Fatalf("error %v, want a checksum SampleError", got)
	}
	if se.Index != 11 || se.Shard != "train-00000.pfs" || se.Record != 11 || !contains(got.Error(), "train-00000.pfs record 11") {
		t.Fatalf("error names %+v: %v", se, got)
	}
	if rows != 8 {
		t.Fatalf("%d rows before the bad record's batch, want 8", rows)
	}
	// The PNG record alone: its decode error.
	ds2 := makeDataset(t, dsOpts{n: 30, badPNG: []int{20}})
	p2 := must(pipeline.New(ds2, cfg))
	defer p2.Close()
	for _, err := range p2.Batches(context.Background()) {
		if err != nil {
			got = err
		}
	}
	if !errors.Is(got, pipeline.ErrBadRecord) || !(errors.Is(got, imageio.ErrDecode) || errors.Is(got, imageio.ErrFormat)) || !contains(got.Error(), "img/00020") {
		t.Fatalf("bad png: %v", got)
	}
}

// Under skip, bad records are replaced deterministically (full batches, same
// bytes for any worker count) and reported; past the budget the run fails.
func TestBadRecordSkip(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 30, checksum: []int{11}, badPNG: []int{20}, maxRecs: 8})
	cfg := baseConfig(arrowpair.Contrastive)
	cfg.Epochs = 2
	cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 10}
	p := must(pipeline.New(ds, cfg))
	one := streamBytes(t, p)
	skips, total := p.Skips()
	p.Close()
	if total != 4 || len(skips) != 4 { // each bad record once per epoch
		t.Fatalf("%d skips reported (%d total), want 4: %+v", len(skips), total, skips)
	}
	for _, s := range skips {
		switch s.Index {
		case 11:
			if s.Shard != "train-00001.pfs" || s.Record != 3 || !contains(s.Reason, "checksum") {
				t.Fatalf("skip %+v", s)
			}
		case 20:
			if s.Shard != "train-00002.pfs" || s.Record != 4 || s.Key != "img/00020" {
				t.Fatalf("skip %+v", s)
			}
		default:
			t.Fatalf("skip of a good record: %+v", s)
		}
	}
	rows := readRows(t, one)
	if len(rows) != 64 {
		t.Fatalf("%d rows, want 64 (full batches)", len(rows))
	}
	for _, r := range rows {
		if r.id == 11 || r.id == 20 {
			t.Fatalf("bad record %d delivered", r.id)
		}
	}
	cfg.Workers = 7
	if !bytes.Equal(one, runBytes(t, ds, cfg)) {
		t.Fatal("skip replacement depends on the worker count")
	}
	if st := must(pipeline.New(ds, cfg)); true {
		takeBatches(t, st, -1)
		if s := st.State(); s.Sampler.Skipped != 4 {
			t.Fatalf("state counts %d skipped", s.Sampler.Skipped)
		}
		st.Close()
	}

	// Budget of one: the second skip fails the run.
	cfg.Skip.MaxCount = 1
	p = must(pipeline.New(ds, cfg))
	var got error
	for _, err := range p.Batches(context.Background()) {
		got = err
	}
	p.Close()
	if !errors.Is(got, pipeline.ErrSkipBudget) {
		t.Fatalf("over budget: %v", got)
	}
	// Fraction budget: 1 of 32 per epoch is allowed, 2 are not.
	cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxFraction: 0.04}
	p = must(pipeline.New(ds, cfg))
	got = nil
	for _, err := range p.Batches(context.Background()) {
		got = err
	}
	p.Close()
	if !errors.Is(got, pipeline.ErrSkipBudget) || !contains(got.Error(), "max_fraction") {
		t.Fatalf("over fraction budget: %v", got)
	}
}

// In eval a bad record is left out (every other record exactly once) and
// reported.
func TestBadRecordEval(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 30, checksum: []int{3}, badPNG: []int{29}})
	cfg := kindConfigs()[arrowpair.Eval]
	cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 2}
	p := must(pipeline.New(ds, cfg))
	b := streamBytes(t, p)
	skips, _ := p.Skips()
	p.Close()
	rows := readRows(t, b)
	if len(rows) != 28 || len(skips) != 2 {
		t.Fatalf("%d rows, %d skips; want 28 and 2", len(rows), len(skips))
	}
	next := uint64(0)
	for _, r := range rows {
		if next == 3 {
			next++
		}
		if r.id != next {
			t.Fatalf("row id %d, want %d", r.id, next)
		}
		next++
	}
}

// A panic inside an op becomes an error naming the sample, never skipped.
func TestOpPanic(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 10})
	cfg := baseConfig(arrowpair.Supervised)
	cfg.Recipe = pipeline.Recipes{`{"version":1,"channels":3,"ops":[{"op":"pipeline_test_panic"}],"output":{"format":"uint8_hwc"}}`}
	cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 100}
	p := must(pipeline.New(ds, cfg))
	defer p.Close()
	var got error
	for _, err := range p.Batches(context.Background()) {
		got = err
	}
	var se *pipeline.SampleError
	if !errors.Is(got, pipeline.ErrPanic) || !errors.As(got, &se) || !contains(got.Error(), "boom") || !contains(got.Error(), "img/") {
		t.Fatalf("panic: %v", got)
	}
}

// The world size may change at an epoch boundary (the resumed stream equals
// a fresh start at that epoch with the new world size), not mid-epoch.
func TestResumeWorldSizeChange(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 40})
	cfg := baseConfig(arrowpair.Contrastive)
	cfg.Epochs = 2
	p := must(pipeline.New(ds, cfg))
	takeBatches(t, p, 5) // all of epoch 0
	atBoundary := p.State()
	takeBatches(t, p, 1)
	midEpoch := p.State()
	p.Close()

	c2 := cfg
	c2.WorldSize, c2.Rank = 2, 1
	r := must(pipeline.Resume(ds, c2, atBoundary))
	got := takeBatches(t, r, -1)
	r.Close()
	fresh := c2
	fresh.Epoch, fresh.Epochs = 1, 1
	f := must(pipeline.New(ds, fresh))
	want := takeBatches(t, f, -1)
	f.Close()
	if len(got) != 3 || len(got) != len(want) {
		t.Fatalf("%d batches after the change, fresh start %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("batch %d differs from a fresh start at epoch 1 with world size 2", i)
		}
	}
	if _, err := pipeline.Resume(ds, c2, midEpoch); !errors.Is(err, sampler.ErrTopology) {
		t.Fatalf("mid-epoch world size change: %v", err)
	}
}

// The shard-sequential order is deterministic across worker counts, keeps
// records within a window of their file position, and resumes exactly.
func TestShardsOrder(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 50, maxRecs: 10})
	cfg := baseConfig(arrowpair.Rotation)
	cfg.Order, cfg.Window, cfg.Epochs = pipeline.OrderShards, 10, 2
	cfg.Workers = 1
	one := runBytes(t, ds, cfg)
	cfg.Workers = 6
	if !bytes.Equal(one, runBytes(t, ds, cfg)) {
		t.Fatal("worker count changed the shards-order stream")
	}
	rows := readRows(t, one)
	// Window 10 = one shard: every run of 10 positions is one whole shard.
	for w := 0; w < 50; w += 10 {
		shard := rows[w].id / 10
		for _, r := range rows[w : w+10] {
			if r.id/10 != shard {
				t.Fatalf("window at %d mixes shards %d and %d", w, shard, r.id/10)
			}
		}
	}
	p := must(pipeline.New(ds, cfg))
	first := takeBatches(t, p, 2)
	st := p.State()
	p.Close()
	cfg.Workers = 2
	r := must(pipeline.Resume(ds, cfg, st))
	rest := takeBatches(t, r, -1)
	r.Close()
	var all bytes.Buffer
	for _, b := range append(first, rest...) {
		all.Write(b)
	}
	ref := must(pipeline.New(ds, cfg))
	var want bytes.Buffer
	for _, b := range takeBatches(t, ref, -1) {
		want.Write(b)
	}
	ref.Close()
	if !bytes.Equal(all.Bytes(), want.Bytes()) {
		t.Fatal("resumed shards-order stream differs")
	}
	cfg.Window = 5
	if _, err := pipeline.Resume(ds, cfg, st); !errors.Is(err, sampler.ErrFingerprint) {
		t.Fatalf("resume with another window: %v", err)
	}
}
