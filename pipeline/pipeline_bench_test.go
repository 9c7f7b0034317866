package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
)

// benchPipeline streams b.N batches (of 256 rows unless cfg says) and
// reports source images/s. The pipeline's start-up and first batch are
// outside the timing.
func benchPipeline(b *testing.B, ds *shards.Dataset, cfg pipeline.Config) {
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 256
	}
	cfg.Epochs, cfg.Seed = 0, 1
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ReportAllocs()
	n, rows := 0, int64(0)
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			b.ResetTimer()
		} else {
			rows += rec.NumRows()
		}
		rec.Release()
		n++
		if n > b.N {
			break
		}
	}
	b.StopTimer()
	el := b.Elapsed().Seconds()
	b.ReportMetric(float64(rows)/el, "images/s")
	s := p.Stats()
	line := ""
	for _, st := range s.Stages {
		line += fmt.Sprintf(" %s %.0f%%", st.Name, 100*st.BusyFraction)
	}
	b.Logf("workers %d busy:%s; max in flight %d/%d", cfg.Workers, line, s.MaxInFlight, s.RingSlots)
}

// Source images/s per pair kind at 32×32 from raw-s2 shards (synthetic
// pixels) with the torchvision-a recipe (3-channel float32 views).
func BenchmarkPipeline32(b *testing.B) {
	ds := makeDataset(b, dsOpts{n: 2048, w: 32, h: 32, c: 3})
	for _, kind := range arrowpair.Kinds() {
		cfg := pipeline.Config{Kind: kind, Recipe: pipeline.Recipes{"torchvision-a"}}
		switch kind {
		case arrowpair.RelativePatch:
			cfg.Recipe = pipeline.Recipes{pipeline.PatchRecipe(32, 3, true)}
		case arrowpair.Eval:
			cfg.Recipe = pipeline.Recipes{pipeline.EvalRecipe(32, 3)}
		}
		b.Run(string(kind), func(b *testing.B) { benchPipeline(b, ds, cfg) })
	}
}

// Contrastive pairs from the Fashion-MNIST shards (raw-zstd, 28×28 gray)
// when ../data/fashion-mnist/train exists: torchvision-a (3-channel 32×32)
// and fmnist-simclr-v1 (1-channel 28×28) views, 1 and GOMAXPROCS workers.
func BenchmarkPipelineFMNIST(b *testing.B) {
	dir := "../data/fashion-mnist/train"
	if _, err := os.Stat(dir); err != nil {
		b.Skip("no Fashion-MNIST shards at", dir)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer ds.Close()
	for _, recipe := range []string{"torchvision-a", "fmnist-simclr-v1"} {
		for _, w := range []int{1, runtime.GOMAXPROCS(0)} {
			cfg := pipeline.Config{Kind: arrowpair.Contrastive, Recipe: pipeline.Recipes{recipe}, Workers: w}
			b.Run(fmt.Sprintf("%s/workers=%d", recipe, w), func(b *testing.B) { benchPipeline(b, ds, cfg) })
		}
	}
}

// Contrastive pairs at 224×224 (simclr-imagenet) from the photo shards of
// scripts/benchdata.sh when they exist: ../data/photos-raw-s2 (raw S2
// pixels) and ../data/photos-keep (the JPEG files, pure-Go decoder).
func BenchmarkPipelinePhotos224(b *testing.B) {
	for _, set := range []string{"photos-raw-s2", "photos-keep"} {
		dir := "../data/" + set
		b.Run(set, func(b *testing.B) {
			if _, err := os.Stat(dir + "/index.json"); err != nil {
				b.Skip("no shards at", dir)
			}
			ds, err := shards.Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer ds.Close()
			cfg := pipeline.Config{Kind: arrowpair.Contrastive, Recipe: pipeline.Recipes{"simclr-imagenet"}, BatchSize: 64}
			benchPipeline(b, ds, cfg)
		})
	}
}
