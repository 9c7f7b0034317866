package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Options configure a Server.
type Options struct {
	// Datasets maps the names clients use to open datasets. The server does
	// not close them.
	Datasets map[string]*shards.Dataset
	// TicketKey signs tickets (HMAC-SHA256). Servers of one pool share it;
	// nil draws a random key (tickets then work on this process only).
	TicketKey []byte
	// Token, when set, is the bearer token every request must carry.
	Token string
	// Locations are the URIs put in every endpoint (any of them serves any
	// ticket); empty: the client reuses the connection it asked on.
	Locations []string
	// MaxStreams bounds the streams served at once (0: 16); more are
	// refused with ResourceExhausted.
	MaxStreams int
	// Workers and Prefetch are each stream's pipeline workers (0:
	// GOMAXPROCS) and finished batches queued ahead of the network (0: 2).
	Workers, Prefetch int
	// Allocator receives the batches' memory (nil: memory.DefaultAllocator).
	Allocator memory.Allocator
	// Logger receives structured logs (nil: discarded).
	Logger *slog.Logger
	// Metrics, when set, receives the server's metrics.
	Metrics *Metrics
}

// Server serves pipeline streams over Arrow Flight (and HTTP, see
// HTTPHandler). It is safe for concurrent use.
type Server struct {
	flight.BaseFlightServer
	opt   Options
	key   []byte
	slots chan struct{}
	log   *slog.Logger
	m     *Metrics
	wg    sync.WaitGroup // running streams

	streams streamTable // the per-stream view (StreamsHandler)
}

// NewServer returns a server; its options are checked.
func NewServer(opt Options) (*Server, error) {
	if len(opt.Datasets) == 0 {
		return nil, errors.New("serve: no datasets")
	}
	key := opt.TicketKey
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	} else if len(key) < MinTicketKeyBytes {
		return nil, fmt.Errorf("serve: ticket key of %d bytes (at least %d)", len(key), MinTicketKeyBytes)
	}
	if opt.MaxStreams <= 0 {
		opt.MaxStreams = 16
	}
	if opt.Allocator == nil {
		opt.Allocator = memory.DefaultAllocator
	}
	if opt.Workers < 0 || opt.Workers > pipeline.MaxWorkers || opt.Prefetch < 0 || opt.Prefetch > pipeline.MaxPrefetch {
		return nil, fmt.Errorf("serve: workers %d, prefetch %d", opt.Workers, opt.Prefetch)
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := opt.Metrics
	if m == nil {
		m = NewMetrics(nil)
	}
	return &Server{opt: opt, key: key, slots: make(chan struct{}, opt.MaxStreams), log: log, m: m}, nil
}

// MaxMessageBytes is the gRPC message limit the server and the Go client
// set: one FlightData message carries one record batch, and a batch of 64
// 224×224 float32 pairs is about 77 MB (gRPC's default limit is 4 MiB).
const MaxMessageBytes = 1<<31 - 1

// GRPCOptions returns the gRPC server options: message limits, auth
// interceptors and the connection-counting stats handler.
func (s *Server) GRPCOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxDescriptorBytes + 1<<20), // clients send descriptors and tickets only
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(s.unaryAuth),
		grpc.ChainStreamInterceptor(s.streamAuth),
		grpc.StatsHandler(s.m.connHandler()),
		grpc.ForceServerCodecV2(newFlightCodec()),
		grpc.WriteBufferSize(256 << 10),
	}
}

// authorized checks the bearer token of a gRPC request.
func (s *Server) authorized(ctx context.Context) error {
	if s.opt.Token == "" {
		return nil
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		if tokenOK(v, s.opt.Token) {
			return nil
		}
	}
	s.m.refused.WithLabelValues("auth").Inc()
	return status.Error(codes.Unauthenticated, "serve: missing or wrong bearer token (send the header authorization: Bearer <token>)")
}

// tokenOK compares an Authorization value with "Bearer <token>" in constant
// time.
func tokenOK(header, token string) bool {
	const p = "Bearer "
	if len(header) < len(p) || !strings.EqualFold(header[:len(p)], p) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(header[len(p):]), []byte(token)) == 1
}

func (s *Server) unaryAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if err := s.authorized(ctx); err != nil {
		return nil, err
	}
	return h(ctx, req)
}

func (s *Server) streamAuth(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if err := s.authorized(ss.Context()); err != nil {
		return err
	}
	return h(srv, ss)
}

// info answers a descriptor: the endpoints' tickets, the schema, and the
// rows of the run.
type info struct {
	schema   *arrow.Schema
	tickets  [][]byte // index rank*workers + worker
	ranks    int
	workers  int
	perEpoch int64    // batches per epoch of rank 0
	start    Position // the descriptor's start, normalised (normalStart)
}

// InfoMetadata is what GetFlightInfo's FlightInfo.app_metadata (UTF-8 JSON)
// and POST /v1/info (HTTPInfo, with the endpoints added) say about a
// descriptor's streams.
type InfoMetadata struct {
	// SchemaVersion is the arrowpair schema version of the streams.
	SchemaVersion string `json:"schema_version"`
	// Ranks is the world size; WorkerCount the endpoints per rank.
	Ranks       int `json:"ranks"`
	WorkerCount int `json:"worker_count"`
	// BatchesPerEpoch is the number of batches in each epoch of a rank's
	// stream (rank 0's; every rank has as many, except in eval mode, where a
	// rank may have one batch fewer). A client that has consumed batch N-1
	// of epoch E may resume at (E, N): it means (E+1, 0).
	BatchesPerEpoch int64 `json:"batches_per_epoch"`
	// Start is where the endpoints start: the descriptor's start, with
	// (E, BatchesPerEpoch) normalised to (E+1, 0).
	Start Position `json:"start"`
}

// metadata returns the info's InfoMetadata.
func (in *info) metadata() InfoMetadata {
	md := in.schema.Metadata()
	v := ""
	if i := md.FindKey(arrowpair.MetaSchemaVersion); i >= 0 {
		v = md.Values()[i]
	}
	return InfoMetadata{SchemaVersion: v, Ranks: in.ranks, WorkerCount: in.workers,
		BatchesPerEpoch: in.perEpoch, Start: in.start}
}

// describe validates a descriptor against the served datasets and signs its
// tickets.
func (s *Server) describe(b []byte) (*info, error) {
	r, err := parseDescriptor(b)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	ds := s.opt.Datasets[r.dataset]
	if ds == nil {
		return nil, status.Errorf(codes.NotFound, "serve: no dataset %q on this server (serving %s)", r.dataset, s.datasetNames())
	}
	cfg := s.streamConfig(r.cfg)
	st, err := open(endpoint{ds: ds, cfg: cfg, of: r.workers, start: r.start})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "serve: "+err.Error())
	}
	fp := st.fingerprint
	in := &info{schema: st.schema, ranks: r.world(), workers: r.workers, perEpoch: st.perEpoch, start: st.ep.start}
	for rank := range r.world() {
		c := r.cfg
		c.Rank = rank
		cj, err := json.Marshal(c)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		for w := range r.workers {
			spent := r.spent[rank*r.workers+w].normal(r.start, st.ep.start)
			t, err := signTicket(s.key, &ticket{Dataset: r.dataset, Fingerprint: fp, Config: cj,
				Worker: w, Workers: r.workers, Start: st.ep.start, Spent: spent})
			if err != nil {
				return nil, status.Error(codes.Internal, err.Error())
			}
			in.tickets = append(in.tickets, t)
		}
	}
	return in, nil
}

// streamConfig sets the server's speed settings on a client's config.
func (s *Server) streamConfig(c pipeline.Config) pipeline.Config {
	c.Workers, c.Prefetch, c.Allocator = s.opt.Workers, s.opt.Prefetch, s.opt.Allocator
	return c
}

func (s *Server) datasetNames() string {
	var names []string
	for n := range s.opt.Datasets {
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// GetFlightInfo answers a CMD descriptor holding the descriptor JSON.
func (s *Server) GetFlightInfo(ctx context.Context, d *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if d.GetType() != flight.DescriptorCMD {
		s.m.refused.WithLabelValues("descriptor").Inc()
		return nil, status.Error(codes.InvalidArgument, "serve: want a CMD descriptor holding the descriptor JSON (docs/serve.md)")
	}
	in, err := s.describe(d.GetCmd())
	if err != nil {
		s.m.refused.WithLabelValues("descriptor").Inc()
		s.log.Info("descriptor refused", "err", err)
		return nil, err
	}
	fi := &flight.FlightInfo{
		Schema:           flight.SerializeSchema(in.schema, s.opt.Allocator),
		FlightDescriptor: d,
		Ordered:          true,
		TotalRecords:     -1,
		TotalBytes:       -1,
	}
	if fi.AppMetadata, err = json.Marshal(in.metadata()); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	var locs []*flight.Location
	for _, l := range s.opt.Locations {
		locs = append(locs, &flight.Location{Uri: l})
	}
	for _, t := range in.tickets {
		fi.Endpoint = append(fi.Endpoint, &flight.FlightEndpoint{Ticket: &flight.Ticket{Ticket: t}, Location: locs})
	}
	s.log.Info("flight info", "ranks", in.ranks, "workers", in.workers, "batches_per_epoch", in.perEpoch,
		"start_epoch", in.start.Epoch, "start_batch", in.start.Batch)
	return fi, nil
}

// GetSchema answers like GetFlightInfo, with the schema only.
func (s *Server) GetSchema(ctx context.Context, d *flight.FlightDescriptor) (*flight.SchemaResult, error) {
	fi, err := s.GetFlightInfo(ctx, d)
	if err != nil {
		return nil, err
	}
	return &flight.SchemaResult{Schema: fi.Schema}, nil
}

// openTicket verifies a ticket and opens its stream.
func (s *Server) openTicket(b []byte) (*stream, string, error) {
	t, cfg, err := parseTicket(s.key, b)
	if err != nil {
		s.m.refused.WithLabelValues("ticket").Inc()
		return nil, "", status.Error(codes.InvalidArgument, err.Error())
	}
	ds := s.opt.Datasets[t.Dataset]
	if ds == nil {
		s.m.refused.WithLabelValues("ticket").Inc()
		return nil, "", status.Errorf(codes.NotFound, "serve: no dataset %q on this server (serving %s)", t.Dataset, s.datasetNames())
	}
	st, err := open(endpoint{ds: ds, cfg: s.streamConfig(cfg), worker: t.Worker, of: t.Workers, start: t.Start, spent: t.Spent, fingerprint: t.Fingerprint})
	if err != nil {
		s.m.refused.WithLabelValues("ticket").Inc()
		code := codes.InvalidArgument
		if errors.Is(err, ErrTicket) {
			code = codes.FailedPrecondition
		}
		return nil, "", status.Error(code, "serve: "+err.Error())
	}
	return st, t.Dataset, nil
}

// acquire takes a stream slot.
func (s *Server) acquire() error {
	select {
	case s.slots <- struct{}{}:
		s.wg.Add(1)
		s.m.active.Inc()
		return nil
	default:
		s.m.refused.WithLabelValues("busy").Inc()
		return status.Errorf(codes.ResourceExhausted, "serve: %d streams already running (--max-streams); retry later", cap(s.slots))
	}
}

func (s *Server) releaseSlot() {
	s.m.active.Dec()
	<-s.slots
	s.wg.Done()
}

// Wait blocks until every running stream has ended (and freed its
// pipeline).
func (s *Server) Wait() { s.wg.Wait() }

// DoGet streams a ticket's batches.
func (s *Server) DoGet(tkt *flight.Ticket, fs flight.FlightService_DoGetServer) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.releaseSlot()
	st, name, err := s.openTicket(tkt.GetTicket())
	if err != nil {
		s.log.Info("ticket refused", "err", err)
		return err
	}
	write, closeOK, finish := flightSink(fs, st.schema, s.opt.Allocator)
	defer finish()
	return s.serve(fs.Context(), st, name, "flight", write, closeOK)
}

// appMetadata is the FlightData app_metadata of a batch: a JSON object of
// the batch's custom metadata (string values), for clients that see only
// app_metadata (pyarrow.flight's FlightStreamChunk).
func appMetadata(keys, vals []string) []byte {
	m := make(map[string]string, len(keys))
	for i, k := range keys {
		m[k] = vals[i]
	}
	b, _ := json.Marshal(m)
	return b
}

// serve runs one stream through a transport's writer: write sends a batch
// with its tags, closeOK is the success-only close (which ends the stream as
// complete). It logs and counts the stream.
func (s *Server) serve(ctx context.Context, st *stream, dataset, transport string,
	write func(arrow.RecordBatch, []string, []string) error, closeOK func() error) error {
	t0 := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := s.streams.begin(ctx, st, dataset, transport)
	st.stats = func(d pipeline.Stats) {
		s.m.observeStages(d)
		live.observe(d)
	}
	batches, bytes := s.m.batches.WithLabelValues(dataset, transport), s.m.bytes.WithLabelValues(dataset, transport)
	sum, err := send(st.batches(ctx), func(rec arrow.RecordBatch, at Position, keys, vals []string) error {
		if err := write(rec, keys, vals); err != nil {
			return err
		}
		n := recordBytes(rec)
		batches.Inc()
		bytes.Add(float64(n))
		live.sent(rec, at, n)
		return nil
	})
	if err == nil {
		err = closeOK()
	}
	attrs := []any{"transport", transport, "dataset", dataset, "rank", st.ep.cfg.Rank, "worker", st.ep.worker,
		"workers", st.ep.of, "start_epoch", st.ep.start.Epoch, "start_batch", st.ep.start.Batch,
		"batches", sum.Batches, "rows", sum.Rows, "seconds", time.Since(t0).Seconds()}
	result := "ok"
	switch {
	case err == nil:
	case ctx.Err() != nil || errors.Is(err, context.Canceled):
		result = "cancelled"
	default:
		result = "error"
	}
	s.m.streams.WithLabelValues(transport, result).Inc()
	s.streams.end(live, result, err)
	if err != nil {
		s.log.Info("stream ended", append(attrs, "result", result, "err", err)...)
		if _, ok := status.FromError(err); !ok {
			code := codes.Internal
			if result == "cancelled" {
				code = codes.Canceled
			}
			err = status.Error(code, "serve: "+err.Error())
		}
		return err
	}
	s.log.Info("stream done", append(attrs, "result", result)...)
	return nil
}

// recordBytes sums the lengths of rec's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	var walk func(d arrow.ArrayData)
	walk = func(d arrow.ArrayData) {
		for _, b := range d.Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
		for _, c := range d.Children() {
			walk(c)
		}
	}
	for _, c := range rec.Columns() {
		walk(c.Data())
	}
	return n
}
