package pipeline_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
)

// Skipping bad records keeps data-parallel ranks aligned: with world size
// 2 and bad records that fall to one rank, every rank still yields the
// same number of full batches at the same (epoch, position) after each
// one, never delivers a bad record, and resumes mid-epoch on the identical
// next batch.
func TestSkipKeepsRanksAligned(t *testing.T) {
	bad := []int{3, 17, 22, 31}
	ds := makeDataset(t, dsOpts{n: 40, badPNG: bad, maxRecs: 8})
	type step struct{ epoch, pos int64 }
	var (
		steps  [2][]step
		bytesR [2][]byte
		skips  [2]int64
	)
	for rank := range 2 {
		cfg := baseConfig(arrowpair.Contrastive)
		cfg.Epochs, cfg.WorldSize, cfg.Rank, cfg.DropLast = 3, 2, rank, true
		cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 100}
		p := must(pipeline.New(ds, cfg))
		var all [][]byte
		for rec, err := range p.Batches(context.Background()) {
			noErr(t, err)
			if rec.NumRows() != int64(cfg.BatchSize) {
				t.Fatalf("rank %d: a batch of %d rows, want %d", rank, rec.NumRows(), cfg.BatchSize)
			}
			all = append(all, batchBytes(t, rec))
			rec.Release()
			st := p.State()
			steps[rank] = append(steps[rank], step{st.Sampler.Epoch, st.Sampler.Position})
		}
		sk, total := p.Skips()
		for _, s := range sk {
			if !slices.Contains(bad, int(s.Index)) {
				t.Fatalf("rank %d skipped good record %d", rank, s.Index)
			}
		}
		skips[rank] = total
		p.Close()
		var buf bytes.Buffer
		for _, b := range all {
			buf.Write(b)
		}
		bytesR[rank] = buf.Bytes()

		// Resume mid-epoch: 20 records a rank make 2 batches an epoch;
		// after 3 batches the run is inside its second epoch.
		p = must(pipeline.New(ds, cfg))
		first := takeBatches(t, p, 3)
		st := p.State()
		p.Close()
		r := must(pipeline.Resume(ds, cfg, st))
		rest := takeBatches(t, r, -1)
		r.Close()
		if got := slices.Concat(append(first, rest...)...); !bytes.Equal(got, bytesR[rank]) {
			t.Fatalf("rank %d: resumed stream differs from the uninterrupted one", rank)
		}
	}
	if !slices.Equal(steps[0], steps[1]) || len(steps[0]) != 6 {
		t.Fatalf("ranks out of step:\nrank 0 %v\nrank 1 %v", steps[0], steps[1])
	}
	if skips[0]+skips[1] == 0 || skips[0] == skips[1] {
		t.Fatalf("skips per rank %v: the test wants bad records on one rank more than the other", skips)
	}
	t.Logf("skips per rank over 3 epochs: %v; %d aligned batches each", skips, len(steps[0]))
}
