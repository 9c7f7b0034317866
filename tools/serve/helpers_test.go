package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

// testRecipe: 12×12 float32 views of 3 channels.
const testRecipe = `{"version":1,"name":"test","channels":3,"ops":[
	{"op":"random_resized_crop","size":12,"scale":[0.3,1],"ratio":[0.75,1.3333333333333333]},
	{"op":"random_horizontal_flip","p":0.5},
	{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.4,"contrast":0.4,"saturation":0.4,"hue":0.1}]}
],"output":{"format":"float32_chw"}}`

// makeDataset writes n raw-s2 records of w×h×3 and opens them.
func makeDataset(t testing.TB, n, w, h int) *shards.Dataset {
	t.Helper()
	ds, _ := makeDatasetDir(t, n, w, h)
	return ds
}

// makeDatasetDir is makeDataset, also returning the directory.
func makeDatasetDir(t testing.TB, n, w, h int) (*shards.Dataset, string) {
	t.Helper()
	dir := t.TempDir()
	wr, err := shards.Create(dir, shards.WriterOptions{Split: "train", MaxShardRecords: 40})
	if err != nil {
		t.Fatal(err)
	}
	pix := make([]byte, w*h*3)
	for i := range n {
		for j := range pix {
			pix[j] = byte(i*37 + j*11 + (j/w)*5)
		}
		r := &shards.Record{Key: fmt.Sprintf("img/%05d", i), Width: w, Height: h, Channels: 3,
			Encoding: shards.RawS2, Payload: pix, Label: int32(i % 4), HasLabel: true}
		if err := wr.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := wr.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ds.Close() })
	return ds, dir
}

// testServer is an in-process server on 127.0.0.1:0.
type testServer struct {
	srv  *Server
	addr string
	mem  *memory.CheckedAllocator
	gs   *grpc.Server
}

// startServer starts a server over ds (named "d"); when the test ends it
// stops it and checks that every stream ended and freed its memory.
func startServer(t testing.TB, ds *shards.Dataset, mod func(*Options)) *testServer {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	opt := Options{Datasets: map[string]*shards.Dataset{"d": ds}, TicketKey: []byte("0123456789abcdef-test-key"),
		Workers: 2, Allocator: mem}
	if mod != nil {
		mod(&opt)
	}
	srv, err := NewServer(opt)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(srv.GRPCOptions()...)
	flight.RegisterFlightServiceServer(gs, srv)
	go gs.Serve(lis)
	ts := &testServer{srv: srv, addr: lis.Addr().String(), mem: mem, gs: gs}
	t.Cleanup(func() {
		gs.Stop()
		srv.Wait()
		waitMem(t, mem)
	})
	return ts
}

// dial returns a Flight client of addr sending token (if any).
func dial(t testing.TB, addr string) flight.Client {
	t.Helper()
	c, err := flight.NewClientWithMiddleware(addr, nil, nil,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32), grpc.ForceCodecV2(ClientCodec())),
		grpc.WithInitialWindowSize(64<<20), grpc.WithInitialConnWindowSize(64<<20),
		grpc.WithReadBufferSize(1<<20), grpc.WithWriteBufferSize(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func withToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// desc builds descriptor JSON.
func desc(t testing.TB, cfg pipeline.Config, workers int, start *Position) []byte {
	t.Helper()
	return descSpent(t, cfg, workers, start, nil)
}

func baseConfig() pipeline.Config {
	return pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 8, Recipe: pipeline.Recipes{testRecipe}, Seed: 42, Epochs: 2}
}

// got is one received batch: its bytes without metadata, and its metadata.
type got struct {
	data []byte
	meta map[string]string // custom metadata
	app  map[string]string // Flight app_metadata
	ids  []uint64
}

// stripBytes serialises rec without its custom metadata.
func stripBytes(t testing.TB, rec arrow.RecordBatch) []byte {
	t.Helper()
	plain := array.NewRecordBatch(rec.Schema(), rec.Columns(), rec.NumRows())
	defer plain.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(rec.Schema()))
	if err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func toGot(t testing.TB, rec arrow.RecordBatch, app []byte) got {
	g := got{data: stripBytes(t, rec), meta: map[string]string{}}
	if rm, ok := rec.(arrow.RecordBatchWithMetadata); ok {
		md := rm.Metadata()
		for i, k := range md.Keys() {
			g.meta[k] = md.Values()[i]
		}
	}
	if app != nil {
		if err := json.Unmarshal(app, &g.app); err != nil {
			t.Fatalf("app_metadata %q: %v", app, err)
		}
	}
	g.ids = append(g.ids, rec.Column(0).(*array.Uint64).Uint64Values()...)
	return g
}

// doGet reads up to limit batches (all if limit < 0) of a ticket.
func doGet(ctx context.Context, t testing.TB, c flight.Client, tkt []byte, limit int) ([]got, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := c.DoGet(ctx, &flight.Ticket{Ticket: tkt})
	if err != nil {
		return nil, err
	}
	r, err := flight.NewRecordReader(s, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	var out []got
	for limit < 0 || len(out) < limit {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, err
		}
		out = append(out, toGot(t, rec, r.LatestAppMetadata()))
	}
	return out, nil
}

// info calls GetFlightInfo.
func getInfo(ctx context.Context, c flight.Client, d []byte) (*flight.FlightInfo, error) {
	return c.GetFlightInfo(ctx, &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: d})
}

// local runs the in-process pipeline of rank r and returns its batches.
func local(t testing.TB, ds *shards.Dataset, cfg pipeline.Config, rank int) []got {
	t.Helper()
	cfg.Rank, cfg.Workers = rank, 2
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var out []got
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, toGot(t, rec, nil))
		rec.Release()
	}
	return out
}

// sameData fails unless a and b hold the same batch bytes.
func sameData(t testing.TB, what string, a, b []got) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d batches, want %d", what, len(a), len(b))
	}
	for i := range a {
		if !bytes.Equal(a[i].data, b[i].data) {
			t.Fatalf("%s: batch %d differs", what, i)
		}
	}
}

// waitGoroutines waits (polling, up to 10 s) for the goroutine count to come
// back to at most base, and fails with a dump if it does not.
func waitGoroutines(t testing.TB, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%d goroutines, want ≤ %d:\n%s", runtime.NumGoroutine(), base, buf[:n])
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}

func insecureCreds() credentials.TransportCredentials { return insecure.NewCredentials() }

func fiTicket(fi *flight.FlightInfo, i int) *flight.Ticket { return fi.Endpoint[i].Ticket }

func newReader(s flight.FlightService_DoGetClient) (*flight.Reader, error) {
	return flight.NewRecordReader(s, ipc.WithAllocator(memory.NewGoAllocator()))
}

// waitMem waits (polling, up to 10 s) for every Arrow allocation of mem to
// be freed: batches still queued in a gRPC transport when its stream ends
// are released when the transport frees them, a moment after the handler
// returns. Then it asserts, listing any leak.
func waitMem(t testing.TB, mem *memory.CheckedAllocator) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for mem.CurrentAlloc() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mem.AssertSize(t, 0)
}
