// Command lineval evaluates an encoder with few labels: a linear probe on
// frozen features or fine-tuning, on class-balanced label subsets of 1%,
// 10% and 100%, reported as top-1 and top-5 accuracy on the test split (the
// protocol of the SimCLR paper's Table 7; issue 9's recipe "FMNIST-SimCLR
// v1" gives the defaults).
//
//	lineval --encoder ckpt.safetensors --train DIR --test DIR --mode linear --out results/
//	lineval --encoder ckpt.safetensors --train DIR --test DIR --mode finetune --out results/
//	lineval --baseline random --train DIR --test DIR --out results/      (random-init encoder + linear)
//	lineval --baseline supervised --train DIR --test DIR --out results/  (from scratch, fine-tune recipe)
//
// Subsets: for every label fraction f and subset seed s, the train split's
// records with a label are reduced to round(f × class size) per class by
// sampler.BalancedSubset(labels, f, s), so every method run with the same
// seeds sees the same subsets (results.json records each subset's size and
// FNV-64a hash of its indices to check it). Fraction 1 runs with the first
// seed only. The seed also fixes the head's initialisation, the probe's
// batch order and the fine-tuning draws and augmentations; the baselines'
// encoder initialisation is --init-seed, the same for every run.
//
// Linear (--mode linear, and --baseline random): the encoder's 128-d output
// of the un-augmented views, normalised by --mean/--std, BatchNorm in
// evaluation mode, computed once for both splits; standardised with the
// subset's per-dimension mean and (unbiased) std; a Linear(dim, classes)
// trained with Adam (--linear-lr, L2 --linear-wd added to the gradient) for
// --passes passes over the subset in shuffled batches of --linear-batch.
//
// Fine-tuning (--mode finetune, and --baseline supervised): encoder + Linear
// trained together for --steps steps of --ft-batch views drawn with
// replacement from the subset (pipeline kind supervised: RandomResizedCrop
// (size, --crop-scale) + horizontal flip, normalised), Adam --ft-lr with L2
// --ft-wd, cosine schedule to 0 over the steps; the test split is then
// evaluated on un-augmented views with BatchNorm in evaluation mode.
//
// Output in --out: results.json (every run's numbers, and per cell the mean
// and sample std over seeds) and table.md (method × label fraction, top-1
// and top-5). Rows of other methods already in results.json are kept, and a
// method run again replaces the cells (label fractions) it ran, so the table
// can be built by several invocations (--method names the row; they may
// run at the same time: the read-merge-write takes turns through
// results.lock). When the method ran the same way before (encoder, splits,
// settings) a cell keeps the runs of the seeds not run again, so further
// subset seeds can be added later. --merge FILE,... merges results.json
// files written elsewhere (say, seeds run on another machine) into --out by
// the same rules, without evaluating anything. The output directory is
// checked before any work.
//
// --workers sets the pipeline's workers and --threads the trainer's
// matrix-kernel goroutines; neither changes a number.
//
// Progress goes to stderr (--quiet turns it off). Exit status: 0 on
// success, 1 on failure, 2 on a usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/evalkit"
	"github.com/pairflow/pairflow/tools/internal/progress"
	"github.com/pairflow/pairflow/trainer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("lineval", usage, stderr)
	return fs.Exit(lineval(ctx, fs, args, stdout, stderr))
}

// options are the parsed and checked flags.
type options struct {
	train, test, encoder, baseline, mode, out, method, model string
	channels, size, classes                                  int
	mean, std                                                []float64
	fractions                                                []float64
	seeds                                                    []uint64
	initSeed                                                 uint64
	workers, threads, featBatch                              int
	linLR, linWD                                             float64
	passes, linBatch                                         int
	ftLR, ftWD                                               float64
	steps, ftBatch                                           int
	cropScale                                                []float64
	quiet                                                    bool
	merge                                                    []string           // results.json files to merge into out
	open                                                     shards.OpenOptions // for remote splits
}

const usage = "usage: lineval (--encoder CKPT | --baseline random|supervised) --train DIR --test DIR --out DIR [flags]\n\n" +
	"Linear probe or fine-tuning on class-balanced label subsets; writes table.md and results.json.\n\n"

func parseFlags(fs *cli.FlagSet, args []string) (*options, error) {
	o := &options{}
	var fractions, seeds, mean, std, cropScale, merge string
	var remote cli.Remote
	remote.Register(fs.FlagSet)
	fs.StringVar(&o.train, "train", "", "labelled train split: shard directory, or s3://... / https://... (required)")
	fs.StringVar(&o.test, "test", "", "labelled test split: shard directory, or s3://... / https://... (required)")
	fs.StringVar(&o.encoder, "encoder", "", "pretrained checkpoint (safetensors); or give --baseline")
	fs.StringVar(&o.baseline, "baseline", "", "instead of --encoder: random (random-init encoder + linear) or supervised (from scratch, fine-tune recipe)")
	fs.StringVar(&o.mode, "mode", "", "linear or finetune (default: linear; finetune for --baseline supervised)")
	fs.StringVar(&o.out, "out", "", "output directory for table.md and results.json (required)")
	fs.StringVar(&o.method, "method", "", "row name in the table (default from the encoder and mode)")
	fs.StringVar(&o.model, "model", "", "encoder model of the baselines: smallcnn (default) or resnet18; with --encoder, overrides the checkpoint's")
	fs.IntVar(&o.channels, "channels", 0, "input channels (0: the checkpoint's, or the dataset's for the baselines)")
	fs.IntVar(&o.size, "size", 0, "view side (0: the first train record's width)")
	fs.IntVar(&o.classes, "classes", 0, "classes (0: the train manifest's class names, else the largest label + 1)")
	fs.StringVar(&mean, "mean", "0.2860", "normalisation mean per channel (one value: every channel)")
	fs.StringVar(&std, "std", "0.3530", "normalisation std per channel (one value: every channel)")
	fs.StringVar(&fractions, "fractions", "0.01,0.1,1", "label fractions, comma-separated, each in (0, 1]")
	fs.StringVar(&seeds, "seeds", "1,2,3,4,5", "label-subset seeds, comma-separated (fraction 1 uses the first; the recipe uses five)")
	fs.Uint64Var(&o.initSeed, "init-seed", 0, "initialisation seed of the baselines' encoder")
	fs.IntVar(&o.workers, "workers", 0, "pipeline workers (0: GOMAXPROCS)")
	fs.IntVar(&o.threads, "threads", 0, "trainer matrix-kernel threads (0: the trainer's default)")
	fs.IntVar(&o.featBatch, "feature-batch", 512, "batch size of feature extraction and evaluation")
	fs.Float64Var(&o.linLR, "linear-lr", 1e-2, "linear probe: Adam learning rate")
	fs.Float64Var(&o.linWD, "linear-wd", 1e-4, "linear probe: L2 weight decay added to the gradient")
	fs.IntVar(&o.passes, "passes", 300, "linear probe: passes over the subset")
	fs.IntVar(&o.linBatch, "linear-batch", 4096, "linear probe: batch size")
	fs.Float64Var(&o.ftLR, "ft-lr", 1e-3, "fine-tuning: Adam learning rate (cosine schedule to 0)")
	fs.Float64Var(&o.ftWD, "ft-wd", 1e-4, "fine-tuning: L2 weight decay added to the gradient")
	fs.IntVar(&o.steps, "steps", 2500, "fine-tuning: steps")
	fs.IntVar(&o.ftBatch, "ft-batch", 256, "fine-tuning: batch size (draws with replacement)")
	fs.StringVar(&cropScale, "crop-scale", "0.5,1", "fine-tuning: RandomResizedCrop scale range")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress on stderr")
	fs.StringVar(&merge, "merge", "", "instead of evaluating: merge these results.json files (comma-separated) into --out's and rewrite its table.md")
	if err := fs.Parse(args, 0); err != nil {
		return nil, err
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{cli.ErrUsage}, a...)...)
	}
	if merge != "" {
		var other []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "merge" && f.Name != "out" && f.Name != "quiet" {
				other = append(other, "--"+f.Name)
			}
		})
		switch {
		case o.out == "":
			return nil, bad("--merge needs --out")
		case len(other) > 0:
			return nil, bad("--merge takes only --out (and --quiet), not %s", strings.Join(other, ", "))
		}
		for f := range strings.SplitSeq(merge, ",") {
			if f = strings.TrimSpace(f); f == "" {
				return nil, bad("--merge %q has an empty file name", merge)
			}
			o.merge = append(o.merge, f)
		}
		return o, nil
	}
	if o.train == "" || o.test == "" || o.out == "" {
		return nil, bad("--train, --test and --out are required")
	}
	switch {
	case o.encoder != "" && o.baseline != "":
		return nil, bad("give --encoder or --baseline, not both")
	case o.encoder == "" && o.baseline == "":
		return nil, bad("give --encoder CKPT or --baseline random|supervised")
	}
	switch o.baseline {
	case "", "random", "supervised":
	default:
		return nil, bad("--baseline %q (want random or supervised)", o.baseline)
	}
	switch {
	case o.mode == "" && o.baseline == "supervised":
		o.mode = "finetune"
	case o.mode == "":
		o.mode = "linear"
	case o.mode != "linear" && o.mode != "finetune":
		return nil, bad("--mode %q (want linear or finetune)", o.mode)
	case o.baseline == "random" && o.mode != "linear":
		return nil, bad("--baseline random is a linear probe (use --baseline supervised to train from scratch)")
	case o.baseline == "supervised" && o.mode != "finetune":
		return nil, bad("--baseline supervised trains the whole network (--mode finetune)")
	}
	switch o.model {
	case "", "smallcnn", "resnet18":
	default:
		return nil, bad("--model %q (want smallcnn or resnet18)", o.model)
	}
	var err error
	if o.open, err = remote.OpenOptions(); err != nil {
		return nil, err
	}
	if o.fractions, err = parseFloats(fractions); err != nil || len(o.fractions) == 0 {
		return nil, bad("--fractions %q: want comma-separated numbers in (0, 1]", fractions)
	}
	for _, f := range o.fractions {
		if !(f > 0 && f <= 1) {
			return nil, bad("--fractions: %v is not in (0, 1]", f)
		}
	}
	if hasDup(o.fractions) {
		return nil, bad("--fractions %q repeats a value", fractions)
	}
	if o.seeds, err = parseSeeds(seeds); err != nil || len(o.seeds) == 0 {
		return nil, bad("--seeds %q: want comma-separated non-negative integers", seeds)
	}
	if hasDup(o.seeds) {
		return nil, bad("--seeds %q repeats a value", seeds)
	}
	if o.mean, err = parseFloats(mean); err != nil || len(o.mean) == 0 {
		return nil, bad("--mean %q: want comma-separated numbers", mean)
	}
	if o.std, err = parseFloats(std); err != nil || len(o.std) == 0 {
		return nil, bad("--std %q: want comma-separated numbers", std)
	}
	for _, s := range o.std {
		if !(s > 0) {
			return nil, bad("--std %v: must be positive", s)
		}
	}
	if o.cropScale, err = parseFloats(cropScale); err != nil || len(o.cropScale) != 2 ||
		!(o.cropScale[0] > 0 && o.cropScale[0] <= o.cropScale[1] && o.cropScale[1] <= 1) {
		return nil, bad("--crop-scale %q: want lo,hi with 0 < lo ≤ hi ≤ 1", cropScale)
	}
	for _, c := range []struct {
		name string
		v    int
		min  int
	}{{"channels", o.channels, 0}, {"size", o.size, 0}, {"classes", o.classes, 0}, {"workers", o.workers, 0},
		{"threads", o.threads, 0}, {"feature-batch", o.featBatch, 1}, {"passes", o.passes, 1},
		{"linear-batch", o.linBatch, 1}, {"steps", o.steps, 1}, {"ft-batch", o.ftBatch, 2}} {
		if c.v < c.min {
			return nil, bad("--%s %d: must be at least %d", c.name, c.v, c.min)
		}
	}
	if o.classes == 1 {
		return nil, bad("--classes 1: need at least 2")
	}
	if o.channels > 4 {
		return nil, bad("--channels %d: at most 4", o.channels)
	}
	for _, c := range []struct {
		name string
		v    float64
	}{{"linear-lr", o.linLR}, {"linear-wd", o.linWD}, {"ft-lr", o.ftLR}, {"ft-wd", o.ftWD}} {
		if !(c.v >= 0) || c.v > 1e6 {
			return nil, bad("--%s %v: must be a non-negative number", c.name, c.v)
		}
	}
	if o.method == "" {
		o.method = defaultMethod(o)
	}
	return o, nil
}

func defaultMethod(o *options) string {
	switch o.baseline {
	case "random":
		return "random-init encoder + linear"
	case "supervised":
		return "supervised from scratch"
	}
	name := strings.TrimSuffix(filepath.Base(o.encoder), filepath.Ext(o.encoder))
	if o.mode == "linear" {
		return name + " + linear"
	}
	return name + " + fine-tune"
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func parseSeeds(s string) ([]uint64, error) {
	var out []uint64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(f), 10, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func hasDup[T comparable](v []T) bool {
	seen := map[T]bool{}
	for _, x := range v {
		if seen[x] {
			return true
		}
		seen[x] = true
	}
	return false
}

// perChannel brings a one-value mean/std to every channel.
func perChannel(v []float64, channels int, name string) ([]float64, error) {
	switch len(v) {
	case channels:
		return v, nil
	case 1:
		out := make([]float64, channels)
		for i := range out {
			out[i] = v[0]
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: --%s has %d values for %d channels", cli.ErrUsage, name, len(v), channels)
}

// setup is what every run of one invocation shares.
type setup struct {
	o             *options
	train, test   *shards.Dataset
	trainLabels   []int32
	testLabels    []int32
	classes       int
	channels      int
	size          int
	mean, std     []float64
	evalRecipe    string
	model         string
	meta          evalkit.Meta              // the checkpoint's (encoder runs)
	enc0          *trainer.Encoder[float32] // the checkpoint's encoder, loaded by fill
	progress      *reporter
	encoderSource string
}

func lineval(ctx context.Context, fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(o.merge) > 0 {
		res, err := mergeFiles(o.out, o.merge)
		if err != nil {
			return err
		}
		_, err = io.WriteString(stdout, renderTable(res))
		return err
	}
	// Fail before any work on an output directory we cannot merge into.
	if _, err := readResults(o.out); err != nil {
		return err
	}
	start := time.Now()
	s := &setup{o: o, progress: &reporter{w: stderr, quiet: o.quiet, tty: progress.ForFile(stderr), start: start}}
	defer s.progress.end()
	if o.threads > 0 {
		defer trainer.SetThreads(trainer.SetThreads(o.threads))
	}
	if s.train, err = openSplit(o.train, o.open); err != nil {
		return err
	}
	defer s.train.Close()
	if s.test, err = openSplit(o.test, o.open); err != nil {
		return err
	}
	defer s.test.Close()
	if err := s.fill(); err != nil {
		return err
	}
	s.progress.printf("%s: %s, train %d records (%d classes), test %d, %d×%d×%d views",
		o.method, s.encoderSource, s.train.Len(), s.classes, s.test.Len(), s.size, s.size, s.channels)

	var m *Method
	if o.mode == "linear" {
		m, err = s.runLinear(ctx)
	} else {
		m, err = s.runFinetune(ctx)
	}
	if err != nil {
		return err
	}
	res, err := writeResults(o.out, m, s.test.Len())
	if err != nil {
		return err
	}
	s.progress.printf("done in %.1fs; wrote %s and %s", time.Since(start).Seconds(),
		filepath.Join(o.out, resultsName), filepath.Join(o.out, tableName))
	_, err = io.WriteString(stdout, renderTable(res))
	return err
}

func openSplit(dir string, oo shards.OpenOptions) (*shards.Dataset, error) {
	ds, err := shards.Open(dir, oo)
	if err != nil {
		return nil, fmt.Errorf("opening split %s: %w", dir, err)
	}
	if ds.Len() == 0 {
		ds.Close()
		return nil, fmt.Errorf("split %s has no records", dir)
	}
	return ds, nil
}

// fill reads labels and settles channels, size, classes and the eval view.
func (s *setup) fill() error {
	o := s.o
	var err error
	if s.trainLabels, err = readLabels(s.train, o.train); err != nil {
		return err
	}
	if s.testLabels, err = readLabels(s.test, o.test); err != nil {
		return err
	}
	var rec shards.Record
	if err := s.train.Record(0, &rec); err != nil {
		return fmt.Errorf("split %s: %w", o.train, err)
	}
	s.size, s.channels, s.model = o.size, o.channels, o.model
	if s.size == 0 {
		s.size = rec.Width
	}
	if s.size <= 0 {
		return fmt.Errorf("split %s: the first record's width is unknown: give --size", o.train)
	}
	if o.encoder != "" {
		// Read the checkpoint once now, so that a bad file fails before any
		// work; runs load their own copy.
		enc, meta, err := evalkit.LoadEncoderAs(o.encoder, o.model, o.channels)
		if err != nil {
			return err
		}
		s.enc0 = enc
		s.meta, s.model, s.channels = meta, meta.Model, meta.Channels
		s.encoderSource = "encoder " + o.encoder
		if meta.Objective != "" {
			s.encoderSource += " (" + meta.Objective + ")"
		}
	} else {
		if s.model == "" {
			s.model = "smallcnn"
		}
		if s.channels == 0 {
			s.channels = rec.Channels
		}
		s.encoderSource = fmt.Sprintf("random-init %s (init seed %d)", s.model, o.initSeed)
	}
	if s.channels != 1 && s.channels != 3 {
		return fmt.Errorf("%w: %d input channels (give --channels 1 or 3)", cli.ErrUsage, s.channels)
	}
	if s.mean, err = perChannel(o.mean, s.channels, "mean"); err != nil {
		return err
	}
	if s.std, err = perChannel(o.std, s.channels, "std"); err != nil {
		return err
	}
	s.evalRecipe = evalkit.EvalRecipe(s.size, s.channels, s.mean, s.std)
	s.classes = o.classes
	if s.classes == 0 {
		s.classes = len(s.train.Manifest().Classes)
	}
	maxLabel := int32(-1)
	for _, l := range slices.Concat(s.trainLabels, s.testLabels) {
		maxLabel = max(maxLabel, l)
	}
	if s.classes == 0 {
		s.classes = int(maxLabel) + 1
	}
	if s.classes < 2 {
		return fmt.Errorf("split %s: %d classes among its labels: need at least 2", o.train, s.classes)
	}
	if int(maxLabel) >= s.classes {
		return fmt.Errorf("label %d found, but only %d classes (check --classes)", maxLabel, s.classes)
	}
	if !slices.ContainsFunc(s.testLabels, func(l int32) bool { return l >= 0 }) {
		return fmt.Errorf("split %s has no labelled records", o.test)
	}
	return nil
}

// newEncoder returns a fresh encoder for one run: the checkpoint's, or a
// random one from --init-seed.
func (s *setup) newEncoder() (*trainer.Encoder[float32], error) {
	if s.o.encoder != "" {
		enc, _, err := evalkit.LoadEncoderAs(s.o.encoder, s.o.model, s.o.channels)
		return enc, err
	}
	return trainer.NewEncoder(s.model, evalkit.Prefix, s.channels, trainer.NewRNG(s.o.initSeed))
}

// readLabels reads every record's label (-1 when it has none), as the
// pipeline's supervised kind does.
func readLabels(ds *shards.Dataset, dir string) ([]int32, error) {
	labels := make([]int32, 0, ds.Len())
	it := ds.Iter()
	var rec shards.Record
	for it.Next(&rec) {
		if rec.HasLabel {
			labels = append(labels, rec.Label)
		} else {
			labels = append(labels, -1)
		}
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("split %s: reading labels: %w", dir, err)
	}
	return labels, nil
}

// runSeeds is the seeds a fraction runs with: one for the whole set.
func (s *setup) runSeeds(f float64) []uint64 {
	if f == 1 {
		return s.o.seeds[:1]
	}
	return s.o.seeds
}

// reporter prints lineval's progress on stderr: on a terminal, the progress
// bar of tools/internal/progress (rate, ETA) for the phase under way, with
// the other lines printed above it; otherwise timestamped lines, the step
// lines throttled.
type reporter struct {
	w           io.Writer
	quiet, tty  bool
	start, last time.Time
	meter       *progress.Meter // the bar of the phase under way, on a terminal
	phase       string
}

func (p *reporter) printf(format string, a ...any) {
	if p.quiet {
		return
	}
	line := fmt.Sprintf("lineval [%7.1fs] %s", time.Since(p.start).Seconds(), fmt.Sprintf(format, a...))
	if p.meter != nil {
		p.meter.Warn("%s", line)
		return
	}
	fmt.Fprintln(p.w, line)
}

// step reports that step i (from 0) of the n of phase is done; unit names a
// step ("step", "pass") and status returns what to show with it.
func (p *reporter) step(phase, unit string, i, n int, status func() string) {
	if p.quiet {
		return
	}
	if !p.tty {
		if p.every(i, n) {
			p.printf("%s: %s %d/%d %s", phase, unit, i+1, n, status())
		}
		return
	}
	if p.meter == nil || p.phase != phase {
		p.end()
		units := unit + "s"
		if strings.HasSuffix(unit, "s") {
			units = unit + "es"
		}
		p.meter = progress.New(p.w, progress.Options{Name: "lineval", Unit: units, Total: int64(n), TTY: true})
		p.meter.Start()
		p.phase = phase
	}
	p.meter.AddN(1)
	p.meter.SetStatus(phase + "  " + status())
	if i == n-1 {
		p.end()
	}
}

// end removes the bar of the phase under way, if any.
func (p *reporter) end() {
	if p.meter != nil {
		p.meter.Stop()
		p.meter = nil
	}
}

// every reports whether a throttled progress line is due (at most one per
// 5 s, plus the first and last steps).
func (p *reporter) every(i, n int) bool {
	now := time.Now()
	if i == 0 || i == n-1 || now.Sub(p.last) >= 5*time.Second {
		p.last = now
		return !p.quiet
	}
	return false
}
