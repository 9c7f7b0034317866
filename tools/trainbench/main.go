// Command trainbench measures pairflow's SimCLR training step on the
// workload of the PyTorch peer benchmark quoted in docs/benchmarks.md: 256 source images = 512 views
// of 3×32×32 (random N(0,1) inputs) in one forward pass, encoder, projection
// head Linear(d,512)-ReLU-Linear(512,128), NT-Xent τ=0.5, SGD momentum 0.9
// (lr 0.1, weight decay 1e-6) or Adam (lr 1e-3). It prints source images/s
// (median, min, max over the timed steps) for training and forward-only, the
// GFLOP/s from the same analytic count as the peer script, and the time per
// layer kind.
//
// Usage:
//
//	go run ./tools/trainbench [-encoder smallcnn|resnet18] [-threads 2] [-steps N] [-warmup N] [-opt sgd|adam] [-json out.json] [-cpuprofile out.prof] [-memprofile out.prof]
//
// It also prints the process's peak resident memory (VmHWM) where the
// system reports it.
//
// Exit status: 0 on success, 2 for a usage error, 1 for any other failure.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/procstat"
	"github.com/pairflow/pairflow/trainer"
)

// stepClock reads the clock steps are timed by, in seconds: the wall
// clock, or with -clock cpu the process's CPU time.
var stepClock = func() float64 { return time.Since(clockStart).Seconds() }

var clockStart = time.Now()

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: trainbench [flags]

Measures pairflow's SimCLR training step (smallcnn or resnet18) on random
inputs, as the PyTorch peer benchmark does, and prints images/s per step.

Flags:
`

// run is the command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("trainbench", usage, stderr)
	return fs.Exit(command(fs, args, stdout))
}

// command parses the flags and runs the benchmark: usage errors wrap
// cli.ErrUsage.
func command(fs *cli.FlagSet, args []string, stdout io.Writer) error {
	encoder := fs.String("encoder", "smallcnn", "encoder: smallcnn (E1) or resnet18 (E2)")
	threads := fs.Int("threads", 2, "threads (GOMAXPROCS and kernel goroutines)")
	batch := fs.Int("batch", 256, "source images per step (views = 2×)")
	steps := fs.Int("steps", 0, "timed steps (default smallcnn 10, resnet18 3)")
	warmup := fs.Int("warmup", 0, "warm-up steps (default smallcnn 3, resnet18 1)")
	opt := fs.String("opt", "sgd", "optimizer: sgd or adam")
	noForward := fs.Bool("no-forward", false, "skip the forward-only measurement")
	jsonOut := fs.String("json", "", "also write the results as JSON to this file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the timed training steps to this file (go tool pprof)")
	memProfile := fs.String("memprofile", "", "write a heap profile taken after the timed training steps to this file (go tool pprof: -sample_index=inuse_space for what is held, alloc_space for what the steps allocated)")
	clock := fs.String("clock", "wall", "what a step's time is: wall (elapsed) or cpu (this process's CPU time, all threads; on a shared machine it leaves out the time other work ran)")
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	switch *clock {
	case "wall":
	case "cpu":
		if cpuSeconds() == 0 {
			return fmt.Errorf("%w: -clock cpu: no CPU-time source on this system", cli.ErrUsage)
		}
		stepClock = cpuSeconds
	default:
		return fmt.Errorf("%w: -clock %q: want wall or cpu", cli.ErrUsage, *clock)
	}
	switch *encoder {
	case "E1", "E2", "smallcnn", "resnet18":
	default:
		return fmt.Errorf("%w: -encoder %q (want smallcnn or resnet18)", cli.ErrUsage, *encoder)
	}
	if *opt != "sgd" && *opt != "adam" {
		return fmt.Errorf("%w: -opt %q (want sgd or adam)", cli.ErrUsage, *opt)
	}
	if *threads < 1 || *batch < 1 || *steps < 0 || *warmup < 0 {
		return fmt.Errorf("%w: -threads %d -batch %d -steps %d -warmup %d (want ≥ 1, ≥ 1, ≥ 0, ≥ 0)", cli.ErrUsage, *threads, *batch, *steps, *warmup)
	}
	return bench(stdout, *encoder, *threads, *batch, *steps, *warmup, *opt, *noForward, *jsonOut, *cpuProfile, *memProfile)
}

type summary struct {
	StepS      []float64  `json:"step_s"`
	ImagesPerS [3]float64 `json:"images_per_s_median_min_max"`
	GFLOPPerS  float64    `json:"GFLOP_per_s_median"`
}

func summarise(ts []float64, n int, flops float64) summary {
	s := append([]float64(nil), ts...)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{StepS: ts, ImagesPerS: [3]float64{float64(n) / med, float64(n) / s[len(s)-1], float64(n) / s[0]}, GFLOPPerS: flops / med / 1e9}
}

func bench(stdout io.Writer, encoder string, threads, batch, steps, warmup int, opt string, noForward bool, jsonOut, cpuProfile, memProfile string) error {
	switch encoder {
	case "E1":
		encoder = "smallcnn"
	case "E2":
		encoder = "resnet18"
	}
	if steps == 0 {
		steps = map[bool]int{true: 10, false: 3}[encoder == "smallcnn"]
	}
	if warmup == 0 {
		warmup = map[bool]int{true: 3, false: 1}[encoder == "smallcnn"]
	}
	runtime.GOMAXPROCS(threads)
	trainer.SetThreads(threads)
	cfg := trainer.Config{Model: encoder, Channels: 3, Tau: 0.5, Seed: 0}
	switch opt {
	case "sgd":
		cfg.Optimizer, cfg.Momentum, cfg.Schedule, cfg.WeightDecay = "sgd", 0.9, trainer.Constant(0.1), 1e-6
	case "adam":
		cfg.Optimizer, cfg.Schedule = "adam", trainer.Constant(1e-3)
	default:
		return fmt.Errorf("unknown -opt %q", opt)
	}
	s, err := trainer.NewSimCLR(cfg)
	if err != nil {
		return err
	}
	r := trainer.NewRNG(1)
	x := trainer.NewTensor[float32](2*batch, 3, 32, 32)
	for i := range x.Data {
		x.Data[i] = float32(r.Normal())
	}
	model := s.Model()
	s.Forward(x)
	fwdFlops := trainer.ForwardFLOPs[float32](model)
	var firstConv int64
	trainer.Walk[float32](model, func(l trainer.Layer[float32]) {
		if c, ok := l.(*trainer.Conv2d[float32]); ok && firstConv == 0 {
			firstConv = trainer.ForwardFLOPs[float32](c)
		}
	})
	trainFlops := 3*fwdFlops - firstConv

	bench := func(fn func(), w, n int) []float64 {
		for i := 0; i < w; i++ {
			fn()
		}
		ts := make([]float64, n)
		for i := range ts {
			t0 := stepClock()
			fn()
			ts[i] = stepClock() - t0
		}
		return ts
	}
	var loss float64
	prof := trainer.NewProfile()
	for i := 0; i < warmup; i++ {
		s.StepTensor(x)
	}
	var profBuf bytes.Buffer
	if cpuProfile != "" {
		if err := pprof.StartCPUProfile(&profBuf); err != nil {
			return fmt.Errorf("-cpuprofile: %w", err)
		}
	}
	tt := bench(func() { loss = s.StepTensor(x).Loss }, 0, steps)
	if cpuProfile != "" {
		pprof.StopCPUProfile()
		// Written whole (temporary file, fsync, rename), as -json is.
		if err := atomicfile.WriteFile(cpuProfile, profBuf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if memProfile != "" {
		// A heap profile reports the heap as of the last collection.
		runtime.GC()
		var b bytes.Buffer
		if err := pprof.Lookup("allocs").WriteTo(&b, 0); err != nil {
			return fmt.Errorf("-memprofile: %w", err)
		}
		if err := atomicfile.WriteFile(memProfile, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	// A separate profiled pass, so that timing layers cannot slow the
	// measured steps.
	s.SetProfile(prof)
	pt := bench(func() { s.StepTensor(x) }, 0, max(1, steps/2))
	s.SetProfile(nil)
	res := map[string]any{
		"encoder": encoder, "threads": threads, "opt": opt, "images_per_step": batch, "views_per_step": 2 * batch,
		"kernel_tier":        trainer.KernelTier().String(),
		"fwd_GFLOP_per_step": float64(fwdFlops) / 1e9, "train_GFLOP_per_step": float64(trainFlops) / 1e9,
		"train": summarise(tt, batch, float64(trainFlops)), "last_loss": loss,
	}
	if !noForward {
		ft := bench(func() { s.Forward(x) }, max(1, warmup), steps)
		res["forward_only"] = summarise(ft, batch, float64(fwdFlops))
	}
	tr := res["train"].(summary)
	fmt.Fprintf(stdout, "pairflow trainbench: %s, %d threads, tier %s (process %s), %d views of 3x32x32, opt %s\n", encoder, threads, trainer.KernelTier(), cpu.Describe(), 2*batch, opt)
	fmt.Fprintf(stdout, "train:        %8.1f images/s (median; min %.1f, max %.1f)  %6.1f GFLOP/s  step %.3f s\n",
		tr.ImagesPerS[0], tr.ImagesPerS[1], tr.ImagesPerS[2], tr.GFLOPPerS, float64(batch)/tr.ImagesPerS[0])
	if f, ok := res["forward_only"].(summary); ok {
		fmt.Fprintf(stdout, "forward-only: %8.1f images/s (median; min %.1f, max %.1f)  %6.1f GFLOP/s\n", f.ImagesPerS[0], f.ImagesPerS[1], f.ImagesPerS[2], f.GFLOPPerS)
	}
	var total float64
	for _, k := range prof.Kinds() {
		total += (prof.Forward[k] + prof.Backward[k]).Seconds()
	}
	perStep := func(d time.Duration) float64 { return d.Seconds() * 1e3 / float64(len(pt)) }
	fmt.Fprintf(stdout, "time per training step by layer kind (%d profiled steps):\n  %-10s %9s %9s %7s\n", len(pt), "kind", "fwd ms", "bwd ms", "share")
	kinds := map[string]any{}
	for _, k := range prof.Kinds() {
		f, b := prof.Forward[k], prof.Backward[k]
		fmt.Fprintf(stdout, "  %-10s %9.1f %9.1f %6.1f%%\n", k, perStep(f), perStep(b), 100*(f+b).Seconds()/total)
		kinds[k] = map[string]float64{"fwd_ms": perStep(f), "bwd_ms": perStep(b)}
	}
	res["per_kind_ms"] = kinds
	if kb := procstat.PeakRSSKB(); kb > 0 {
		// The whole run's peak: model, the timed, profiled and
		// forward-only steps.
		fmt.Fprintf(stdout, "peak resident memory (VmHWM): %d kB (%.2f GiB)\n", kb, float64(kb)/(1<<20))
		res["peak_rss_kB"] = kb
	}
	if jsonOut != "" {
		if err := cli.WriteJSON(jsonOut, res); err != nil {
			return err
		}
	}
	return nil
}
