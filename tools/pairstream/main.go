// Command pairstream writes a pairflow pipeline's batches of paired views as
// an Arrow IPC stream (arrowpair/SCHEMA.md), for any Arrow reader (pyarrow,
// arrow-js, arrowpair.ReadIPC).
//
//	pairstream --data DIR --kind contrastive --batch 256 --batches 100 --seed 1 --workers 2 --out pairs.arrows
//
// Kinds: contrastive, inpainting, relative-patch, rotation, supervised, eval.
// --recipe is a preset name (torchvision-a, simclr-small, simclr-imagenet,
// fmnist-simclr-v1, inpainting-fmnist), a recipe given inline as JSON
// (starting with "{") or a recipe JSON file; repeat it for one recipe per
// view (contrastive). Without --recipe, contrastive, rotation,
// supervised and inpainting use torchvision-a, relative-patch resizes each
// patch to --size with colour jitter, and eval resizes and centre-crops to
// --size. --config FILE reads a pipeline.Config JSON; flags given on the
// command line override its fields.
//
// --order shards reads shards in a shuffled order and shuffles records within
// --window records, for datasets faster to read in file order.
//
// --batches K stops after K batches (0: at the end of the run, which
// --epochs sets; eval is always one pass). --state-in resumes from a
// checkpoint written by --state-out. Progress goes to stderr once a second
// (--quiet turns it off) and ends with the per-stage statistics.
//
// Exit status: 0 on success, 1 on failure, 2 on a usage error.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"os/signal"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/internal/inputfile"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/tools/internal/cli"
	"github.com/pairflow/pairflow/tools/internal/procstat"
	"github.com/pairflow/pairflow/tools/internal/progress"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("pairstream", "usage: pairstream --data DIR --out FILE|- [flags]\n\nWrites a pairflow pipeline's batches as an Arrow IPC stream.\n\n", stderr)
	return fs.Exit(stream(ctx, fs, args, stdout, stderr))
}

func stream(ctx context.Context, fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var remote cli.Remote
	remote.Register(fs.FlagSet)
	var (
		data     = fs.String("data", "", "shard directory, or s3://... / https://... (required)")
		outPath  = fs.String("out", "", "output file, - for stdout (required)")
		confPath = fs.String("config", "", "pipeline Config JSON file")
		kind     = fs.String("kind", "contrastive", "pair kind: contrastive|inpainting|relative-patch|rotation|supervised|eval")
		batch    = fs.Int("batch", 256, "rows per batch")
		batches  = fs.Int64("batches", 0, "stop after this many batches (0: end of the run)")
		epochs   = fs.Int64("epochs", 1, "epochs to run (0: no end; needs --batches)")
		epoch    = fs.Int64("epoch", 0, "first epoch")
		seed     = fs.Uint64("seed", 0, "seed")
		workers  = fs.Int("workers", 0, "augmentation workers (0: GOMAXPROCS)")
		prefetch = fs.Int("prefetch", 0, "finished batches buffered ahead of the writer (0: 2)")
		views    = fs.Int("views", 0, "contrastive: views per sample (0: 2)")
		size     = fs.Int("size", 32, "view side of the default relative-patch and eval recipes")
		rank     = fs.Int("rank", 0, "this rank")
		world    = fs.Int("world-size", 1, "number of ranks")
		order    = fs.String("order", "", "shuffle (default) or shards (shard order shuffled, then windows)")
		window   = fs.Int64("window", 0, "order shards: shuffle window in records (0: 4096)")
		dropLast = fs.Bool("drop-last", false, "drop the last partial batch of an epoch instead of wrapping")
		skip     = fs.Int64("skip", 0, "skip up to this many bad records (0 with --skip-fraction 0: fail on the first)")
		skipFrac = fs.Float64("skip-fraction", 0, "skip up to this fraction of each epoch's records")
		maskMode = fs.String("mask", "", "inpainting mask: center|blocks|patches")
		maskRat  = fs.Float64("mask-ratio", 0, "inpainting: fraction of pixels masked (0: 0.25)")
		labelFr  = fs.Float64("label-fraction", 0, "supervised: class-balanced labelled fraction (0: all)")
		stateIn  = fs.String("state-in", "", "resume from this checkpoint")
		stateOut = fs.String("state-out", "", "write the checkpoint after the last batch here")
		quiet    = fs.Bool("quiet", false, "no progress on stderr")
	)
	recipes := fs.Strings("recipe", "preset name, inline recipe JSON or recipe JSON file (repeat for one per view)")
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	if *data == "" || *outPath == "" {
		return fmt.Errorf("%w: --data and --out are required", cli.ErrUsage)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var cfg pipeline.Config
	if *confPath != "" {
		b, err := inputfile.ReadFile(*confPath, inputfile.MaxJSONBytes)
		if err != nil {
			return err
		}
		if cfg, err = pipeline.ParseConfig(b); err != nil {
			return fmt.Errorf("%s: %w", *confPath, err)
		}
	}
	over := func(name string, apply func()) {
		if *confPath == "" || set[name] {
			apply()
		}
	}
	over("kind", func() { cfg.Kind = arrowpair.Kind(*kind) })
	over("batch", func() { cfg.BatchSize = *batch })
	over("epochs", func() { cfg.Epochs = *epochs })
	over("epoch", func() { cfg.Epoch = *epoch })
	over("seed", func() { cfg.Seed = *seed })
	over("workers", func() { cfg.Workers = *workers })
	over("prefetch", func() { cfg.Prefetch = *prefetch })
	over("views", func() { cfg.Views = *views })
	over("rank", func() { cfg.Rank = *rank })
	over("world-size", func() { cfg.WorldSize = *world })
	over("drop-last", func() { cfg.DropLast = *dropLast })
	over("order", func() { cfg.Order = *order })
	over("window", func() { cfg.Window = *window })
	over("mask", func() { cfg.Mask.Mode = *maskMode })
	over("mask-ratio", func() { cfg.Mask.Ratio = *maskRat })
	over("label-fraction", func() { cfg.LabelFraction = *labelFr })
	if set["skip"] || set["skip-fraction"] {
		cfg.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: *skip, MaxFraction: *skipFrac}
		if *skip == 0 && *skipFrac == 0 {
			cfg.Skip = pipeline.SkipPolicy{}
		}
	}
	if cfg.Kind == arrowpair.Eval {
		cfg.Epochs = 0
	}
	if len(*recipes) > 0 {
		cfg.Recipe = nil
		for _, r := range *recipes {
			s, _, err := cli.Recipe(r)
			if err != nil {
				return err
			}
			cfg.Recipe = append(cfg.Recipe, s)
		}
	} else if len(cfg.Recipe) == 0 {
		switch cfg.Kind {
		case arrowpair.RelativePatch:
			cfg.Recipe = pipeline.Recipes{pipeline.PatchRecipe(*size, 3, true)}
		case arrowpair.Eval:
			cfg.Recipe = pipeline.Recipes{pipeline.EvalRecipe(*size, 3)}
		default:
			cfg.Recipe = pipeline.Recipes{"torchvision-a"}
		}
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	if cfg.Epochs == 0 && cfg.Kind != arrowpair.Eval && *batches == 0 {
		return fmt.Errorf("%w: --epochs 0 runs without end: give --batches", cli.ErrUsage)
	}
	if *batches < 0 {
		return fmt.Errorf("%w: --batches %d", cli.ErrUsage, *batches)
	}

	oo, err := remote.OpenOptions()
	if err != nil {
		return err
	}
	ds, err := shards.Open(*data, oo)
	if err != nil {
		return err
	}
	defer ds.Close()
	var p *pipeline.Pipeline
	if *stateIn != "" {
		b, err := inputfile.ReadFile(*stateIn, inputfile.MaxJSONBytes)
		if err != nil {
			return err
		}
		st, err := pipeline.DecodeState(b)
		if err != nil {
			return fmt.Errorf("%s: %w", *stateIn, err)
		}
		p, err = pipeline.Resume(ds, cfg, st)
		if err != nil {
			return err
		}
	} else if p, err = pipeline.New(ds, cfg); err != nil {
		return err
	}
	defer p.Close()

	var w io.Writer = stdout
	var out *outFile
	if *outPath != "-" {
		if out, err = createOut(*outPath); err != nil {
			return err
		}
		defer out.abort()
		w = out.w
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	start := time.Now()
	total := *batches
	if total == 0 {
		total = -1
	}
	meter := progress.New(stderr, progress.Options{Name: "pairstream", Unit: "batches", Total: total, TTY: progress.ForFile(stderr)})
	if *quiet {
		meter = progress.New(io.Discard, progress.Options{Total: -1, Interval: time.Hour})
	}
	meter.Start()
	prog := &counter{meter: meter, start: start}
	n, err := arrowpair.WriteIPC(bw, p.Schema(), prog.take(p.Batches(ctx), *batches))
	if err == nil {
		err = bw.Flush()
	}
	meter.Stop()
	if err == nil && out != nil {
		err = out.commit()
	}
	if err != nil {
		return err
	}
	if *stateOut != "" {
		b, err := p.State().Encode()
		if err == nil {
			err = atomicfile.WriteFile(*stateOut, b, 0o644)
		}
		if err != nil {
			return fmt.Errorf("writing state: %w", err)
		}
	}
	if !*quiet {
		el := time.Since(start)
		fmt.Fprintf(stderr, "pairstream: %d batches, %d rows of %s in %.2fs (%.0f source images/s)\n",
			n, prog.rows, cfg.Kind, el.Seconds(), float64(prog.rows)/el.Seconds())
		printStats(stderr, p)
	}
	return nil
}

// counter passes batches on to the writer, counting them on the meter.
type counter struct {
	meter *progress.Meter
	start time.Time
	rows  int64
}

// take passes on at most k batches (all if k == 0).
func (pr *counter) take(seq iter.Seq2[arrow.RecordBatch, error], k int64) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		var n int64
		for rec, err := range seq {
			if err == nil {
				n++
				pr.rows += rec.NumRows()
				pr.meter.AddN(1)
				pr.meter.SetStatus(fmt.Sprintf("%.0f images/s", float64(pr.rows)/time.Since(pr.start).Seconds()))
			}
			if !yield(rec, err) || err != nil || (k > 0 && n >= k) {
				return
			}
		}
	}
}

func printStats(w io.Writer, p *pipeline.Pipeline) {
	s := p.Stats()
	for _, st := range s.Stages {
		fmt.Fprintf(w, "  %-8s %3d goroutines %10.0f items/s  busy %5.1f%%  blocked in %8s out %8s\n",
			st.Name, st.Goroutines, st.ItemsPerSec, 100*st.BusyFraction,
			st.BlockedIn.Round(time.Millisecond), st.BlockedOut.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "  first batch after %s; in flight max %d of %d slots; batch queue max %d of %d; %d records skipped\n",
		s.FirstBatch.Round(time.Millisecond), s.MaxInFlight, s.RingSlots, s.MaxOutQueue, s.Prefetch, s.Skipped)
	if kb := procstat.PeakRSSKB(); kb > 0 {
		fmt.Fprintf(w, "  peak resident memory (VmHWM): %d kB\n", kb)
	}
	if skips, _ := p.Skips(); len(skips) > 0 {
		for i, sk := range skips {
			if i == 20 {
				fmt.Fprintf(w, "  … %d more skips\n", len(skips)-20)
				break
			}
			fmt.Fprintf(w, "  skipped: epoch %d position %d: %s record %d (%s): %s\n", sk.Epoch, sk.Position, sk.Shard, sk.Record, sk.Key, sk.Reason)
		}
	}
}
