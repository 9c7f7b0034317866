package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// useShmDir points the server's rings at a fresh directory for the test
// and returns it.
func useShmDir(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the shared-memory transport needs Linux")
	}
	dir := t.TempDir()
	old := shmDir
	shmDir = dir
	t.Cleanup(func() { shmDir = old })
	return dir
}

// noRings fails if a ring file is left in dir.
func noRings(t *testing.T, dir string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(dir, "pairflow-ring-*"))
	if len(left) > 0 {
		t.Errorf("ring files left: %v", left)
	}
}

// shmGet reads up to limit batches (all if < 0) of a ticket over shared
// memory, checking the summary as a client must.
func shmGet(ctx context.Context, t testing.TB, c flight.Client, tkt []byte, slots, limit int) ([]got, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r, err := NewShmReader(ctx, c, tkt, slots, ipc.WithAllocator(memory.NewGoAllocator()))
	if err != nil {
		return nil, err
	}
	defer r.Release()
	var out []got
	var sum arrowpair.StreamSum
	complete := false
	for limit < 0 || len(out) < limit {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return out, err
		}
		sum.Add(rec)
		if rm, ok := rec.(arrow.RecordBatchWithMetadata); ok {
			ok, err := sum.Check(rm.Metadata())
			if err != nil {
				return out, err
			}
			complete = complete || ok
		}
		out = append(out, toGot(t, rec, r.LatestAppMetadata()))
	}
	if limit < 0 && !complete && len(out) > 0 {
		t.Errorf("shm stream of %d batches ended without its summary", len(out))
	}
	return out, nil
}

// sameGot fails unless a and b agree in bytes, tags and app_metadata.
func sameGot(t *testing.T, what string, a, b []got) {
	t.Helper()
	sameData(t, what, a, b)
	for i := range a {
		if !equalMaps(a[i].meta, b[i].meta) || !equalMaps(a[i].app, b[i].app) {
			t.Fatalf("%s: batch %d: metadata %v / app %v, want %v / %v", what, i, a[i].meta, a[i].app, b[i].meta, b[i].app)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestShm: every endpoint read over shared memory equals its DoGet stream
// (what a reader sees: schema, every column's bytes, tags, summary) — rank
// streams, worker splits, resume starts, one slot (the tightest
// backpressure), batches whose tensors are referenced in the ring's tensor
// area, batches that go the copying way (tensor area off, or out of
// chunks: into the slot, or inline when too big for it), and mixes of both
// — and no ring file or mapping stays behind.
func TestShm(t *testing.T) {
	dir := useShmDir(t)
	ds := makeDataset(t, 70, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	cfg := baseConfig()
	cfg.WorldSize = 2
	for _, tc := range []struct {
		name    string
		workers int
		start   *Position
		slots   int
		inline  bool // copying way, slots that fit the first batch exactly
		copying bool // no tensor area
		chunks  int  // tensor chunks (0: as planned)
		bigSlot bool // slots of 1 MiB: copied tensors fit
		zc      int  // -1: no batch zero-copied; 1: every batch; 0: some
	}{
		{"ranks", 1, nil, 0, false, false, 0, false, 1},
		{"one slot", 1, nil, 1, false, false, 0, false, 1},
		{"workers", 3, nil, 2, false, false, 0, false, 1},
		{"resume", 2, &Position{Epoch: 0, Batch: 3}, 0, false, false, 0, false, 1},
		{"end of run", 1, &Position{Epoch: 2, Batch: 0}, 0, false, false, 0, false, 1},
		{"copying", 1, nil, 0, false, true, 0, false, -1},
		{"inline", 1, nil, 0, true, true, 0, false, -1},
		{"one chunk", 1, nil, 2, false, false, 1, false, 0},
		{"few chunks, big slots", 1, nil, 2, false, false, 3, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.inline { // slots fit the first batch exactly: the last, with the summary, goes inline
				old := shmSlotSize
				shmSlotSize = func(n int64) int64 { return (n + shmSlotAlign - 1) &^ (shmSlotAlign - 1) }
				defer func() { shmSlotSize = old }()
			}
			if tc.bigSlot {
				old := shmSlotSize
				shmSlotSize = func(int64) int64 { return 1 << 20 }
				defer func() { shmSlotSize = old }()
			}
			shmTensorAreas, shmTensorChunks = !tc.copying, tc.chunks
			var zc, copied int
			shmWrote = func(z bool) {
				if z {
					zc++
				} else {
					copied++
				}
			}
			defer func() { shmTensorAreas, shmTensorChunks, shmWrote = true, 0, nil }()
			fi, err := getInfo(ctx, c, desc(t, cfg, tc.workers, tc.start))
			if err != nil {
				t.Fatal(err)
			}
			for i, ep := range fi.Endpoint {
				want, err := doGet(ctx, t, c, ep.Ticket.Ticket, -1)
				if err != nil {
					t.Fatal(err)
				}
				got, err := shmGet(ctx, t, c, ep.Ticket.Ticket, tc.slots, -1)
				if err != nil {
					t.Fatalf("endpoint %d: %v", i, err)
				}
				sameGot(t, tc.name, got, want)
				if tc.name != "end of run" && len(got) == 0 {
					t.Fatalf("endpoint %d: no batches", i)
				}
			}
			ts.srv.Wait()
			noRings(t, dir)
			if n := shmRingsMapped.Load(); n != 0 {
				t.Errorf("%d ring mappings left", n)
			}
			switch {
			case tc.zc < 0 && zc > 0, tc.zc > 0 && copied > 0 && tc.start == nil, tc.zc >= 0 && zc == 0 && tc.name != "end of run":
				t.Errorf("%d batches zero-copied, %d copied into their slot (want mode %d)", zc, copied, tc.zc)
			}
			t.Logf("%d batches zero-copied, %d copied into their slot", zc, copied)
		})
	}
	waitMem(t, ts.mem)
}

// TestShmCancel: a client that cancels, vanishes, or stops releasing its
// slots and then cancels, stops the server's pipeline: no goroutine, no
// Arrow memory, no ring file and no ring mapping (the tensor area's chunks
// held for the client's batches all came back) is left behind.
func TestShmCancel(t *testing.T) {
	dir := useShmDir(t)
	ds := makeDataset(t, 64, 16, 16)
	ts := startServer(t, ds, nil)
	cfg := baseConfig()
	cfg.Epochs = 0 // unbounded: only the client ends it
	for _, how := range []string{"cancel", "close connection", "hold slots", "workers"} {
		t.Run(how, func(t *testing.T) {
			c, err := flight.NewClientWithMiddleware(ts.addr, nil, nil, grpcDial()...)
			if err != nil {
				t.Fatal(err)
			}
			workers := 1
			if how == "workers" {
				workers = 2
			}
			fi, err := getInfo(context.Background(), c, desc(t, cfg, workers, nil))
			if err != nil {
				t.Fatal(err)
			}
			zc := 0
			shmWrote = func(z bool) {
				if z {
					zc++
				}
			}
			defer func() { shmWrote = nil }()
			base := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			r, err := NewShmReader(ctx, c, fi.Endpoint[0].Ticket.Ticket, 2, ipc.WithAllocator(memory.NewGoAllocator()))
			if err != nil {
				t.Fatal(err)
			}
			var held []arrow.RecordBatch
			for range 2 {
				rec, err := r.Read()
				if err != nil {
					t.Fatal(err)
				}
				if how == "hold slots" {
					rec.Retain()
					held = append(held, rec) // both slots held: the server waits
				}
			}
			if how == "close connection" {
				c.Close()
			}
			cancel()
			r.Release()
			for _, rec := range held {
				rec.Release()
			}
			ts.srv.Wait()
			waitMem(t, ts.mem)
			if zc == 0 {
				t.Error("no batch had its tensors in the ring's tensor area")
			}
			if how != "close connection" {
				c.Close()
			}
			waitGoroutines(t, base)
			noRings(t, dir)
			if n := shmRingsMapped.Load(); n != 0 {
				t.Errorf("%d ring mappings left", n)
			}
		})
	}
}

// TestShmUnavailable: a client that cannot open the ring (another machine,
// here a ring moved away before the client maps it) gets ErrShmUnavailable
// before any batch; the server's stream ends cleanly, and the same ticket
// then reads over DoGet (the documented fallback).
func TestShmUnavailable(t *testing.T) {
	dir := useShmDir(t)
	shmRingCreated = func(path string) { os.Rename(path, path+".gone") }
	defer func() { shmRingCreated = nil }()
	ds := makeDataset(t, 32, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	fi, err := getInfo(context.Background(), c, desc(t, baseConfig(), 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	tkt := fi.Endpoint[0].Ticket.Ticket
	_, err = shmGet(context.Background(), t, c, tkt, 0, -1)
	if !errors.Is(err, ErrShmUnavailable) {
		t.Fatalf("err %v, want ErrShmUnavailable", err)
	}
	ts.srv.Wait()
	if bs, err := doGet(context.Background(), t, c, tkt, -1); err != nil || len(bs) == 0 {
		t.Fatalf("DoGet fallback: %d batches, %v", len(bs), err)
	}
	gone, _ := filepath.Glob(filepath.Join(dir, "*.gone"))
	for _, g := range gone {
		os.Remove(g)
	}
	// A server that cannot create the ring (no /dev/shm, or a full one):
	// the client learns the same, and DoGet still serves.
	shmDir = filepath.Join(dir, "missing")
	if _, err := shmGet(context.Background(), t, c, tkt, 0, -1); !errors.Is(err, ErrShmUnavailable) {
		t.Fatalf("no ring directory: %v, want ErrShmUnavailable", err)
	}
	ts.srv.Wait()
	if bs, err := doGet(context.Background(), t, c, tkt, -1); err != nil || len(bs) == 0 {
		t.Fatalf("DoGet fallback: %d batches, %v", len(bs), err)
	}
}

// TestShmBadRequests: malformed requests and acknowledgements are refused
// with InvalidArgument and the server keeps serving.
func TestShmBadRequests(t *testing.T) {
	dir := useShmDir(t)
	ds := makeDataset(t, 32, 16, 16)
	ts := startServer(t, ds, nil)
	c := dial(t, ts.addr)
	ctx := context.Background()
	fi, err := getInfo(ctx, c, desc(t, baseConfig(), 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	tkt := fi.Endpoint[0].Ticket.Ticket
	first := func(cmd string, typ flight.DescriptorType) error {
		st, err := c.DoExchange(ctx)
		if err != nil {
			return err
		}
		if err := st.Send(&flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: typ, Cmd: []byte(cmd)}}); err != nil {
			return err
		}
		for {
			if _, err := st.Recv(); err != nil {
				return err
			}
		}
	}
	for _, tc := range []struct {
		cmd string
		typ flight.DescriptorType
	}{
		{`{"version":1,"ticket":"AAAA"}`, flight.DescriptorCMD},
		{`{"version":2,"ticket":"AAAA"}`, flight.DescriptorCMD},
		{`{"version":1}`, flight.DescriptorCMD},
		{`{"version":1,"ticket":"AAAA","slots":65}`, flight.DescriptorCMD},
		{`{"version":1,"ticket":"AAAA","extra":1}`, flight.DescriptorCMD},
		{`not json`, flight.DescriptorCMD},
		{`x`, flight.DescriptorPATH},
	} {
		if err := first(tc.cmd, tc.typ); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", tc.cmd, err)
		}
	}
	// A client that acknowledges batches it was never sent.
	for _, ack := range []string{`{"released":5}`, `{"released":-1}`, `{"oops":1}`, `[]`} {
		r, err := NewShmReader(ctx, c, tkt, 2)
		if err != nil {
			t.Fatal(err)
		}
		r.msgs.sendMu.Lock()
		r.msgs.stream.Send(&flight.FlightData{AppMetadata: []byte(ack)})
		r.msgs.sendMu.Unlock()
		var rerr error
		for rerr == nil {
			_, rerr = r.Read()
		}
		if status.Code(rerr) != codes.InvalidArgument {
			t.Errorf("ack %s: %v, want InvalidArgument", ack, rerr)
		}
		r.Release()
	}
	ts.srv.Wait()
	if got, err := shmGet(ctx, t, c, tkt, 0, -1); err != nil || len(got) == 0 {
		t.Fatalf("after the bad requests: %d batches, %v", len(got), err)
	}
	ts.srv.Wait()
	noRings(t, dir)
}

// TestShmAuth: the shared-memory transport asks for the bearer token as
// DoGet does, and creates no ring for a refused client.
func TestShmAuth(t *testing.T) {
	dir := useShmDir(t)
	ds := makeDataset(t, 16, 16, 16)
	ts := startServer(t, ds, func(o *Options) { o.Token = "s3cret-token" })
	c := dial(t, ts.addr)
	ok := withToken(context.Background(), "s3cret-token")
	fi, err := getInfo(ok, c, desc(t, baseConfig(), 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	tkt := fi.Endpoint[0].Ticket.Ticket
	for name, ctx := range map[string]context.Context{
		"none": context.Background(), "wrong": withToken(context.Background(), "s3cret-tokem"),
	} {
		if _, err := shmGet(ctx, t, c, tkt, 0, -1); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: %v, want Unauthenticated", name, err)
		}
		noRings(t, dir)
	}
	if got, err := shmGet(ok, t, c, tkt, 0, -1); err != nil || len(got) == 0 {
		t.Fatalf("with the token: %d batches, %v", len(got), err)
	}
}
