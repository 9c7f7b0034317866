// Command gemmbench measures pairflow's SGEMM kernels in GFLOP/s, per shape,
// tier and thread count, next to this machine's measured FMA peak and,
// optionally, numpy's matmul (OpenBLAS) timed in the same run.
//
// Usage:
//
//	gemmbench [-shapes square,smallcnn,resnet18] [-threads 1,2] [-tiers avx2,avx512] [-repeats 5]
//	          [-min-time 200ms] [-ref-max-gflop 2] [-peer /usr/bin/python3]
//
// Shapes are M×N×K for C[M×N] = A[M×K]·B[K×N], both operands untransposed
// (as numpy's A @ B). "square" is 512, 1024 and 2048; "smallcnn" is the nine
// im2col GEMMs of smallcnn at 512 views, "resnet18" the 33 of resnet18 at 64
// views; "MxNxK" adds one shape. Each figure is the median (and min–max) of
// -repeats timings, each looping the GEMM for at least -min-time; every
// repeat times each tier and numpy in turn, and the ratios are medians of
// the per-repeat ratios. %peak is against the measured FMA peak of the
// tier's vector width. For a fair OpenBLAS baseline (OpenBLAS 0.3.21 does
// not know Zen 4 or Sapphire Rapids and would run its generic kernel) run
//
//	env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX gemmbench -peer /usr/bin/python3
//
// and check the kernel the peer line reports (threadpoolctl).
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/trainer/internal/kern"
)

type config struct {
	shapes   []kern.GemmShape
	threads  []int
	tiers    []cpu.Tier
	repeats  int
	minTime  time.Duration
	refMax   float64
	peer     string
	peerPath string
	cpuClock bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gemmbench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "gemmbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("gemmbench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `gemmbench: SGEMM GFLOP/s per shape, tier and thread count, next to the FMA peak.

Shapes are M×N×K (C[M×N] = A[M×K]·B[K×N], untransposed). The fair OpenBLAS
baseline: env -u OPENBLAS_L2_SIZE OPENBLAS_CORETYPE=SkylakeX gemmbench -peer /usr/bin/python3

Flags:`)
		fs.PrintDefaults()
	}
	shapes := fs.String("shapes", "square,smallcnn", "comma-separated: square (512, 1024, 2048), smallcnn (nine im2col GEMMs at 512 views), resnet18 (33 im2col GEMMs at 64 views), or MxNxK")
	threads := fs.String("threads", "1,2", "comma-separated thread counts")
	tiers := fs.String("tiers", "", "comma-separated tiers to run (generic, avx2, avx512), timed in turn in each repeat; default: every tier this CPU has")
	repeats := fs.Int("repeats", 5, "timed repeats per measurement (median, min and max are printed)")
	minTime := fs.Duration("min-time", 200*time.Millisecond, "minimum duration of one repeat")
	refMax := fs.Float64("ref-max-gflop", 2, "skip the generic (plain-Go) tier on shapes above this many GFLOP per call")
	peer := fs.String("peer", "", "python3 with numpy: also time numpy's matmul on the same shapes and print the ratio")
	clock := fs.String("clock", "wall", "what GFLOP/s divide by: wall (elapsed time) or cpu (the process's CPU time, all its threads: on a machine shared with other work it leaves out the time others ran; numpy is measured the same way)")
	peerPath := fs.String("peer-script", "", "path of numpy_gemm.py (default: trainer/internal/kern/gemmbench/numpy_gemm.py when run from the repository root, else ./numpy_gemm.py)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := config{repeats: *repeats, minTime: *minTime, refMax: *refMax, peer: *peer, peerPath: *peerPath, cpuClock: *clock == "cpu"}
	if *clock != "wall" && *clock != "cpu" {
		return cfg, fmt.Errorf("-clock %q: want wall or cpu", *clock)
	}
	if cfg.repeats < 1 {
		return cfg, fmt.Errorf("-repeats %d: want at least 1", cfg.repeats)
	}
	if cfg.minTime <= 0 {
		return cfg, fmt.Errorf("-min-time %v: want a positive duration", cfg.minTime)
	}
	for _, s := range strings.Split(*shapes, ",") {
		switch s = strings.TrimSpace(s); s {
		case "square":
			for _, n := range []int{512, 1024, 2048} {
				cfg.shapes = append(cfg.shapes, kern.GemmShape{Name: fmt.Sprintf("square %d", n), M: n, N: n, K: n})
			}
		case "smallcnn":
			cfg.shapes = append(cfg.shapes, kern.SmallCNNShapes()...)
		case "resnet18":
			cfg.shapes = append(cfg.shapes, kern.ResNet18Shapes(64)...)
		default:
			d := strings.Split(s, "x")
			if len(d) != 3 {
				return cfg, fmt.Errorf("-shapes: %q is not square, smallcnn, resnet18 or MxNxK", s)
			}
			var v [3]int
			for i, x := range d {
				n, err := strconv.Atoi(x)
				if err != nil || n < 1 || n > 1<<20 {
					return cfg, fmt.Errorf("-shapes: %q: bad dimension %q", s, x)
				}
				v[i] = n
			}
			cfg.shapes = append(cfg.shapes, kern.GemmShape{Name: s, M: v[0], N: v[1], K: v[2]})
		}
	}
	for _, s := range strings.Split(*threads, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > 1024 {
			return cfg, fmt.Errorf("-threads: bad count %q", s)
		}
		cfg.threads = append(cfg.threads, n)
	}
	if *tiers == "" {
		cfg.tiers = cpu.Tiers()
	} else {
		for _, s := range strings.Split(*tiers, ",") {
			t, err := cpu.ParseTier(s)
			if err != nil {
				return cfg, err
			}
			if !cpu.Supported(t) {
				return cfg, fmt.Errorf("-tiers: %v not supported on this CPU or build", t)
			}
			cfg.tiers = append(cfg.tiers, t)
		}
	}
	// A tier above kern's top would rerun the top kernels.
	cfg.tiers = slices.DeleteFunc(cfg.tiers, func(t cpu.Tier) bool { return t > kern.TopTier() })
	return cfg, nil
}

type stats struct{ med, min, max float64 }

func summarize(g []float64) stats {
	s := slices.Clone(g)
	slices.Sort(s)
	return stats{med: s[len(s)/2], min: s[0], max: s[len(s)-1]}
}

// calibrate warms f up (buffers, page faults), times one more call and
// returns how many calls fill minTime.
func calibrate(minTime time.Duration, f func()) int {
	f()
	t0 := time.Now()
	f()
	return max(1, int(minTime/max(time.Since(t0), time.Microsecond)))
}

// rate calls f iters times and returns flop per call in GFLOP per
// wall-clock or (cpuClock) process CPU second.
func rate(flop float64, iters int, cpuClock bool, f func()) float64 {
	t0, c0 := time.Now(), cpuSeconds()
	for range iters {
		f()
	}
	d := time.Since(t0).Seconds()
	if cpuClock {
		d = cpuSeconds() - c0
	}
	return flop * float64(iters) / d / 1e9
}

// timeRepeats calls f in a loop for at least minTime per repeat and returns
// flop/s (in GFLOP/s) of each repeat, per wall-clock or (cpuClock) process
// CPU second.
func timeRepeats(flop float64, repeats int, minTime time.Duration, cpuClock bool, f func()) []float64 {
	iters := calibrate(minTime, f)
	out := make([]float64, repeats)
	for r := range out {
		out[r] = rate(flop, iters, cpuClock, f)
	}
	return out
}

// measurePeak runs the FMA loop of tier t's width on th goroutines at once.
func measurePeak(t cpu.Tier, th, repeats int, minTime time.Duration, cpuClock bool) []float64 {
	const n = 1 << 20
	loop, flopPerIter := peakLoop(t)
	return timeRepeats(float64(th)*n*flopPerIter, repeats, minTime, cpuClock, func() {
		var wg sync.WaitGroup
		for range th {
			wg.Go(func() { loop(n) })
		}
		wg.Wait()
	})
}

func run(cfg config) error {
	clock := "wall clock"
	if cfg.cpuClock {
		clock = "process CPU time (all threads)"
	}
	fmt.Printf("gemmbench: GOMAXPROCS %d, process tier %s, kern tiers run: %v; GFLOP/s per %s\n", runtime.GOMAXPROCS(0), cpu.Describe(), cfg.tiers, clock)
	fmt.Printf("environment: OPENBLAS_CORETYPE=%q OPENBLAS_L2_SIZE=%q\n", os.Getenv("OPENBLAS_CORETYPE"), os.Getenv("OPENBLAS_L2_SIZE"))
	// peak[tier][threads]: the measured FMA peak of the tier's vector width.
	peak := map[cpu.Tier]map[int]float64{}
	for _, t := range cfg.tiers {
		if loop, _ := peakLoop(t); loop == nil {
			continue
		}
		peak[t] = map[int]float64{}
		for _, th := range cfg.threads {
			s := summarize(measurePeak(t, th, cfg.repeats, cfg.minTime, cfg.cpuClock))
			peak[t][th] = s.max
			fmt.Printf("measured %v FMA peak, %d thread(s): %.1f GFLOP/s (best of %d; median %.1f)\n", t, th, s.max, cfg.repeats, s.med)
		}
	}

	peers := map[int]*peer{}
	if cfg.peer != "" {
		for _, th := range cfg.threads {
			p, err := startPeer(cfg, th)
			if err != nil {
				return err
			}
			defer p.close()
			peers[th] = p
		}
	}

	base := cfg.tiers[0] // the "vs first" column compares each tier with the first one listed
	fmt.Printf("\n%-30s %7s %5s %6s %-8s %3s %8s %8s %8s %6s %7s", "shape", "M", "N", "K", "tier", "thr", "median", "min", "max", "%peak", "vs "+base.String())
	if len(peers) > 0 {
		fmt.Printf(" %8s %6s", "numpy", "ratio")
	}
	fmt.Println()
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range cfg.shapes {
		a := make([]float32, s.M*s.K)
		b := make([]float32, s.K*s.N)
		c := make([]float32, s.M*s.N)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		flop := 2 * float64(s.M) * float64(s.N) * float64(s.K)
		var tiers []cpu.Tier
		for _, t := range cfg.tiers {
			if t == cpu.Generic && flop/1e9 > cfg.refMax {
				fmt.Printf("%-30s %7d %5d %6d %-8v     (skipped: %.1f GFLOP per call > -ref-max-gflop)\n", s.Name, s.M, s.N, s.K, t, flop/1e9)
				continue
			}
			tiers = append(tiers, t)
		}
		for _, th := range cfg.threads {
			kern.SetThreads(th)
			f := func() { kern.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N) }
			// Iterations per repeat, from the first tier's warm-up; then
			// each repeat times every tier and numpy in turn, so that all
			// see the same machine load.
			iters := 0
			for _, t := range tiers {
				if _, err := kern.SetTier(t); err != nil {
					return err
				}
				if n := calibrate(cfg.minTime, f); iters == 0 {
					iters = n
				}
			}
			ours := make([][]float64, len(tiers))
			var theirs []float64
			p := peers[th]
			for range cfg.repeats {
				for i, t := range tiers {
					kern.SetTier(t)
					ours[i] = append(ours[i], rate(flop, iters, cfg.cpuClock, f))
				}
				if p != nil {
					wall, cpuG, err := p.time(s, cfg.minTime)
					if err != nil {
						return err
					}
					if cfg.cpuClock {
						wall = cpuG
					}
					theirs = append(theirs, wall)
				}
			}
			// Same-run ratios are medians of per-repeat ratios.
			for i, t := range tiers {
				st := summarize(ours[i])
				pk := "-"
				if pv := peak[t][th]; pv > 0 {
					pk = fmt.Sprintf("%.0f%%", 100*st.med/pv)
				}
				vs := "-"
				if len(tiers) > 0 && tiers[0] == base && i > 0 {
					vs = fmt.Sprintf("%.2fx", medianRatio(ours[i], ours[0]))
				}
				fmt.Printf("%-30s %7d %5d %6d %-8v %3d %8.1f %8.1f %8.1f %6s %7s", s.Name, s.M, s.N, s.K, t, th, st.med, st.min, st.max, pk, vs)
				if len(theirs) > 0 {
					fmt.Printf(" %8.1f %5.2fx", summarize(theirs).med, medianRatio(ours[i], theirs))
				}
				fmt.Println()
			}
		}
	}
	return nil
}

// medianRatio is the median of a[i]/b[i] over repeats timed back to back.
func medianRatio(a, b []float64) float64 {
	r := make([]float64, len(a))
	for i := range a {
		r[i] = a[i] / b[i]
	}
	return summarize(r).med
}

// peer is a running numpy_gemm.py server with a fixed OpenBLAS thread count.
type peer struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPeer(cfg config, th int) (*peer, error) {
	script := cfg.peerPath
	if script == "" {
		script = "numpy_gemm.py"
		for _, p := range []string{"trainer/internal/kern/gemmbench/numpy_gemm.py", "numpy_gemm.py"} {
			if _, err := os.Stat(p); err == nil {
				script = p
				break
			}
		}
	}
	cmd := exec.Command(cfg.peer, script)
	cmd.Env = append(os.Environ(), "OPENBLAS_NUM_THREADS="+strconv.Itoa(th), "OMP_NUM_THREADS="+strconv.Itoa(th))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("peer %s %s: %w", cfg.peer, script, err)
	}
	p := &peer{cmd: cmd, in: in, out: bufio.NewScanner(outPipe)}
	if !p.out.Scan() {
		p.close()
		return nil, fmt.Errorf("peer %s %s: no greeting (is numpy installed?)", cfg.peer, script)
	}
	var info struct {
		Numpy string          `json:"numpy"`
		BLAS  json.RawMessage `json:"blas"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &info); err != nil {
		p.close()
		return nil, fmt.Errorf("peer greeting %q: %w", p.out.Text(), err)
	}
	fmt.Printf("peer: numpy %s, OPENBLAS_NUM_THREADS=%d, BLAS %s\n", info.Numpy, th, info.BLAS)
	return p, nil
}

// time runs one timed repeat of numpy's matmul on shape s.
// time asks the peer for one timed loop of shape s and returns its GFLOP/s
// by wall clock and by the peer process's CPU time.
func (p *peer) time(s kern.GemmShape, minTime time.Duration) (wall, cpu float64, err error) {
	if _, err := fmt.Fprintf(p.in, "%d %d %d %g\n", s.M, s.N, s.K, minTime.Seconds()); err != nil {
		return 0, 0, fmt.Errorf("peer: %w", err)
	}
	if !p.out.Scan() {
		return 0, 0, fmt.Errorf("peer: no answer for %s: %v", s.Name, p.out.Err())
	}
	f := strings.Fields(p.out.Text())
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("peer answer %q: want two numbers", p.out.Text())
	}
	wall, err1 := strconv.ParseFloat(f[0], 64)
	cpu, err2 := strconv.ParseFloat(f[1], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, fmt.Errorf("peer answer %q: %w", p.out.Text(), err)
	}
	return wall, cpu, nil
}

func (p *peer) close() {
	p.in.Close()
	p.cmd.Wait()
}
