package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"strconv"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// checkMeta checks the epoch/batch tags and the final summary of a stream
// read from the start of epoch e0.
func checkMeta(t *testing.T, what string, bs []got, first Position, perEpoch int64, step int64) {
	t.Helper()
	at := first
	var rows int64
	var crc uint32
	for i, b := range bs {
		for _, m := range []map[string]string{b.meta, b.app} {
			if m[MetaEpoch] != strconv.FormatInt(at.Epoch, 10) || m[MetaBatch] != strconv.FormatInt(at.Batch, 10) {
				t.Fatalf("%s: batch %d tagged epoch %s batch %s, want %d/%d", what, i, m[MetaEpoch], m[MetaBatch], at.Epoch, at.Batch)
			}
			_, has := m[MetaStreamBatches]
			if has != (i == len(bs)-1) {
				t.Fatalf("%s: batch %d of %d: summary present %v", what, i, len(bs), has)
			}
		}
		rows += int64(len(b.ids))
		crc = crc32.Update(crc, crc32.IEEETable, le64(b.ids))
		crc = crc32.Update(crc, crc32.IEEETable, le64(epochsOf(b, at.Epoch)))
		at.Batch += step
		if at.Batch >= perEpoch {
			at.Epoch, at.Batch = at.Epoch+1, at.Batch-perEpoch
		}
	}
	if len(bs) == 0 {
		return
	}
	last := bs[len(bs)-1].meta
	want := map[string]string{MetaStreamBatches: strconv.Itoa(len(bs)), MetaStreamRows: strconv.FormatInt(rows, 10),
		MetaStreamCRC32: fmt.Sprintf("%08x", crc)}
	for k, v := range want {
		if last[k] != v {
			t.Fatalf("%s: summary %s = %q, want %q", what, k, last[k], v)
		}
	}
}

func le64(v []uint64) []byte {
	b := make([]byte, 0, 8*len(v))
	for _, x := range v {
		for i := range 8 {
			b = append(b, byte(x>>(8*i)))
		}
	}
	return b
}

func epochsOf(b got, e int64) []uint64 {
	out := make([]uint64, len(b.ids))
	for i := range out {
		out[i] = uint64(e)
	}
	return out
}

// TestFlightRanks: every rank's Flight stream is byte-identical to the
// in-process pipeline's; the 4 ranks are disjoint, cover each epoch and have
// equal batch counts; tags and summaries are right.
func TestFlightRanks(t *testing.T) {
	ds := makeDataset(t, 96, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	cfg := baseConfig()
	cfg.WorldSize = 4
	fi, err := getInfo(ctx, c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(fi.Endpoint) != 4 {
		t.Fatalf("%d endpoints, want 4", len(fi.Endpoint))
	}
	perEpoch := int64(96 / 4 / 8)
	seen := map[int64]map[uint64]int{}
	for r, ep := range fi.Endpoint {
		bs, err := doGet(ctx, t, c, ep.Ticket.Ticket, -1)
		if err != nil {
			t.Fatalf("rank %d: %v", r, err)
		}
		sameData(t, fmt.Sprintf("rank %d", r), bs, local(t, ds, cfg, r))
		if int64(len(bs)) != 2*perEpoch {
			t.Fatalf("rank %d: %d batches, want %d", r, len(bs), 2*perEpoch)
		}
		checkMeta(t, fmt.Sprintf("rank %d", r), bs, Position{}, perEpoch, 1)
		for i, b := range bs {
			e := int64(i) / perEpoch
			if seen[e] == nil {
				seen[e] = map[uint64]int{}
			}
			for _, id := range b.ids {
				seen[e][id]++
			}
		}
	}
	for e, m := range seen {
		if len(m) != 96 {
			t.Fatalf("epoch %d: %d distinct samples over the ranks, want 96", e, len(m))
		}
		for id, n := range m {
			if n != 1 {
				t.Fatalf("epoch %d: sample %d served %d times", e, id, n)
			}
		}
	}
}

// TestResume: k batches, then a new descriptor starting at the next batch,
// equals the uninterrupted stream.
func TestResume(t *testing.T) {
	ds := makeDataset(t, 60, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	cfg := baseConfig()
	cfg.WorldSize = 2
	fi, err := getInfo(ctx, c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	full, err := doGet(ctx, t, c, fi.Endpoint[1].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	perEpoch := int64(len(full) / 2)
	for _, k := range []int{1, int(perEpoch) - 1, int(perEpoch), int(perEpoch) + 2} {
		head, err := doGet(ctx, t, c, fi.Endpoint[1].Ticket.Ticket, k)
		if err != nil {
			t.Fatal(err)
		}
		next := Position{Epoch: int64(k) / perEpoch, Batch: int64(k) % perEpoch}
		fi2, err := getInfo(ctx, c, desc(t, cfg, 1, &next))
		if err != nil {
			t.Fatal(err)
		}
		tail, err := doGet(ctx, t, c, fi2.Endpoint[1].Ticket.Ticket, -1)
		if err != nil {
			t.Fatal(err)
		}
		sameData(t, fmt.Sprintf("resume after %d", k), append(head, tail...), full)
		checkMeta(t, "resumed tail", tail, next, perEpoch, 1)
	}
}

// TestWorkers: the W worker endpoints of a rank interleave to the rank's
// stream, from the start and from a resume point.
func TestWorkers(t *testing.T) {
	ds := makeDataset(t, 64, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	cfg := baseConfig()
	cfg.WorldSize = 2
	want := local(t, ds, cfg, 1)
	perEpoch := int64(len(want) / 2)
	for _, start := range []Position{{0, 0}, {0, 3}, {1, 1}} {
		const W = 3
		fi, err := getInfo(ctx, c, desc(t, cfg, W, &start))
		if err != nil {
			t.Fatal(err)
		}
		if len(fi.Endpoint) != 2*W {
			t.Fatalf("%d endpoints", len(fi.Endpoint))
		}
		skip := start.Epoch*perEpoch + start.Batch
		var parts [W][]got
		for w := range W {
			if parts[w], err = doGet(ctx, t, c, fi.Endpoint[1*W+w].Ticket.Ticket, -1); err != nil {
				t.Fatal(err)
			}
		}
		var merged []got
		for i := skip; i < int64(len(want)); i++ {
			b := i % perEpoch
			w := b % W
			if len(parts[w]) == 0 {
				t.Fatalf("start %v: worker %d ran out at global batch %d", start, w, i)
			}
			merged = append(merged, parts[w][0])
			parts[w] = parts[w][1:]
		}
		for w := range W {
			if len(parts[w]) != 0 {
				t.Fatalf("start %v: worker %d has %d extra batches", start, w, len(parts[w]))
			}
		}
		sameData(t, fmt.Sprintf("workers from %v", start), merged, want[skip:])
	}
}

// TestBigBatch: a batch over gRPC's default 4 MiB message limit passes.
func TestBigBatch(t *testing.T) {
	ds := makeDataset(t, 16, 64, 64)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	cfg := pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 8, Seed: 1, Epochs: 1,
		Recipe: pipeline.Recipes{pipeline.EvalRecipe(224, 3)}}
	fi, err := getInfo(context.Background(), c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := doGet(context.Background(), t, c, fi.Endpoint[0].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || len(bs[0].data) < 8<<20 {
		t.Fatalf("%d batches of %d bytes, want 2 of > 8 MiB", len(bs), len(bs[0].data))
	}
	sameData(t, "224 px", bs, local(t, ds, cfg, 0))
}

// TestAuth: with a token, requests without it or with a wrong one are
// refused (GetFlightInfo and DoGet); the right one passes.
func TestAuth(t *testing.T) {
	ds := makeDataset(t, 16, 16, 16)
	ts := startServer(t, ds, func(o *Options) { o.Token = "s3cret-token" })
	c := dial(t, ts.addr)
	d := desc(t, baseConfig(), 1, nil)
	ok := withToken(context.Background(), "s3cret-token")
	fi, err := getInfo(ok, c, d)
	if err != nil {
		t.Fatal(err)
	}
	for name, ctx := range map[string]context.Context{
		"none": context.Background(), "wrong": withToken(context.Background(), "s3cret-tokem"),
		"prefix": withToken(context.Background(), "s3cret"),
	} {
		if _, err := getInfo(ctx, c, d); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: GetFlightInfo: %v, want Unauthenticated", name, err)
		}
		if _, err := doGet(ctx, t, c, fi.Endpoint[0].Ticket.Ticket, -1); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: DoGet: %v, want Unauthenticated", name, err)
		}
	}
	if _, err := doGet(ok, t, c, fi.Endpoint[0].Ticket.Ticket, -1); err != nil {
		t.Fatal(err)
	}
}

// TestBadRequests: malformed descriptors and tickets get clear errors, and
// the server keeps serving.
func TestBadRequests(t *testing.T) {
	ds := makeDataset(t, 16, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	good := desc(t, baseConfig(), 1, nil)
	fi, err := getInfo(ctx, c, good)
	if err != nil {
		t.Fatal(err)
	}
	tkt := fi.Endpoint[0].Ticket.Ticket
	descs := map[string]struct {
		d    string
		code codes.Code
	}{
		"empty":        {``, codes.InvalidArgument},
		"not json":     {`{`, codes.InvalidArgument},
		"version":      {`{"version":2,"dataset":"d","config":{}}`, codes.InvalidArgument},
		"unknown":      {`{"version":1,"dataset":"d","config":{},"x":1}`, codes.InvalidArgument},
		"no config":    {`{"version":1,"dataset":"d"}`, codes.InvalidArgument},
		"bad config":   {`{"version":1,"dataset":"d","config":{"kind":"nope","batch_size":8,"recipe":"torchvision-a"}}`, codes.InvalidArgument},
		"rank":         {`{"version":1,"dataset":"d","config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a","rank":1,"world_size":2}}`, codes.InvalidArgument},
		"no dataset":   {`{"version":1,"dataset":"other","config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a"}}`, codes.NotFound},
		"workers":      {`{"version":1,"dataset":"d","worker_count":-1,"config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a"}}`, codes.InvalidArgument},
		"start beyond": {`{"version":1,"dataset":"d","start":{"epoch":0,"batch":99},"config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a","epochs":1}}`, codes.InvalidArgument},
		"start epoch":  {`{"version":1,"dataset":"d","start":{"epoch":5,"batch":0},"config":{"kind":"contrastive","batch_size":8,"recipe":"torchvision-a","epochs":1}}`, codes.InvalidArgument},
		"bad recipe":   {`{"version":1,"dataset":"d","config":{"kind":"contrastive","batch_size":8,"recipe":"no-such-preset"}}`, codes.InvalidArgument},
		"huge":         {`{"version":1,"dataset":"` + string(make([]byte, MaxDescriptorBytes)) + `"}`, codes.InvalidArgument},
	}
	for name, tc := range descs {
		_, err := getInfo(ctx, c, []byte(tc.d))
		if status.Code(err) != tc.code {
			t.Errorf("descriptor %s: %v, want %v", name, err, tc.code)
		}
	}
	if _, err := c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorPATH, Path: []string{"d"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("path descriptor: %v", err)
	}
	flip := append([]byte(nil), tkt...)
	flip[len(flip)/2] ^= 1
	other, _ := signTicket([]byte("another-key-0123456789"), &ticket{Dataset: "d", Config: []byte(`{}`), Workers: 1})
	tickets := map[string][]byte{
		"empty": nil, "short": tkt[:10], "truncated": tkt[:len(tkt)-1], "flipped": flip, "other key": other,
		"magic": append([]byte("XXXX"), tkt[4:]...), "huge": make([]byte, maxTicketBytes+1),
	}
	for name, b := range tickets {
		if _, err := doGet(ctx, t, c, b, -1); status.Code(err) != codes.InvalidArgument {
			t.Errorf("ticket %s: %v, want InvalidArgument", name, err)
		}
	}
	// Still serving.
	bs, err := doGet(ctx, t, c, tkt, -1)
	if err != nil || len(bs) == 0 {
		t.Fatalf("after bad requests: %d batches, %v", len(bs), err)
	}
}
