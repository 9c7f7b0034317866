package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/shards"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// corruptRecord flips a byte of record key's bytes in its shard so that
// reading it fails its checksum.
func corruptRecord(t *testing.T, dir, key string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.pfs"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, []byte(key)); i >= 0 {
			b[i+len(key)-1] ^= 0x40
			if err := os.WriteFile(f, b, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("key %s not found", key)
}

// TestFailedStreamIsIncomplete: when the pipeline fails mid-stream (a
// corrupt record), the Flight stream ends with an error status and no
// summary, and the HTTP stream is cut so that no reader takes it for a
// complete one.
func TestFailedStreamIsIncomplete(t *testing.T) {
	ds0, dir := makeDatasetDir(t, 64, 16, 16)
	cfg := baseConfig()
	cfg.Epochs = 4
	// Corrupt the first record of epoch 0's batch 4: batches 0..3 pass.
	corruptRecord(t, dir, fmt.Sprintf("img/%05d", local(t, ds0, cfg, 0)[4].ids[0]))
	ds, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Closed after the servers stop (cleanups run last-in first-out): the
	// HTTP handler may still be tearing the failed stream down when the
	// test returns.
	t.Cleanup(func() { ds.Close() })
	ts := startServer(t, ds, func(o *Options) { o.Workers = 1; o.Prefetch = 1 })
	c := dial(t, ts.addr)
	d := desc(t, cfg, 1, nil)
	fi, err := getInfo(context.Background(), c, d)
	if err != nil {
		t.Fatal(err)
	}
	bs, err := doGet(context.Background(), t, c, fi.Endpoint[0].Ticket.Ticket, -1)
	if status.Code(err) != codes.Internal || len(bs) == 0 {
		t.Fatalf("Flight: %d batches, err %v; want an Internal error", len(bs), err)
	}
	for i, b := range bs {
		if _, ok := b.meta[MetaStreamBatches]; ok {
			t.Fatalf("Flight: batch %d of a failed stream carries the summary", i)
		}
	}

	hs := startHTTP(t, ts)
	resp := httpDo(t, "POST", hs.URL+"/v1/stream?endpoint=0", "", d)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP: %s", resp.Status)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := arrowpair.ReadIPC(resp.Body, mem)
	if err == nil {
		n := 0
		for _, err = range r.All() {
			if err != nil {
				break
			}
			n++
		}
		if err == nil || r.Complete() || n == 0 {
			t.Fatalf("HTTP: %d batches, then %v (complete %v)", n, err, r.Complete())
		}
		r.Release()
	}
	if errors.Is(err, io.EOF) {
		t.Fatalf("HTTP: clean EOF for a failed stream")
	}
	t.Logf("HTTP reader: %v", err)
}
