package main

import (
	"context"
	"os"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BenchmarkServeClient reads endpoint 0 of a stream from a serve process
// outside the benchmark — PAIRFLOW_BENCH_ADDR (host:port, plaintext
// Flight) and PAIRFLOW_BENCH_DESC (the descriptor JSON) — with the Go
// client of the other benchmarks (ClientCodec), after one untimed batch. It
// reports the client process's own CPU time: scripts/serve_recv_bench.py
// runs it beside pyarrow's Flight client against the real serve binary.
// Skipped without the variables.
func BenchmarkServeClient(b *testing.B) {
	addr, d := os.Getenv("PAIRFLOW_BENCH_ADDR"), os.Getenv("PAIRFLOW_BENCH_DESC")
	if addr == "" || d == "" {
		b.Skip("set PAIRFLOW_BENCH_ADDR and PAIRFLOW_BENCH_DESC (scripts/serve_recv_bench.py does)")
	}
	c := dial(b, addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fi, err := getInfo(ctx, c, []byte(d))
	if err != nil {
		b.Fatal(err)
	}
	s, err := c.DoGet(ctx, fi.Endpoint[0].Ticket)
	if err != nil {
		b.Fatal(err)
	}
	r, err := flight.NewRecordReader(s, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		b.Fatal(err)
	}
	defer r.Release()
	var rows, bytes int64
	cpu := readTimed(b, r.Read, func(rec arrow.RecordBatch) {
		rows += rec.NumRows()
		bytes += recordBytes(rec)
	})
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)/sec, "images/s")
	b.ReportMetric(float64(bytes)/1e6/sec, "MB/s")
	b.ReportMetric(cpu.Seconds(), "client-cpu-s")
	b.ReportMetric(float64(bytes)/1e6, "MB")
}
