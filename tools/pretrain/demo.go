package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"time"
)

// demoData is 2,000 Fashion-MNIST training images and 1,000 test images
// with labels, packed as pairflow shards (see demo/LICENSE and
// scripts/demodata.sh).
//
//go:embed demo
var demoData embed.FS

// The demonstration's settings: FMNIST-SimCLR v1 scaled to the small set —
// batch 256 (lr 0.06 × 256/128), 20 epochs of 7 steps.
const (
	demoEpochs = 20
	demoBatch  = 256
	demoLR     = 0.12
)

// extractDemo writes the embedded splits under dir.
func extractDemo(dir string) error {
	return fs.WalkDir(demoData, "demo", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := demoData.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
}

// demoResult is what the demonstration measured.
type demoResult struct {
	Random, Pretrained float64
	*result
}

// demo pretrains on the embedded data and returns the kNN accuracies.
func demo(ctx context.Context, out string, epochs, threads, workers int, stderr io.Writer) (*demoResult, error) {
	data, err := os.MkdirTemp("", "pairflow-demo-data-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(data)
	if err := extractDemo(data); err != nil {
		return nil, fmt.Errorf("demo data: %w", err)
	}
	cfg := runConfig{Objective: ObjSimCLR, Model: "smallcnn", Epochs: epochs, Batch: demoBatch, LR: demoLR,
		Schedule: "cosine", Momentum: 0.9, WeightDecay: -1, Tau: 0.5, MaskSide: 14, Seed: 1}
	if err := objectiveDefaults(&cfg); err != nil {
		return nil, err
	}
	o := options{Train: filepath.Join(data, "demo", "train"), Test: filepath.Join(data, "demo", "test"), Out: out,
		Workers: workers, Threads: threads, KNNEvery: max(1, epochs/5), KNNK: 200, KNNTemp: 0.1,
		LogEvery: 5 * time.Second, Plot: true, Stderr: stderr}
	res, err := pretrain(ctx, cfg, o, nil)
	if err != nil {
		return nil, err
	}
	return &demoResult{Random: res.RandomKNN, Pretrained: res.FinalKNN, result: res}, nil
}

// runDemo is the no-argument command.
func runDemo(ctx context.Context, out string, threads, workers int, stdout, stderr io.Writer) error {
	if out == "" {
		var err error
		if out, err = os.MkdirTemp("", "pairflow-demo-"); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "pairflow demo: SimCLR pretraining of smallcnn on 2,000 Fashion-MNIST images embedded in this binary\n"+
		"(%d epochs of batch %d; kNN monitor on 1,000 test images). Run with --help for the real thing.\n", demoEpochs, demoBatch)
	start := time.Now()
	r, err := demo(ctx, out, demoEpochs, threads, workers, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nkNN top-1 on the 1,000 test images (k=200, cosine, T=0.1):\n"+
		"  randomly initialised encoder  %5.1f%%\n  after SimCLR pretraining      %5.1f%%  (%+.1f points)\n",
		100*r.Random, 100*r.Pretrained, 100*(r.Pretrained-r.Random))
	fmt.Fprintf(stdout, "%.0f s in all (%.0f s training; the trainer waited for data %.1f%% of it)\n",
		time.Since(start).Seconds(), r.TrainSecs, 100*dataWaitShare(r.Rows))
	fmt.Fprintf(stdout, "outputs in %s: metrics.csv, curves.png, checkpoints/\n", out)
	if math.IsNaN(r.Pretrained) || r.Pretrained <= r.Random {
		return errors.New("the pretrained encoder did not beat the random one")
	}
	return nil
}
