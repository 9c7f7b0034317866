// Command pairbench measures pairflow's pipeline: source images/s from shards
// to Arrow batches per pair kind and worker count, time to the first batch,
// the per-stage breakdown of pipeline.Stats and the peak resident memory of
// the process as the OS reports it (VmHWM). Each configuration runs in its own
// child process, so every peak is that configuration's alone. Optionally the
// torchvision peer benchmark (aug_bench.py, not part of this repository;
// --peer-script names it) runs in the same session.
//
//	pairbench --data data/fashion-mnist/train --recipe torchvision-a --kinds contrastive --workers 1,2 \
//	    --batches 40 [--peer-script PATH/aug_bench.py --peer-setting A --peer-args "--fmnist data/fmnist/train.npz"] [--json out.json]
//
// Batches are discarded (Released) as they arrive; the first --warmup batches
// are not timed. Output: a Markdown table on stdout (and every figure as JSON
// with --json). Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/procstat"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: pairbench --data DIR [flags]

Measures pairflow's pipeline: source images/s from shards to Arrow batches per
pair kind and worker count, each configuration in its own child process.

Flags:
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("pairbench", usage, stderr)
	return fs.Exit(bench(fs, args, stdout, stderr))
}

// Result is one configuration's measurement.
type Result struct {
	Data        string  `json:"data"`
	Kind        string  `json:"kind"`
	Recipe      string  `json:"recipe"`
	Workers     int     `json:"workers"`
	Batch       int     `json:"batch"`
	Images      int64   `json:"images"` // timed source images
	Seconds     float64 `json:"seconds"`
	ImagesPerS  float64 `json:"images_per_s"`
	FirstBatchS float64 `json:"first_batch_s"` // from New to the first batch
	PeakRSSMiB  float64 `json:"peak_rss_mib"`  // VmHWM of the child process
	// WallS is from opening the dataset to the last batch: for a remote
	// split with a cold cache it includes the downloads.
	WallS float64 `json:"wall_s"`
	// RSSAnonMiB and RSSFileMiB split the child's resident memory at the
	// end: anonymous (heap, stacks) and file-backed (mapped shard files).
	RSSAnonMiB float64            `json:"rss_anon_mib"`
	RSSFileMiB float64            `json:"rss_file_mib"`
	Fetched    int64              `json:"shards_fetched"` // remote split: shards downloaded (cache misses)
	Busy       map[string]float64 `json:"busy"`           // stage → busy fraction
}

type options struct {
	data, recipe, kinds, workers string
	recipeText                   string // --recipe read by cli.Recipe
	batch, batches, warmup, size int
	child                        bool
	kind                         string
	nworkers                     int
	jsonOut                      string
	peerScript, peerSetting      string
	peerWorkers                  int
	peerArgs                     string
	order                        string
	window                       int64
	remote                       cli.Remote
	open                         shards.OpenOptions // from remote
}

func bench(fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var o options
	o.remote.Register(fs.FlagSet)
	fs.StringVar(&o.data, "data", "", "shard directory, or s3://... / https://... (required)")
	fs.StringVar(&o.recipe, "recipe", "torchvision-a", "preset, inline recipe JSON or recipe file for contrastive, inpainting, rotation and supervised")
	fs.StringVar(&o.kinds, "kinds", "contrastive", "comma-separated pair kinds")
	fs.StringVar(&o.workers, "workers", "1,"+strconv.Itoa(runtime.NumCPU()), "comma-separated worker counts")
	fs.IntVar(&o.batch, "batch", 256, "rows per batch")
	fs.IntVar(&o.batches, "batches", 40, "timed batches per configuration")
	fs.IntVar(&o.warmup, "warmup", 2, "untimed batches first")
	fs.IntVar(&o.size, "size", 32, "view side of the relative-patch and eval recipes")
	fs.StringVar(&o.jsonOut, "json", "", "also write the results as JSON here")
	fs.StringVar(&o.order, "order", "shuffle", "read order: shuffle (global permutation) or shards (shard by shard, windowed shuffle)")
	fs.Int64Var(&o.window, "window", 0, "shuffle window in records for --order shards (0: the pipeline's default)")
	fs.StringVar(&o.peerScript, "peer-script", "", "path of the torchvision peer benchmark aug_bench.py (required with --peer-setting)")
	fs.StringVar(&o.peerSetting, "peer-setting", "", "run the peer with this setting (A, B or C) after pairflow")
	fs.IntVar(&o.peerWorkers, "peer-workers", 2, "peer DataLoader workers")
	fs.StringVar(&o.peerArgs, "peer-args", "", "extra peer arguments (space-separated)")
	fs.BoolVar(&o.child, "child", false, "internal: measure one configuration and print JSON")
	fs.StringVar(&o.kind, "kind", "", "internal: the child's kind")
	fs.IntVar(&o.nworkers, "n", 0, "internal: the child's workers")
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	if o.data == "" || o.batch < 1 || o.batches < 1 || o.warmup < 0 {
		return fmt.Errorf("%w: need --data, --batch ≥ 1, --batches ≥ 1, --warmup ≥ 0", cli.ErrUsage)
	}
	var err error
	if o.open, err = o.remote.OpenOptions(); err != nil {
		return err
	}
	if o.peerSetting != "" && o.peerScript == "" {
		return fmt.Errorf("%w: --peer-setting needs --peer-script PATH (the torchvision peer's aug_bench.py)", cli.ErrUsage)
	}
	if o.recipeText, _, err = cli.Recipe(o.recipe); err != nil {
		return err
	}
	if o.child {
		r, err := measure(&o)
		if err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(r)
	}
	var kinds []string
	for _, k := range strings.Split(o.kinds, ",") {
		if !validKind(k) {
			return fmt.Errorf("%w: kind %q", cli.ErrUsage, k)
		}
		kinds = append(kinds, k)
	}
	var workers []int
	for _, w := range strings.Split(o.workers, ",") {
		n, err := strconv.Atoi(w)
		if err != nil || n < 1 {
			return fmt.Errorf("%w: workers %q", cli.ErrUsage, w)
		}
		workers = append(workers, n)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var results []Result
	fmt.Fprintf(stdout, "JPEG decoder: %s; SIMD tier: ops %v, imageio %v (process %s)\n\n", imageio.JPEGDecoder, ops.Tier(), imageio.Tier(), cpu.Describe())
	fmt.Fprintf(stdout, "| data | kind | recipe | workers | images/s | first batch | peak RSS | busy: read / decode / augment / pair / assemble |\n|---|---|---|---|---|---|---|---|\n")
	for _, k := range kinds {
		for _, w := range workers {
			args := append([]string{"-child", "-data", o.data, "-recipe", o.recipe, "-kind", k, "-n", strconv.Itoa(w),
				"-batch", strconv.Itoa(o.batch), "-batches", strconv.Itoa(o.batches), "-warmup", strconv.Itoa(o.warmup),
				"-size", strconv.Itoa(o.size), "-order", o.order, "-window", strconv.FormatInt(o.window, 10)}, o.remote.Args()...)
			cmd := exec.Command(self, args...)
			cmd.Stderr = stderr
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("%s with %d workers: %w", k, w, err)
			}
			var r Result
			if err := json.Unmarshal(out, &r); err != nil {
				return fmt.Errorf("%s with %d workers: child output %q: %w", k, w, out, err)
			}
			results = append(results, r)
			fmt.Fprintf(stdout, "| %s | %s | %s | %d | %.0f | %.0f ms | %.0f MiB | %.0f / %.0f / %.0f / %.0f / %.0f %% |\n",
				r.Data, r.Kind, r.Recipe, r.Workers, r.ImagesPerS, 1000*r.FirstBatchS, r.PeakRSSMiB,
				100*r.Busy[pipeline.StageRead], 100*r.Busy[pipeline.StageDecode], 100*r.Busy[pipeline.StageAugment],
				100*r.Busy[pipeline.StagePair], 100*r.Busy[pipeline.StageAssemble])
		}
	}
	var peer json.RawMessage
	if o.peerSetting != "" {
		if peer, err = runPeer(&o, stdout, stderr); err != nil {
			return err
		}
	}
	if o.jsonOut != "" {
		return cli.WriteJSON(o.jsonOut, struct {
			JPEGDecoder string          `json:"jpeg_decoder"`
			Results     []Result        `json:"results"`
			Peer        json.RawMessage `json:"peer,omitempty"`
		}{imageio.JPEGDecoder, results, peer})
	}
	return nil
}

func validKind(k string) bool {
	for _, v := range arrowpair.Kinds() {
		if string(v) == k {
			return true
		}
	}
	return false
}

// measure runs one configuration in this process.
func measure(o *options) (Result, error) {
	opened := time.Now()
	ds, err := shards.Open(o.data, o.open)
	if err != nil {
		return Result{}, err
	}
	defer ds.Close()
	kind := arrowpair.Kind(o.kind)
	recipe := o.recipeText
	switch kind {
	case arrowpair.RelativePatch:
		recipe = pipeline.PatchRecipe(o.size, 3, true)
	case arrowpair.Eval:
		recipe = pipeline.EvalRecipe(o.size, 3)
	}
	cfg := pipeline.Config{Kind: kind, BatchSize: o.batch, Recipe: pipeline.Recipes{recipe}, Seed: 1, Workers: o.nworkers, Order: o.order, Window: o.window}
	if kind != arrowpair.Eval {
		cfg.Epochs = 0
	}
	start := time.Now()
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		return Result{}, err
	}
	defer p.Close()
	r := Result{Data: o.data, Kind: o.kind, Recipe: o.recipe, Workers: o.nworkers, Batch: o.batch}
	if kind == arrowpair.RelativePatch || kind == arrowpair.Eval {
		r.Recipe = fmt.Sprintf("%s-%d", kind, o.size)
	}
	n := 0
	var t0 time.Time
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			return Result{}, err
		}
		if n == 0 {
			r.FirstBatchS = time.Since(start).Seconds()
		}
		if n == o.warmup {
			t0 = time.Now()
		}
		if n >= o.warmup {
			r.Images += rec.NumRows()
		}
		rec.Release()
		n++
		if n == o.warmup+o.batches {
			break
		}
	}
	if n < o.warmup+1 {
		return Result{}, fmt.Errorf("only %d batches: the run is too short for --warmup %d", n, o.warmup)
	}
	r.Seconds = time.Since(t0).Seconds()
	r.WallS = time.Since(opened).Seconds()
	r.ImagesPerS = float64(r.Images) / r.Seconds
	r.RSSAnonMiB, r.RSSFileMiB = procStatusMiB("RssAnon:"), procStatusMiB("RssFile:")
	r.Fetched = ds.Fetched()
	r.Busy = map[string]float64{}
	for _, st := range p.Stats().Stages {
		r.Busy[st.Name] = st.BusyFraction
	}
	r.PeakRSSMiB = procStatusMiB("VmHWM:")
	return r, nil
}

// procStatusMiB returns a kB field of /proc/self/status in MiB (0 if unavailable).
func procStatusMiB(field string) float64 { return float64(procstat.KB(field)) / 1024 }

// runPeer runs the torchvision benchmark and prints its median rate.
func runPeer(o *options, stdout, stderr io.Writer) (json.RawMessage, error) {
	tmp, err := os.CreateTemp("", "pairbench-peer-*.json")
	if err != nil {
		return nil, err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	args := []string{o.peerScript, "--setting", o.peerSetting, "--workers", strconv.Itoa(o.peerWorkers), "--json", tmp.Name()}
	args = append(args, strings.Fields(o.peerArgs)...)
	cmd := exec.Command("/usr/bin/python3", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("peer %s: %w", strings.Join(args, " "), err)
	}
	b, err := os.ReadFile(tmp.Name())
	if err != nil {
		return nil, err
	}
	var res struct {
		ImagesPerS struct {
			Median float64 `json:"median"`
		} `json:"images_per_s"`
		PeakSumRSS *float64 `json:"peak_sum_rss_MiB"`
		PeakMain   float64  `json:"peak_rss_main_MiB"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("peer output: %w", err)
	}
	rss := res.PeakMain
	if res.PeakSumRSS != nil {
		rss = *res.PeakSumRSS
	}
	fmt.Fprintf(stdout, "| torchvision peer setting %s | contrastive | SimCLR s=1 | %d DataLoader workers | %.0f | | %.0f MiB | |\n",
		o.peerSetting, o.peerWorkers, res.ImagesPerS.Median, rss)
	return b, nil
}
