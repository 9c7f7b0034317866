package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/arrowpair"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// infoMeta decodes a FlightInfo's app_metadata.
func infoMeta(t *testing.T, b []byte) InfoMetadata {
	t.Helper()
	var m InfoMetadata
	if err := strictJSON(b, &m); err != nil {
		t.Fatalf("FlightInfo.app_metadata %q: %v", b, err)
	}
	return m
}

// TestEpochEndStart: a start (E, N), N the rank's batches per epoch (what a
// client holds after consuming epoch E's last batch), streams exactly what
// (E+1, 0) streams, for rank streams and worker endpoints; at the run's end
// it is an empty complete stream; a batch past N, or a position past the
// run's end, is refused. FlightInfo.app_metadata and POST /v1/info say N
// and the normalised start.
func TestEpochEndStart(t *testing.T) {
	ds := makeDataset(t, 64, 16, 16)
	ts := startServer(t, ds, nil)
	hs := startHTTP(t, ts)
	c := dial(t, ts.addr)
	ctx := context.Background()
	cfg := baseConfig() // epochs 0..1
	cfg.WorldSize = 2
	want := local(t, ds, cfg, 1)
	n := int64(len(want) / 2)
	if n < 2 {
		t.Fatalf("%d batches per epoch: too few for the test", n)
	}

	info := func(start *Position, workers int) InfoMetadata {
		t.Helper()
		fi, err := getInfo(ctx, c, desc(t, cfg, workers, start))
		if err != nil {
			t.Fatal(err)
		}
		return infoMeta(t, fi.AppMetadata)
	}
	m := info(nil, 1)
	if m.BatchesPerEpoch != n || m.Ranks != 2 || m.WorkerCount != 1 || m.Start != (Position{}) || m.SchemaVersion == "" {
		t.Fatalf("app_metadata %+v, want batches_per_epoch %d, ranks 2, workers 1, start (0,0)", m, n)
	}
	// HTTP's /v1/info says the same (plus the endpoints).
	resp := httpDo(t, http.MethodPost, hs.URL+"/v1/info", "", desc(t, cfg, 1, &Position{0, n}))
	var hi HTTPInfo
	if err := json.NewDecoder(resp.Body).Decode(&hi); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/info: %d %v", resp.StatusCode, err)
	}
	if fm := info(&Position{0, n}, 1); hi.InfoMetadata != fm || len(hi.Endpoints) != 2 {
		t.Fatalf("/v1/info %+v, FlightInfo.app_metadata %+v", hi, fm)
	}
	if hi.Start != (Position{1, 0}) {
		t.Fatalf("start (0, %d) normalised to %+v, want (1, 0)", n, hi.Start)
	}

	stream := func(start Position, workers, ep int) []got {
		t.Helper()
		fi, err := getInfo(ctx, c, desc(t, cfg, workers, &start))
		if err != nil {
			t.Fatalf("start %+v: %v", start, err)
		}
		bs, err := doGet(ctx, t, c, fi.Endpoint[ep].Ticket.Ticket, -1)
		if err != nil {
			t.Fatalf("start %+v endpoint %d: %v", start, ep, err)
		}
		return bs
	}
	sameStream := func(what string, a, b []got) {
		t.Helper()
		sameData(t, what, a, b)
		for i := range a {
			if !maps.Equal(a[i].meta, b[i].meta) || !maps.Equal(a[i].app, b[i].app) {
				t.Fatalf("%s: batch %d: metadata %v / %v, want %v / %v", what, i, a[i].meta, a[i].app, b[i].meta, b[i].app)
			}
		}
	}
	for _, W := range []int{1, 3} {
		for w := range W {
			ep := 1*W + w // rank 1
			got, exp := stream(Position{0, n}, W, ep), stream(Position{1, 0}, W, ep)
			if len(exp) == 0 {
				t.Fatalf("W=%d worker %d: empty epoch-1 stream", W, w)
			}
			sameStream(fmt.Sprintf("W=%d worker %d: start (0,%d) vs (1,0)", W, w, n), got, exp)
			if W == 1 {
				sameData(t, "epoch 1 of the rank", got, want[n:])
				checkMeta(t, "start (0,N)", got, Position{1, 0}, n, 1)
			}
			// The run's end: empty and complete (no error status).
			if end := stream(Position{1, n}, W, ep); len(end) != 0 {
				t.Fatalf("W=%d: start (1,%d), the run's end: %d batches", W, n, len(end))
			}
			if end := stream(Position{2, 0}, W, ep); len(end) != 0 {
				t.Fatalf("W=%d: start (2,0): %d batches", W, len(end))
			}
		}
	}
	if m := info(&Position{1, n}, 1); m.Start != (Position{2, 0}) {
		t.Fatalf("start (1,%d) normalised to %+v, want (2,0)", n, m.Start)
	}

	for _, tc := range []struct {
		start Position
		msg   string
	}{
		{Position{0, n + 1}, "past the end of its epoch"},
		{Position{1, n + 5}, "past the end of its epoch"},
		{Position{2, 1}, "end of the run"},
		{Position{3, 0}, "outside the config's epochs"},
	} {
		_, err := getInfo(ctx, c, desc(t, cfg, 1, &tc.start))
		if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("start %+v: %v, want InvalidArgument %q", tc.start, err, tc.msg)
		}
		resp := httpDo(t, http.MethodPost, hs.URL+"/v1/info", "", desc(t, cfg, 1, &tc.start))
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), tc.msg) {
			t.Errorf("/v1/info start %+v: %d %s", tc.start, resp.StatusCode, body)
		}
	}
}

// TestEpochEndStartEval: eval mode's single epoch has a short last batch;
// (epoch, N) is its end, an empty stream.
func TestEpochEndStartEval(t *testing.T) {
	ds := makeDataset(t, 30, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	cfg := baseConfig()
	cfg.Kind, cfg.Epochs, cfg.Views = arrowpair.Eval, 0, 0
	fi, err := getInfo(ctx, c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	n := infoMeta(t, fi.AppMetadata).BatchesPerEpoch
	all, err := doGet(ctx, t, c, fi.Endpoint[0].Ticket.Ticket, -1)
	if err != nil || int64(len(all)) != n || n != 4 {
		t.Fatalf("%d batches (%v), batches_per_epoch %d, want 4 (30 records of 8)", len(all), err, n)
	}
	for _, start := range []Position{{0, n}, {1, 0}} {
		fi, err := getInfo(ctx, c, desc(t, cfg, 1, &start))
		if err != nil {
			t.Fatalf("start %+v: %v", start, err)
		}
		bs, err := doGet(ctx, t, c, fi.Endpoint[0].Ticket.Ticket, -1)
		if err != nil || len(bs) != 0 {
			t.Fatalf("start %+v: %d batches, %v; want an empty stream", start, len(bs), err)
		}
	}
}
