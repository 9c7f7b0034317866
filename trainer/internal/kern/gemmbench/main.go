// Command gemmbench measures pairflow's SGEMM kernels in GFLOP/s, per shape,
// tier and thread count, next to this machine's measured FMA peak and,
// optionally, numpy's matmul (OpenBLAS) timed in the same run.
//
// Usage:
//
//	gemmbench [-shapes square,smallcnn] [-threads 1,2] [-tiers generic,avx2] [-repeats 5]
//	          [-min-time 200ms] [-ref-max-gflop 2] [-peer /usr/bin/python3]
//
// Shapes are M×N×K for C[M×N] = A[M×K]·B[K×N], both operands untransposed
// (as numpy's A @ B). "square" is 512, 1024 and 2048; "smallcnn" is the nine
// im2col GEMMs of smallcnn at 512 views; "MxNxK" adds one shape. Each figure
// is the median (and min–max) of -repeats timings, each looping the GEMM for
// at least -min-time. For a fair OpenBLAS baseline run it as
//
//	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE gemmbench -peer /usr/bin/python3
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
baseline: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE gemmbench -peer /usr/bin/python3

Flags:`)
		fs.PrintDefaults()
	}
	shapes := fs.String("shapes", "square,smallcnn", "comma-separated: square (512, 1024, 2048), smallcnn (nine im2col GEMMs), or MxNxK")
	threads := fs.String("threads", "1,2", "comma-separated thread counts")
	tiers := fs.String("tiers", "", "comma-separated tiers to run (generic, avx2); default: every tier this CPU has")
	repeats := fs.Int("repeats", 5, "timed repeats per measurement (median, min and max are printed)")
	minTime := fs.Duration("min-time", 200*time.Millisecond, "minimum duration of one repeat")
	refMax := fs.Float64("ref-max-gflop", 2, "skip the generic (plain-Go) tier on shapes above this many GFLOP per call")
	peer := fs.String("peer", "", "python3 with numpy: also time numpy's matmul on the same shapes and print the ratio")
	peerPath := fs.String("peer-script", "", "path of numpy_gemm.py (default: trainer/internal/kern/gemmbench/numpy_gemm.py when run from the repository root, else ./numpy_gemm.py)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := config{repeats: *repeats, minTime: *minTime, refMax: *refMax, peer: *peer, peerPath: *peerPath}
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
		default:
			d := strings.Split(s, "x")
			if len(d) != 3 {
				return cfg, fmt.Errorf("-shapes: %q is not square, smallcnn or MxNxK", s)
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

// timeRepeats calls f in a loop for at least minTime per repeat and returns
// flop/s (in GFLOP/s) of each repeat.
func timeRepeats(flop float64, repeats int, minTime time.Duration, f func()) []float64 {
	f() // warm-up: buffers, page faults
	t0 := time.Now()
	f()
	iters := max(1, int(minTime/max(time.Since(t0), time.Microsecond)))
	out := make([]float64, repeats)
	for r := range out {
		t0 := time.Now()
		for range iters {
			f()
		}
		out[r] = flop * float64(iters) / time.Since(t0).Seconds() / 1e9
	}
	return out
}

// measurePeak runs the FMA loop on th goroutines at once.
func measurePeak(th, repeats int, minTime time.Duration) []float64 {
	const n = 1 << 20
	return timeRepeats(float64(th)*n*flopPerIter, repeats, minTime, func() {
		var wg sync.WaitGroup
		for range th {
			wg.Go(func() { fmaLoop(n) })
		}
		wg.Wait()
	})
}

func nominalGHz() float64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "cpu MHz") {
			if i := strings.IndexByte(l, ':'); i >= 0 {
				v, _ := strconv.ParseFloat(strings.TrimSpace(l[i+1:]), 64)
				return v / 1000
			}
		}
	}
	return 0
}

func run(cfg config) error {
	fmt.Printf("gemmbench: GOMAXPROCS %d, kern tier %v (process tier %s), tiers run: %v\n", runtime.GOMAXPROCS(0), kern.Tier(), cpu.Describe(), cfg.tiers)
	fmt.Printf("environment: OPENBLAS_CORETYPE=%q OPENBLAS_L2_SIZE=%q\n", os.Getenv("OPENBLAS_CORETYPE"), os.Getenv("OPENBLAS_L2_SIZE"))
	peak := map[int]float64{}
	if ghz := nominalGHz(); ghz > 0 {
		fmt.Printf("theoretical AVX2 fp32 peak at the nominal %.3f GHz: %.1f GFLOP/s per core (2 FMA pipes × 8 lanes × 2)\n", ghz, ghz*32)
	}
	if fmaAvailable() {
		for _, th := range cfg.threads {
			s := summarize(measurePeak(th, cfg.repeats, cfg.minTime))
			peak[th] = s.max
			fmt.Printf("measured AVX2 FMA peak, %d thread(s): %.1f GFLOP/s (best of %d; median %.1f)\n", th, s.max, cfg.repeats, s.med)
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

	fmt.Printf("\n%-28s %7s %5s %6s %-8s %3s %8s %8s %8s %6s", "shape", "M", "N", "K", "tier", "thr", "median", "min", "max", "%peak")
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
		for _, t := range cfg.tiers {
			if t == cpu.Generic && flop/1e9 > cfg.refMax {
				fmt.Printf("%-28s %7d %5d %6d %-8v     (skipped: %.1f GFLOP per call > -ref-max-gflop)\n", s.Name, s.M, s.N, s.K, t, flop/1e9)
				continue
			}
			if _, err := kern.SetTier(t); err != nil {
				return err
			}
			for _, th := range cfg.threads {
				kern.SetThreads(th)
				f := func() { kern.Sgemm(false, false, s.M, s.N, s.K, 1, a, s.K, b, s.N, 0, c, s.N) }
				f() // warm-up: buffers, page faults
				t0 := time.Now()
				f()
				iters := max(1, int(cfg.minTime/max(time.Since(t0), time.Microsecond)))
				// Compare with numpy only on the fastest tier; alternate
				// repeats so both see the same machine load.
				p := peers[th]
				if t != cfg.tiers[len(cfg.tiers)-1] {
					p = nil
				}
				var ours, theirs []float64
				for range cfg.repeats {
					t0 := time.Now()
					for range iters {
						f()
					}
					ours = append(ours, flop*float64(iters)/time.Since(t0).Seconds()/1e9)
					if p != nil {
						g, err := p.time(s, cfg.minTime)
						if err != nil {
							return err
						}
						theirs = append(theirs, g)
					}
				}
				st := summarize(ours)
				pk := "-"
				if pv := peak[th]; pv > 0 {
					pk = fmt.Sprintf("%.0f%%", 100*st.med/pv)
				}
				fmt.Printf("%-28s %7d %5d %6d %-8v %3d %8.1f %8.1f %8.1f %6s", s.Name, s.M, s.N, s.K, t, th, st.med, st.min, st.max, pk)
				if len(theirs) > 0 {
					ps := summarize(theirs)
					fmt.Printf(" %8.1f %5.2fx", ps.med, st.med/ps.med)
				}
				fmt.Println()
			}
		}
	}
	return nil
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
func (p *peer) time(s kern.GemmShape, minTime time.Duration) (float64, error) {
	if _, err := fmt.Fprintf(p.in, "%d %d %d %g\n", s.M, s.N, s.K, minTime.Seconds()); err != nil {
		return 0, fmt.Errorf("peer: %w", err)
	}
	if !p.out.Scan() {
		return 0, fmt.Errorf("peer: no answer for %s: %v", s.Name, p.out.Err())
	}
	g, err := strconv.ParseFloat(strings.TrimSpace(p.out.Text()), 64)
	if err != nil {
		return 0, fmt.Errorf("peer answer %q: %w", p.out.Text(), err)
	}
	return g, nil
}

func (p *peer) close() {
	p.in.Close()
	p.cmd.Wait()
}
