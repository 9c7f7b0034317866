package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"testing"

	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// descSpent is desc with skips_spent (none when spent is nil).
func descSpent(t testing.TB, cfg pipeline.Config, workers int, start *Position, spent map[int]SkipsSpent) []byte {
	t.Helper()
	c, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Descriptor{Version: 1, Dataset: "d", Config: c, WorkerCount: workers, Start: start, SkipsSpent: spent})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// skipData writes 64 records of which two (in epoch 0's batches 1 and 5 of
// rank 0, batch size 8) are corrupt, and opens them.
func skipData(t *testing.T) *shards.Dataset {
	ds0, dir := makeDatasetDir(t, 64, 16, 16)
	plain := baseConfig()
	plain.Epochs = 1
	l := local(t, ds0, plain, 0)
	corruptRecord(t, dir, fmt.Sprintf("img/%05d", l[1].ids[3]))
	corruptRecord(t, dir, fmt.Sprintf("img/%05d", l[5].ids[0]))
	ds, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return ds
}

// spentOf returns the skip counts a batch carries (in app_metadata and the
// batch's custom metadata, which must agree) and the position after it.
func spentOf(t *testing.T, g got) (SkipsSpent, Position) {
	t.Helper()
	num := func(k string) int64 {
		if g.meta[k] != g.app[k] {
			t.Fatalf("%s: custom metadata %q, app_metadata %q", k, g.meta[k], g.app[k])
		}
		n, err := strconv.ParseInt(g.app[k], 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", k, g.app[k], err)
		}
		return n
	}
	return SkipsSpent{Total: num(MetaSkipped), Epoch: num(MetaEpochSkipped)}, Position{Epoch: num(MetaEpoch), Batch: num(MetaBatch) + 1}
}

// sameTagged fails unless a and b hold the same batch bytes and the same
// tags (custom metadata and app_metadata).
func sameTagged(t *testing.T, what string, a, b []got) {
	t.Helper()
	sameData(t, what, a, b)
	for i := range a {
		if !maps.Equal(a[i].meta, b[i].meta) || !maps.Equal(a[i].app, b[i].app) {
			t.Fatalf("%s: batch %d tagged %v / %v, want %v / %v", what, i, a[i].meta, a[i].app, b[i].meta, b[i].app)
		}
	}
}

// TestSkipBudgetResume: under the "skip" policy a resumed stream counts on
// from the skips the uninterrupted stream had spent (sent back from the
// last batch's tags), so that it fails at the same batch, with the same
// batches and tags before it; without them it would start a fresh budget.
func TestSkipBudgetResume(t *testing.T) {
	ds := skipData(t)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	cfg := baseConfig()
	cfg.Epochs = 3
	cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 5}
	ctx := context.Background()
	read := func(start *Position, spent map[int]SkipsSpent, ep int) ([]got, error) {
		t.Helper()
		fi, err := getInfo(ctx, c, descSpent(t, cfg, 1, start, spent))
		if err != nil {
			t.Fatal(err)
		}
		return doGet(ctx, t, c, fi.Endpoint[ep].Ticket.Ticket, -1)
	}
	// Two bad records per epoch: the sixth skip, in epoch 2, is over budget.
	full, err := read(nil, nil, 0)
	if status.Code(err) != codes.Internal || len(full) <= 16 || len(full) >= 24 {
		t.Fatalf("uninterrupted: %d batches, err %v; want an Internal error in epoch 2", len(full), err)
	}
	var prev int64
	for i, g := range full {
		sp, _ := spentOf(t, g)
		if sp.Total < prev || sp.Epoch > sp.Total {
			t.Fatalf("batch %d: skips %+v after %d", i, sp, prev)
		}
		prev = sp.Total
	}
	if prev != 5 {
		t.Fatalf("last batch before the failure counts %d skips, want 5", prev)
	}
	for _, k := range []int{1, 2, 6, 7, 8, 9, 13, 16, len(full) - 1} {
		sp, next := spentOf(t, full[k-1])
		got, err := read(&next, map[int]SkipsSpent{0: sp}, 0)
		if status.Code(err) != codes.Internal {
			t.Fatalf("resumed at %d (%+v, spent %+v): err %v, want the same Internal error", k, next, sp, err)
		}
		sameTagged(t, fmt.Sprintf("resumed at %d", k), got, full[k:])
	}
	// Without the counts the budget restarts (what a client that does not
	// send them gets): from epoch 1 on, 4 skips fit in max_count 5.
	if got, err := read(&Position{Epoch: 1}, nil, 0); err != nil || len(got) != 16 {
		t.Fatalf("resumed at epoch 1 without counts: %d batches, err %v; want the 16 of epochs 1 and 2", len(got), err)
	}
}

// TestSkipBudgetWorkers: with worker endpoints each worker counts the skips
// of its own batches, and resumes from its own counts identically.
func TestSkipBudgetWorkers(t *testing.T) {
	ds := skipData(t)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	cfg := baseConfig()
	cfg.Epochs = 2
	cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 100}
	ctx := context.Background()
	fi, err := getInfo(ctx, c, desc(t, cfg, 2, nil))
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for w := range 2 {
		full, err := doGet(ctx, t, c, fi.Endpoint[w].Ticket.Ticket, -1)
		if err != nil || len(full) != 8 {
			t.Fatalf("worker %d: %d batches, %v", w, len(full), err)
		}
		last, _ := spentOf(t, full[len(full)-1])
		total += last.Total
		for _, k := range []int{1, 3, 4, 5, 7} {
			sp, next := spentOf(t, full[k-1])
			fr, err := getInfo(ctx, c, descSpent(t, cfg, 2, &next, map[int]SkipsSpent{w: sp}))
			if err != nil {
				t.Fatal(err)
			}
			got, err := doGet(ctx, t, c, fr.Endpoint[w].Ticket.Ticket, -1)
			if err != nil {
				t.Fatal(err)
			}
			// The resumed stream's summary counts its own batches: compare
			// all but the summary keys.
			for _, g := range append(got[len(got)-1:], full[len(full)-1]) {
				for _, m := range []map[string]string{g.meta, g.app} {
					delete(m, MetaStreamBatches)
					delete(m, MetaStreamRows)
					delete(m, MetaStreamCRC32)
				}
			}
			sameTagged(t, fmt.Sprintf("worker %d resumed at %d", w, k), got, full[k:])
		}
	}
	if total != 4 {
		t.Fatalf("the workers counted %d skips, want the rank's 4 (2 per epoch)", total)
	}
}

// TestSkipsSpentRefused: counts that cannot belong to the stream are
// refused.
func TestSkipsSpentRefused(t *testing.T) {
	ds := makeDataset(t, 32, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	skip := baseConfig()
	skip.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: 3}
	for name, d := range map[string][]byte{
		"no skip policy":         descSpent(t, baseConfig(), 1, &Position{Batch: 1}, map[int]SkipsSpent{0: {Total: 1}}),
		"epoch above total":      descSpent(t, skip, 1, &Position{Batch: 1}, map[int]SkipsSpent{0: {Total: 1, Epoch: 2}}),
		"negative":               descSpent(t, skip, 1, &Position{Batch: 1}, map[int]SkipsSpent{0: {Total: -1}}),
		"epoch count at batch 0": descSpent(t, skip, 1, &Position{Epoch: 1}, map[int]SkipsSpent{0: {Total: 1, Epoch: 1}}),
		"endpoint out of range":  descSpent(t, skip, 2, &Position{Batch: 1}, map[int]SkipsSpent{2: {Total: 1}}),
	} {
		if _, err := getInfo(context.Background(), c, d); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	// (E, N) with an epoch count is (E+1, 0) with none.
	fi, err := getInfo(context.Background(), c, descSpent(t, skip, 1, &Position{Batch: 4}, map[int]SkipsSpent{0: {Total: 2, Epoch: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	tk, _, err := parseTicket(ts.srv.key, fi.Endpoint[0].Ticket.Ticket)
	if err != nil || tk.Start != (Position{Epoch: 1}) || tk.Spent != (SkipsSpent{Total: 2}) {
		t.Fatalf("ticket %+v, %v", tk, err)
	}
}
