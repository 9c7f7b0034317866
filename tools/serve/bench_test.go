package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"iter"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"google.golang.org/grpc"
)

// Benchmarks of the service against the in-process pipeline, on the data
// of scripts/benchdata.sh (skipped when it is absent). Each pair of
// sub-benchmarks (inproc, flight) runs in one process, in turn, so that
// -count N interleaves them; compare the medians' ratio. Server and client
// share the machine's cores (loopback, 127.0.0.1).
//
//	go test ./tools/serve -run '^$' -bench 'Serve' -count 5

// cpuTime returns the process's user+system CPU time: on a shared machine
// the wall-clock rates swing with the other loads, while CPU time per image
// (or byte) measures the work itself, server and client together.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchDataset(b *testing.B, name string) *shards.Dataset {
	dir := filepath.Join("..", "..", "data", name)
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		b.Skipf("no shards at %s (run scripts/benchdata.sh)", dir)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ds.Close() })
	return ds
}

// benchInproc consumes b.N batches of the pipeline (after a first, untimed
// one) and reports source images/s.
func benchInproc(b *testing.B, ds *shards.Dataset, cfg pipeline.Config) {
	cfg.Workers = runtime.GOMAXPROCS(0)
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	n, rows := 0, int64(0)
	var cpu0 time.Duration
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.ResetTimer()
			cpu0 = cpuTime()
		} else {
			rows += rec.NumRows()
		}
		rec.Release()
		if n++; n > b.N {
			break
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(rows)/(cpuTime()-cpu0).Seconds(), "images/cpu-s")
}

// benchFlight serves ds from an in-process server and reads b.N batches
// (after a first, untimed one) with the Go Flight client, over transport:
// "tcp" (DoGet on 127.0.0.1), "unix" (DoGet on a Unix socket, unix.go) or
// "shm" (the shared-memory ring, shm.go; control messages over TCP).
func benchFlight(b *testing.B, ds *shards.Dataset, cfg pipeline.Config, transport string) {
	ts := startServer(b, ds, func(o *Options) {
		o.Workers = runtime.GOMAXPROCS(0)
		o.Allocator = memory.DefaultAllocator
	})
	addr := ts.addr
	if transport == "unix" {
		sock := filepath.Join(b.TempDir(), "serve.sock")
		lis, err := listenUnix(sock)
		if err != nil {
			b.Fatal(err)
		}
		go ts.gs.Serve(lis) // stopped with the server
		addr = "unix://" + sock
	}
	c := dial(b, addr)
	fi, err := getInfo(context.Background(), c, desc(b, cfg, 1, nil))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var r interface {
		Read() (arrow.RecordBatch, error)
		Release()
	}
	if transport == "shm" {
		if r, err = NewShmReader(ctx, c, fi.Endpoint[0].Ticket.Ticket, 0); err != nil {
			b.Fatal(err)
		}
	} else {
		s, err := c.DoGet(ctx, fi.Endpoint[0].Ticket)
		if err != nil {
			b.Fatal(err)
		}
		if r, err = flight.NewRecordReader(s); err != nil {
			b.Fatal(err)
		}
	}
	defer r.Release()
	rows := int64(0)
	cpu := readTimed(b, r.Read, func(rec arrow.RecordBatch) { rows += rec.NumRows() })
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "images/cpu-s")
	cancel()
}

// benchHTTP is benchFlight over the HTTP stream, read with arrowpair.ReadIPC.
func benchHTTP(b *testing.B, ds *shards.Dataset, cfg pipeline.Config) {
	ts := startServer(b, ds, func(o *Options) {
		o.Workers = runtime.GOMAXPROCS(0)
		o.Allocator = memory.DefaultAllocator
	})
	hs := httptest.NewServer(ts.srv.HTTPHandler())
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v1/stream?endpoint=0", bytes.NewReader(desc(b, cfg, 1, nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	r, err := arrowpair.ReadIPC(bufio.NewReaderSize(resp.Body, 1<<20), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Release()
	rows := int64(0)
	cpu := readTimed(b, r.Next, func(rec arrow.RecordBatch) { rows += rec.NumRows() })
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(rows)/cpu.Seconds(), "images/cpu-s")
	cancel()
}

func benchPair(b *testing.B, ds *shards.Dataset, cfg pipeline.Config) {
	cfg.Seed, cfg.Epochs = 1, 0
	b.Run("inproc", func(b *testing.B) { benchInproc(b, ds, cfg) })
	b.Run("flight", func(b *testing.B) { benchFlight(b, ds, cfg, "tcp") })
	b.Run("unix", func(b *testing.B) { benchFlight(b, ds, cfg, "unix") })
	b.Run("shm", func(b *testing.B) { benchFlight(b, ds, cfg, "shm") })
	b.Run("http", func(b *testing.B) { benchHTTP(b, ds, cfg) })
}

// Fashion-MNIST SimCLR pairs: torchvision-a, 32×32 RGB float32 views,
// batch 256.
func BenchmarkServeFMNIST(b *testing.B) {
	ds := benchDataset(b, "fashion-mnist/train")
	b.Run("float32", func(b *testing.B) {
		benchPair(b, ds, pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 256, Recipe: pipeline.Recipes{"torchvision-a"}})
	})
	b.Run("uint8", func(b *testing.B) {
		benchPair(b, ds, pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 256, Recipe: pipeline.Recipes{uint8Recipe(b, "torchvision-a")}})
	})
}

// uint8Recipe returns preset name with uint8 HWC output (and without a
// final normalisation, which needs float output).
func uint8Recipe(b *testing.B, name string) string {
	r, err := ops.Preset(name)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := json.Marshal(r)
	if err != nil {
		b.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["output"] = map[string]any{"format": "uint8_hwc"}
	out, _ := json.Marshal(m)
	if _, err := ops.ParseRecipe(out); err != nil {
		b.Fatalf("uint8 variant of %s: %v", name, err)
	}
	return string(out)
}

// 224×224 SimCLR pairs (simclr-imagenet) from the raw-s2 photo shards,
// batch 64: float32 views (~77 MB batches) and uint8 views (~19 MB).
func BenchmarkServePhotos224(b *testing.B) {
	ds := benchDataset(b, "photos-raw-s2")
	b.Run("float32", func(b *testing.B) {
		benchPair(b, ds, pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 64, Recipe: pipeline.Recipes{"simclr-imagenet"}})
	})
	b.Run("uint8", func(b *testing.B) {
		benchPair(b, ds, pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 64, Recipe: pipeline.Recipes{uint8Recipe(b, "simclr-imagenet")}})
	})
}

// prebuilt is a Flight server that streams one pre-built batch over and
// over through the service's own writer path (send and flightSink): the
// transport alone, without the pipeline.
type prebuilt struct {
	flight.BaseFlightServer
	rec     arrow.RecordBatch
	arrowgo bool // send with arrow-go's flight.Writer instead (for comparison)
}

func (p *prebuilt) DoGet(_ *flight.Ticket, fs flight.FlightService_DoGetServer) error {
	seq := func(yield func(servedBatch, error) bool) {
		for i := int64(0); ; i++ {
			p.rec.Retain()
			if !yield(servedBatch{rec: p.rec, at: Position{Batch: i}}, nil) {
				return
			}
		}
	}
	write, _, finish := flightSink(fs, p.rec.Schema(), memory.DefaultAllocator)
	defer finish()
	if p.arrowgo {
		w := flight.NewRecordWriter(fs, ipc.WithSchema(p.rec.Schema()))
		write = func(rec arrow.RecordBatch, keys, vals []string) error {
			return w.WriteWithAppMetadata(rec, appMetadata(keys, vals))
		}
	}
	_, err := send(iter.Seq2[servedBatch, error](seq), ignoreAt(write))
	return err
}

// DoExchange streams the batch over the shared-memory transport.
func (p *prebuilt) DoExchange(fs flight.FlightService_DoExchangeServer) error {
	if _, err := fs.Recv(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(fs.Context())
	defer cancel()
	write, _, finish := shmStream(ctx, cancel, fs, DefaultShmSlots, p.rec.Schema(), memory.DefaultAllocator, nil)
	_, err := send(p.seq(ctx), ignoreAt(write))
	return finish(err)
}

// seq yields the batch over and over until ctx ends.
func (p *prebuilt) seq(ctx context.Context) iter.Seq2[servedBatch, error] {
	return func(yield func(servedBatch, error) bool) {
		for i := int64(0); ctx.Err() == nil; i++ {
			p.rec.Retain()
			if !yield(servedBatch{rec: p.rec, at: Position{Batch: i}}, nil) {
				return
			}
		}
		yield(servedBatch{}, ctx.Err())
	}
}

// BenchmarkServeTransport: bytes/s of pre-built batches from server to Go
// client over loopback gRPC (MB/s column; the batch sizes of the benchmarks
// above).
func BenchmarkServeTransport(b *testing.B) {
	for _, tc := range []struct {
		name string
		data string
		cfg  pipeline.Config
	}{
		{"fmnist-256x32px-f32", "fashion-mnist/train", pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 256, Recipe: pipeline.Recipes{"torchvision-a"}}},
		{"photos-64x224px-f32", "photos-raw-s2", pipeline.Config{Kind: arrowpair.Contrastive, BatchSize: 64, Recipe: pipeline.Recipes{"simclr-imagenet"}}},
	} {
		for _, sender := range []string{"zerocopy", "arrowgo", "unix", "shm"} {
			b.Run(tc.name+"/"+sender, func(b *testing.B) {
				ds := benchDataset(b, tc.data)
				tc.cfg.Epochs, tc.cfg.Seed = 1, 1
				p, err := pipeline.New(ds, tc.cfg)
				if err != nil {
					b.Fatal(err)
				}
				var rec arrow.RecordBatch
				for r, err := range p.Batches(context.Background()) {
					if err != nil {
						b.Fatal(err)
					}
					rec = r
					break
				}
				p.Close()
				defer rec.Release()
				lis, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				gs := grpc.NewServer(grpc.MaxSendMsgSize(MaxMessageBytes), grpc.ForceServerCodecV2(newFlightCodec()), grpc.WriteBufferSize(256<<10))
				flight.RegisterFlightServiceServer(gs, &prebuilt{rec: rec, arrowgo: sender == "arrowgo"})
				go gs.Serve(lis)
				defer gs.Stop()
				addr := lis.Addr().String()
				if sender == "unix" {
					sock := filepath.Join(b.TempDir(), "t.sock")
					ul, err := listenUnix(sock)
					if err != nil {
						b.Fatal(err)
					}
					go gs.Serve(ul)
					addr = "unix://" + sock
				}
				c := dial(b, addr)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var r interface {
					Read() (arrow.RecordBatch, error)
					Release()
				}
				if sender == "shm" {
					if r, err = NewShmReader(ctx, c, []byte("x"), 0, ipc.WithAllocator(memory.DefaultAllocator)); err != nil {
						b.Fatal(err)
					}
				} else {
					s, err := c.DoGet(ctx, &flight.Ticket{Ticket: []byte("x")})
					if err != nil {
						b.Fatal(err)
					}
					if r, err = flight.NewRecordReader(s, ipc.WithAllocator(memory.DefaultAllocator)); err != nil {
						b.Fatal(err)
					}
				}
				defer r.Release()
				b.SetBytes(recordBytes(rec))
				cpu := readTimed(b, r.Read, nil)
				b.ReportMetric(float64(recordBytes(rec))*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
				b.ReportMetric(float64(recordBytes(rec))/1e6, "MB/batch")
				cancel()
			})
		}
	}
}

// ignoreAt adapts a transport writer to send, which also passes positions.
func ignoreAt(write func(arrow.RecordBatch, []string, []string) error) func(arrow.RecordBatch, Position, []string, []string) error {
	return func(rec arrow.RecordBatch, _ Position, keys, vals []string) error { return write(rec, keys, vals) }
}

// readTimed reads a first, untimed batch with read, then b.N timed ones,
// handing each timed one to each (nil: none). It stops the timer and
// returns the process's CPU time over the timed reads.
func readTimed(b *testing.B, read func() (arrow.RecordBatch, error), each func(arrow.RecordBatch)) time.Duration {
	var cpu0 time.Duration
	for n := 0; n <= b.N; n++ {
		rec, err := read()
		if errors.Is(err, io.EOF) {
			b.Fatal("stream ended")
		}
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.ResetTimer()
			cpu0 = cpuTime()
		} else if each != nil {
			each(rec)
		}
	}
	b.StopTimer()
	return cpuTime() - cpu0
}
