package main

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// benchDataDir is where scripts/benchdata.sh puts its datasets:
// $PAIRFLOW_DATA, else data/ at the repo root.
func benchDataDir() string {
	if d := os.Getenv("PAIRFLOW_DATA"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "data")
}

// benchPack packs c.in once per iteration and reports images/s, MB/s of
// input (b.SetBytes) and the compression ratios.
func benchPack(b *testing.B, c packConfig) {
	if _, err := os.Stat(c.in); err != nil {
		b.Skipf("%v: run scripts/benchdata.sh first", err)
	}
	c.out = b.TempDir()
	c.quiet = true
	c.shardSize = 256 << 20
	c.maxPixels = 100e6
	if c.quality == 0 {
		c.quality = 90
	}
	if c.workers == 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	if c.split == "" {
		c.split = "train"
	}
	if c.format == "" {
		c.format = "auto"
	}
	var st packStats
	var err error
	b.ReportAllocs()
	for b.Loop() {
		st, err = pack(c, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.bytesIn)
	b.ReportMetric(float64(st.records)*float64(b.N)/b.Elapsed().Seconds(), "images/s")
	b.ReportMetric(float64(st.bytesIn)/float64(st.bytes), "in/out")
	b.ReportMetric(float64(st.pixels)/float64(st.bytes), "pixels/out")
}

// BenchmarkPackPhotos packs the benchmark photo folder (2,000 JPEGs).
func BenchmarkPackPhotos(b *testing.B) {
	in := filepath.Join(benchDataDir(), "photos")
	b.Run("raw-s2", func(b *testing.B) { benchPack(b, packConfig{in: in, encoding: "raw-s2"}) })
	b.Run("keep", func(b *testing.B) { benchPack(b, packConfig{in: in, encoding: "keep"}) })
}

// BenchmarkPackFashionMNIST packs Debian's Fashion-MNIST training IDX file
// as raw-zstd with a dictionary.
func BenchmarkPackFashionMNIST(b *testing.B) {
	benchPack(b, packConfig{in: filepath.Join(fashionDir, "train-images-idx3-ubyte.gz"), encoding: "raw-zstd", dict: true})
}
