package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"
)

// streamsView GETs /v1/streams from the server's handler.
func streamsView(t *testing.T, s *Server) StreamsStatus {
	t.Helper()
	rr := httptest.NewRecorder()
	s.StreamsHandler().ServeHTTP(rr, httptest.NewRequest("GET", "/v1/streams", nil))
	if rr.Code != 200 || rr.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/streams: %d %s", rr.Code, rr.Header().Get("Content-Type"))
	}
	var st StreamsStatus
	if err := json.Unmarshal(rr.Body.Bytes(), &st); err != nil {
		t.Fatalf("GET /v1/streams: %v: %s", err, rr.Body.Bytes())
	}
	return st
}

func TestStreamsView(t *testing.T) {
	ds := makeDataset(t, 32, 16, 16)
	ts := startServer(t, ds, nil)
	ts.srv.streams.keep = 2
	c := dial(t, ts.addr)
	cfg := baseConfig()
	cfg.WorldSize = 2
	fi, err := getInfo(context.Background(), c, desc(t, cfg, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	if st := streamsView(t, ts.srv); len(st.Active) != 0 || len(st.Recent) != 0 {
		t.Fatalf("before any stream: %+v", st)
	}

	// A running stream (unbounded): rank 1, two batches read.
	inf := cfg
	inf.Epochs = 0
	fiInf, err := getInfo(context.Background(), c, desc(t, inf, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.DoGet(ctx, fiTicket(fiInf, 1))
	if err != nil {
		t.Fatal(err)
	}
	r, err := newReader(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}
	st := streamsView(t, ts.srv)
	if len(st.Active) != 1 || len(st.Recent) != 0 {
		t.Fatalf("one stream running: %+v", st)
	}
	a := st.Active[0]
	if a.ID != 1 || a.Transport != "flight" || a.Dataset != "d" || a.Rank != 1 || a.WorldSize != 2 ||
		a.Worker != 0 || a.Workers != 1 || a.Start != (Position{}) || a.Client == "" || a.Result != "" {
		t.Errorf("active stream %+v", a)
	}
	// The server may have sent more than the client read (prefetch, gRPC's
	// buffers), never fewer.
	if a.Batches < 2 || a.Rows != a.Batches*8 || a.Bytes < a.Batches*8*2*12*12*3*4 || a.Last == nil {
		t.Errorf("active stream counts %+v (last %v)", a, a.Last)
	}
	busy := false
	for _, sg := range a.Stages {
		busy = busy || (sg.Name == "augment" && sg.Busy > 0)
	}
	if !busy {
		t.Errorf("active stream stages %+v: no augment busy time", a.Stages)
	}
	r.Release()
	cancel()
	ts.srv.Wait()
	st = streamsView(t, ts.srv)
	if len(st.Active) != 0 || len(st.Recent) != 1 || st.Recent[0].ID != 1 || st.Recent[0].Result != "cancelled" {
		t.Fatalf("after cancel: %+v", st)
	}

	// Two complete streams: the recent list keeps the last two, latest first.
	for i := range 2 {
		bs, err := doGet(context.Background(), t, c, fi.Endpoint[i].Ticket.Ticket, -1)
		if err != nil {
			t.Fatal(err)
		}
		ts.srv.Wait()
		st = streamsView(t, ts.srv)
		e := st.Recent[0]
		if e.ID != uint64(i+2) || e.Result != "ok" || e.Error != "" || e.Rank != i || e.Batches != int64(len(bs)) ||
			e.Rows != int64(len(bs))*8 || e.Seconds <= 0 || *e.Last != (Position{Epoch: 1, Batch: 1}) {
			t.Errorf("stream %d ended: %+v (last %v)", i+2, e, e.Last)
		}
	}
	if len(st.Active) != 0 || len(st.Recent) != 2 || st.Recent[1].ID != 2 {
		t.Fatalf("recent list: %+v", st)
	}
}

func TestStreamsViewHTTP(t *testing.T) {
	ds := makeDataset(t, 32, 16, 16)
	ts := startServer(t, ds, nil)
	hs := startHTTP(t, ts)
	resp := httpDo(t, "POST", hs.URL+"/v1/stream?endpoint=0", "", desc(t, baseConfig(), 1, nil))
	bs := readHTTPStream(t, resp.Body)
	ts.srv.Wait()
	st := streamsView(t, ts.srv)
	if len(st.Recent) != 1 {
		t.Fatalf("%+v", st)
	}
	e := st.Recent[0]
	if e.Transport != "http" || e.Client == "" || e.Result != "ok" || e.Batches != int64(len(bs)) {
		t.Errorf("http stream %+v", e)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestCommandStreamsView: the command serves the view on its metrics port.
func TestCommandStreamsView(t *testing.T) {
	_, dir := makeDatasetDir(t, 8, 8, 8)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var log syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--dataset", "d=" + dir, "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, &log, &log)
	}()
	re := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
	var addr string
	for deadline := time.Now().Add(10 * time.Second); addr == ""; time.Sleep(5 * time.Millisecond) {
		if m := re.FindStringSubmatch(log.String()); m != nil {
			addr = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("no metrics address in the log:\n%s", log.String())
		}
	}
	resp, err := http.Get("http://" + addr + "/v1/streams")
	if err != nil {
		t.Fatal(err)
	}
	var st StreamsStatus
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || st.Active == nil || st.Recent == nil {
		t.Fatalf("GET /v1/streams: %s, %v, %+v", resp.Status, err, st)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d:\n%s", code, log.String())
	}
}
