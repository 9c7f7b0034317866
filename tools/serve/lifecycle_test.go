package main

import (
	"context"
	"runtime"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestCancel: a client that cancels mid-stream, or whose connection
// vanishes, stops the server's pipeline: no goroutine and no Arrow memory
// is left behind.
func TestCancel(t *testing.T) {
	ds := makeDataset(t, 64, 16, 16)
	ts := startServer(t, ds, nil)
	cfg := baseConfig()
	cfg.Epochs = 0 // unbounded: only the client ends it
	d := desc(t, cfg, 1, nil)
	for _, how := range []string{"cancel", "close connection", "workers"} {
		t.Run(how, func(t *testing.T) {
			c, err := flight.NewClientWithMiddleware(ts.addr, nil, nil, grpcDial()...)
			if err != nil {
				t.Fatal(err)
			}
			dd := d
			if how == "workers" {
				dd = desc(t, cfg, 2, nil)
			}
			fi, err := getInfo(context.Background(), c, dd)
			if err != nil {
				t.Fatal(err)
			}
			base := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			s, err := c.DoGet(ctx, &flight.Ticket{Ticket: fi.Endpoint[0].Ticket.Ticket})
			if err != nil {
				t.Fatal(err)
			}
			r, err := flight.NewRecordReader(s, ipc.WithAllocator(memory.NewGoAllocator()))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := r.Read(); err != nil {
					t.Fatal(err)
				}
			}
			if how == "close connection" {
				c.Close()
			}
			cancel()
			r.Release()
			ts.srv.Wait() // every stream ended
			waitMem(t, ts.mem)
			if how != "close connection" {
				c.Close()
			}
			waitGoroutines(t, base)
		})
	}
	st := testutil.ToFloat64(ts.srv.m.streams.WithLabelValues("flight", "cancelled"))
	if st != 3 {
		t.Errorf("streams_total{cancelled} = %v, want 3", st)
	}
}

func grpcDial() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithTransportCredentials(insecureCreds()), grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessageBytes))}
}

// TestMaxStreams: streams beyond --max-streams are refused, and served again
// once a slot frees.
func TestMaxStreams(t *testing.T) {
	ds := makeDataset(t, 64, 16, 16)
	ts := startServer(t, ds, func(o *Options) { o.MaxStreams = 1 })
	c := dial(t, ts.addr)
	cfg := baseConfig()
	cfg.Epochs = 0
	fi, err := getInfo(context.Background(), c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.DoGet(ctx, &flight.Ticket{Ticket: fi.Endpoint[0].Ticket.Ticket})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil { // the stream holds its slot now
		t.Fatal(err)
	}
	if _, err := doGet(context.Background(), t, c, fi.Endpoint[0].Ticket.Ticket, 1); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v, want ResourceExhausted", err)
	}
	cancel()
	ts.srv.Wait()
	if _, err := doGet(context.Background(), t, c, fi.Endpoint[0].Ticket.Ticket, 1); err != nil {
		t.Fatalf("after the first ended: %v", err)
	}
}

// TestPool: a ticket from one server is served by another with the same
// key (byte-identical), refused by one with another key, and refused by one
// whose dataset of that name differs.
func TestPool(t *testing.T) {
	ds := makeDataset(t, 48, 16, 16)
	a := startServer(t, ds, nil)
	b := startServer(t, ds, nil)
	other := startServer(t, ds, func(o *Options) { o.TicketKey = []byte("a-different-key-0123") })
	ds2 := makeDataset(t, 40, 16, 16)
	diff := startServer(t, ds2, nil)
	ctx := context.Background()
	cfg := baseConfig()
	fi, err := getInfo(ctx, dial(t, a.addr), desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	tkt := fi.Endpoint[0].Ticket.Ticket
	fromA, err := doGet(ctx, t, dial(t, a.addr), tkt, -1)
	if err != nil {
		t.Fatal(err)
	}
	fromB, err := doGet(ctx, t, dial(t, b.addr), tkt, -1)
	if err != nil {
		t.Fatal(err)
	}
	sameData(t, "server b", fromB, fromA)
	if _, err := doGet(ctx, t, dial(t, other.addr), tkt, -1); status.Code(err) != codes.InvalidArgument {
		t.Errorf("other key: %v, want InvalidArgument", err)
	}
	if _, err := doGet(ctx, t, dial(t, diff.addr), tkt, -1); status.Code(err) != codes.FailedPrecondition ||
		!strings.Contains(err.Error(), "fingerprint") {
		t.Errorf("different dataset: %v, want FailedPrecondition naming the fingerprint", err)
	}
}

// TestMetrics: the served batches and bytes are counted, and the stage
// times reported.
func TestMetrics(t *testing.T) {
	ds := makeDataset(t, 32, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	fi, err := getInfo(context.Background(), c, desc(t, baseConfig(), 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	bs, err := doGet(context.Background(), t, c, fi.Endpoint[0].Ticket.Ticket, -1)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.Wait()
	m := ts.srv.m
	if got := testutil.ToFloat64(m.batches.WithLabelValues("d", "flight")); got != float64(len(bs)) {
		t.Errorf("batches_total %v, want %d", got, len(bs))
	}
	if got := testutil.ToFloat64(m.bytes.WithLabelValues("d", "flight")); got < float64(len(bs)*8*2*12*12*3*4) {
		t.Errorf("bytes_total %v too small", got)
	}
	if got := testutil.ToFloat64(m.busy.WithLabelValues("augment")); got <= 0 {
		t.Errorf("augment busy seconds %v", got)
	}
	if got := testutil.ToFloat64(m.streams.WithLabelValues("flight", "ok")); got != 1 {
		t.Errorf("streams ok %v", got)
	}
	if n, err := testutil.GatherAndCount(m.reg, "pairflow_serve_clients_connected"); err != nil || n != 1 {
		t.Errorf("clients_connected: %d series, %v", n, err)
	}
}
