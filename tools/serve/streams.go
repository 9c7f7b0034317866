package main

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/pipeline"
	"google.golang.org/grpc/peer"
)

// The per-stream view (GET /v1/streams on the metrics port): the streams
// being served now, and the last few that ended, each with its batches,
// rows and bytes so far and its pipeline's stage times. The Prometheus
// metrics keep per-dataset and per-stage counters only (a label per stream
// would grow without bound); this view is bounded by --max-streams (active)
// and recentStreams (ended).

// recentStreams is how many ended streams the view keeps.
const recentStreams = 32

// StreamStatus describes one stream of the view.
type StreamStatus struct {
	ID        uint64   `json:"id"` // per server process, from 1
	Transport string   `json:"transport"`
	Client    string   `json:"client,omitempty"` // the peer's address
	Dataset   string   `json:"dataset"`
	Rank      int      `json:"rank"`
	WorldSize int      `json:"world_size"`
	Worker    int      `json:"worker"`
	Workers   int      `json:"workers"`
	Start     Position `json:"start"`
	// Last is the position of the last batch handed to the transport
	// (absent before the first).
	Last    *Position `json:"last,omitempty"`
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"` // since Started (to the end, once ended)
	Batches int64     `json:"batches"`
	Rows    int64     `json:"rows"`
	Bytes   int64     `json:"bytes"` // Arrow buffer bytes, as pairflow_serve_bytes_total
	// Stages are the stream's pipeline stage times (seconds, summed over
	// the stage's goroutines), as the pairflow_serve_stage_* counters.
	Stages []StageStatus `json:"stages"`
	// Result is ok, cancelled or error once the stream ended; Error its
	// error.
	Result string `json:"result,omitempty"`
	Error  string `json:"error,omitempty"`
}

// StageStatus is one pipeline stage's time in a stream.
type StageStatus struct {
	Name       string  `json:"name"`
	Busy       float64 `json:"busy_seconds"`
	BlockedIn  float64 `json:"blocked_in_seconds"`
	BlockedOut float64 `json:"blocked_out_seconds"`
}

// StreamsStatus is the answer of GET /v1/streams: the active streams by ID,
// and up to 32 ended ones, the latest first.
type StreamsStatus struct {
	Active []StreamStatus `json:"active"`
	Recent []StreamStatus `json:"recent"`
}

// streamTable holds the view.
type streamTable struct {
	mu     sync.Mutex
	next   uint64
	active map[uint64]*liveStream
	recent []StreamStatus // oldest first, at most keep
	keep   int
}

// liveStream is a stream's entry; st is guarded by mu.
type liveStream struct {
	mu     sync.Mutex
	st     StreamStatus
	stages map[string]int // index in st.Stages by name
}

// clientKey carries a peer address to serve (HTTP; gRPC has peer.FromContext).
type clientKey struct{}

func withClient(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, clientKey{}, addr)
}

func clientOf(ctx context.Context) string {
	if a, ok := ctx.Value(clientKey{}).(string); ok {
		return a
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// begin enters a stream in the view.
func (t *streamTable) begin(ctx context.Context, st *stream, dataset, transport string) *liveStream {
	ls := &liveStream{stages: map[string]int{}, st: StreamStatus{
		Transport: transport, Client: clientOf(ctx), Dataset: dataset,
		Rank: st.ep.cfg.Rank, WorldSize: max(st.ep.cfg.WorldSize, 1), Worker: st.ep.worker, Workers: st.ep.of,
		Start: st.ep.start, Started: time.Now(), Stages: []StageStatus{},
	}}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.active == nil {
		t.active = map[uint64]*liveStream{}
	}
	t.next++
	ls.st.ID = t.next
	t.active[ls.st.ID] = ls
	return ls
}

// sent counts a batch at position at handed to the transport.
func (ls *liveStream) sent(rec arrow.RecordBatch, at Position, bytes int64) {
	ls.mu.Lock()
	ls.st.Batches++
	ls.st.Rows += rec.NumRows()
	ls.st.Bytes += bytes
	ls.st.Last = &at
	ls.mu.Unlock()
}

// observe adds a pipeline stats delta to the stream's stage times.
func (ls *liveStream) observe(d pipeline.Stats) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, s := range d.Stages {
		i, ok := ls.stages[s.Name]
		if !ok {
			i = len(ls.st.Stages)
			ls.stages[s.Name] = i
			ls.st.Stages = append(ls.st.Stages, StageStatus{Name: s.Name})
		}
		g := &ls.st.Stages[i]
		g.Busy += s.Busy.Seconds()
		g.BlockedIn += s.BlockedIn.Seconds()
		g.BlockedOut += s.BlockedOut.Seconds()
	}
}

// snapshot copies the entry; a non-zero end fixes its duration.
func (ls *liveStream) snapshot(end time.Time) StreamStatus {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	st := ls.st
	st.Stages = slices.Clone(ls.st.Stages)
	if st.Last != nil {
		l := *st.Last
		st.Last = &l
	}
	if end.IsZero() {
		end = time.Now()
	}
	st.Seconds = end.Sub(st.Started).Seconds()
	return st
}

// end moves a stream from the active set to the recent ones.
func (t *streamTable) end(ls *liveStream, result string, err error) {
	st := ls.snapshot(time.Now())
	st.Result = result
	if err != nil {
		st.Error = err.Error()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.active, st.ID)
	keep := t.keep
	if keep == 0 {
		keep = recentStreams
	}
	if len(t.recent) >= keep {
		t.recent = slices.Delete(t.recent, 0, len(t.recent)-keep+1)
	}
	t.recent = append(t.recent, st)
}

// status returns the view.
func (t *streamTable) status() StreamsStatus {
	t.mu.Lock()
	live := make([]*liveStream, 0, len(t.active))
	for _, ls := range t.active {
		live = append(live, ls)
	}
	out := StreamsStatus{Active: make([]StreamStatus, 0, len(live)), Recent: make([]StreamStatus, 0, len(t.recent))}
	for i := len(t.recent) - 1; i >= 0; i-- {
		out.Recent = append(out.Recent, t.recent[i])
	}
	t.mu.Unlock()
	for _, ls := range live {
		out.Active = append(out.Active, ls.snapshot(time.Time{}))
	}
	slices.SortFunc(out.Active, func(a, b StreamStatus) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// StreamsHandler serves the per-stream view as JSON (StreamsStatus) at
// GET /v1/streams; main mounts it on the metrics port.
func (s *Server) StreamsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(s.streams.status())
	})
}
