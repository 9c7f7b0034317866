// Command pretrain trains an encoder with a self-supervised objective on a
// pairflow shard dataset: the pipeline (read, decode, augment, pair) feeds
// the trainer in one process.
//
// Usage:
//
//	go run ./tools/pretrain                      # the demonstration (embedded data, about a minute)
//	go run ./tools/pretrain --data data/fashion-mnist --out runs/simclr   # FMNIST-SimCLR v1
//	go run ./tools/pretrain --data data/fashion-mnist --objective inpainting --out runs/inpaint
//	go run ./tools/pretrain --out runs/simclr --resume                     # continue a run
//
// Each epoch writes a checkpoint (safetensors: weights, optimiser state, step,
// the run's configuration and the pipeline's state; --checkpoint-every N
// steps adds checkpoints inside epochs, --keep-checkpoints K keeps the
// newest K) and a row of metrics.csv, each written to a temporary file,
// fsynced and renamed, so a crash leaves every output whole; every --knn-every epochs, when a labelled test split is
// there, the kNN monitor (k=200, cosine, temperature 0.1) measures the
// encoder on it; at the end curves.png plots loss and kNN accuracy.
// --resume continues from the newest checkpoint that verifies (checksum,
// and its position against its pipeline state), on the exact next batch,
// bit-identically (same CPU tier and thread count); see docs/reliability.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pairflow/pairflow/store"
	"github.com/pairflow/pairflow/tools/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `Usage: pretrain [flags]

Trains an encoder with a self-supervised objective on pairflow shards, the
pipeline feeding the trainer in one process. Without arguments it runs a short
demonstration on 2,000 Fashion-MNIST images embedded in the binary and compares
the encoder's kNN accuracy with a randomly initialised one.

The defaults are the FMNIST-SimCLR v1 recipe (smallcnn, batch 512, SGD momentum
0.9, lr 0.24, weight decay 5e-4, cosine over 50 epochs, NT-Xent tau 0.5);
--objective inpainting switches to the inpainting recipe (views without jitter,
one random 14×14 square masked, Adam lr 1e-3, no weight decay).

Flags:
`

// run is the command; it returns the exit code (cli.ExitCode: 2 for a usage
// error, 1 for a failure).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.NewFlagSet("pretrain", usage, stderr)
	return fs.Exit(command(ctx, fs, args, stdout, stderr))
}

func command(ctx context.Context, fs *cli.FlagSet, args []string, stdout, stderr io.Writer) error {
	var remote cli.Remote
	remote.Register(fs.FlagSet)
	var (
		data      = fs.String("data", "", "dataset root holding the train/ and test/ splits: a directory, or s3://... / https://... (or give --train and --test)")
		trainDir  = fs.String("train", "", "training split: a shard directory or URL (default DATA/train)")
		testDir   = fs.String("test", "", "labelled test split for the kNN monitor: a shard directory or URL (default DATA/test when it exists)")
		out       = fs.String("out", "", "output directory: checkpoints/, metrics.csv, curves.png (required, except for the demo)")
		resume    = fs.Bool("resume", false, "continue the run in --out from its last checkpoint")
		demo      = fs.Bool("demo", false, "run the demonstration on the embedded data (what no arguments do)")
		objective = fs.String("objective", ObjSimCLR, "simclr, inpainting, relative-patch or rotation")
		model     = fs.String("model", "smallcnn", "encoder: smallcnn or resnet18")
		recipe    = fs.String("recipe", "", "augmentation: a preset name, inline recipe JSON or a recipe JSON file (default fmnist-simclr-v1; inpainting-fmnist for inpainting)")
		epochs    = fs.Int("epochs", 50, "epochs")
		batch     = fs.Int("batch", 512, "source images per step")
		lr        = fs.Float64("lr", 0, "peak learning rate (default 0.24 for sgd, 1e-3 for adam)")
		sched     = fs.String("schedule", "cosine", "learning-rate schedule per step: cosine (to 0) or constant")
		warmup    = fs.Int("warmup-epochs", 0, "linear warm-up epochs before the cosine")
		optName   = fs.String("optimizer", "", "sgd, nesterov, adam, adamw or lars (default sgd; adam for inpainting)")
		momentum  = fs.Float64("momentum", 0.9, "momentum of sgd and lars")
		wd        = fs.Float64("wd", -1, "weight decay (default 5e-4; 0 for inpainting)")
		noDecay   = fs.Bool("no-decay-bn-bias", false, "no weight decay on BatchNorm parameters and biases")
		tau       = fs.Float64("tau", 0.5, "NT-Xent temperature")
		maskSide  = fs.Int("mask-side", 14, "inpainting: side of the masked square")
		seed      = fs.Uint64("seed", 1, "seed of the initial weights, the order and every augmentation")
		workers   = fs.Int("workers", max(1, runtime.NumCPU()/4), "pipeline augmentation workers")
		threads   = fs.Int("threads", runtime.NumCPU(), "trainer threads")
		knnEvery  = fs.Int("knn-every", 5, "epochs between kNN monitors on the test split (0: never)")
		knnK      = fs.Int("knn-k", 200, "neighbours of the kNN monitor")
		knnTemp   = fs.Float64("knn-temp", 0.1, "temperature of the kNN monitor's vote weights")
		logEvery  = fs.Duration("log-every", 10*time.Second, "interval between progress lines (0: only per epoch)")
		noPlot    = fs.Bool("no-plot", false, "do not write curves.png")
		maxEpochs = fs.Int("stop-after", 0, "stop after this many epochs in this process (checkpoint kept; --resume continues)")
		maxSteps  = fs.Int64("stop-after-steps", 0, "stop after this many steps in this process (--resume continues from the last checkpoint)")
		ckptEvery = fs.Int("checkpoint-every", 0, "also checkpoint every this many steps inside epochs (0: at epochs' ends only); --resume continues on the exact next batch")
		keep      = fs.Int("keep-checkpoints", 0, "keep only the newest K checkpoints (0: all); --resume falls back to an older one when the newest does not verify")
		skipBud   = fs.Int64("skip-budget", 0, "bad records (checksum mismatch, undecodable image) the run may skip, each replaced by another record, over all its epochs (0: the first stops the run)")
	)
	if err := fs.Parse(args, 0); err != nil {
		return err
	}
	explicit := map[string]string{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = f.Value.String() })

	if len(args) == 0 || *demo {
		return runDemo(ctx, *out, *threads, *workers, stdout, stderr)
	}

	cfg := runConfig{
		Objective: *objective, Model: *model, Recipe: *recipe, Epochs: *epochs, Batch: *batch, LR: *lr,
		Schedule: *sched, WarmupEpochs: *warmup, Optimizer: *optName, Momentum: *momentum, WeightDecay: *wd,
		NoDecayBNBias: *noDecay, Tau: *tau, MaskSide: *maskSide, Seed: *seed,
	}
	if err := objectiveDefaults(&cfg); err != nil {
		return err
	}
	o := options{Out: *out, Resume: *resume, Workers: *workers, Threads: *threads, KNNEvery: *knnEvery,
		KNNK: *knnK, KNNTemp: *knnTemp, LogEvery: *logEvery, Plot: !*noPlot, Stderr: stderr, MaxEpochs: *maxEpochs,
		MaxSteps: *maxSteps, CheckpointEvery: *ckptEvery, KeepCheckpoints: *keep, SkipBudget: *skipBud}
	if err := locateData(&o, *data, *trainDir, *testDir); err != nil {
		return fmt.Errorf("%w: %w", cli.ErrUsage, err)
	}
	var err error
	if o.Open, err = remote.OpenOptions(); err != nil {
		return err
	}
	if err := validate(&cfg, &o); err != nil {
		return fmt.Errorf("%w: %w", cli.ErrUsage, err)
	}
	res, err := pretrain(ctx, cfg, o, explicit)
	if err != nil {
		return err
	}
	report(stdout, res, &o)
	return nil
}

// objectiveDefaults fills what the flags left to the objective, and reads
// --recipe (cli.Recipe: a preset, inline JSON or a file).
func objectiveDefaults(cfg *runConfig) error {
	adam := cfg.Objective == ObjInpainting
	if cfg.Recipe == "" {
		cfg.Recipe = "fmnist-simclr-v1"
		if cfg.Objective == ObjInpainting {
			cfg.Recipe = "inpainting-fmnist"
		}
	} else {
		text, _, err := cli.Recipe(cfg.Recipe)
		if err != nil {
			return err
		}
		cfg.Recipe = text
	}
	if cfg.Optimizer == "" {
		cfg.Optimizer = map[bool]string{true: "adam", false: "sgd"}[adam]
	}
	if cfg.LR == 0 {
		cfg.LR = 0.24
		if strings.HasPrefix(cfg.Optimizer, "adam") {
			cfg.LR = 1e-3
		}
	}
	if cfg.WeightDecay < 0 {
		cfg.WeightDecay = 5e-4
		if adam {
			cfg.WeightDecay = 0
		}
	}
	return nil
}

// locateData resolves the splits. A remote root's test split cannot be
// looked for here: it is opened if it is there (options.TestIfThere).
func locateData(o *options, data, train, test string) error {
	o.Train, o.Test = train, test
	if data != "" {
		if o.Train == "" {
			o.Train = joinSplit(data, "train")
		}
		if o.Test == "" {
			if store.IsRemote(data) {
				o.Test, o.TestIfThere = joinSplit(data, "test"), true
			} else if st, err := os.Stat(filepath.Join(data, "test")); err == nil && st.IsDir() {
				o.Test = filepath.Join(data, "test")
			}
		}
	}
	if o.Train == "" {
		return errors.New("no dataset: give --data DIR (with train/ and test/) or --train DIR (see --help)")
	}
	return nil
}

// joinSplit names the split called name under root, a directory or a URL.
func joinSplit(root, name string) string {
	if store.IsRemote(root) {
		return strings.TrimRight(root, "/") + "/" + name
	}
	return filepath.Join(root, name)
}

func validate(cfg *runConfig, o *options) error {
	switch {
	case o.Out == "":
		return errors.New("--out DIR is required")
	case cfg.Epochs < 1:
		return fmt.Errorf("--epochs %d (want ≥ 1)", cfg.Epochs)
	case cfg.Batch < 2:
		return fmt.Errorf("--batch %d (want ≥ 2)", cfg.Batch)
	case !(cfg.LR > 0) || math.IsInf(cfg.LR, 0):
		return fmt.Errorf("--lr %v (want > 0)", cfg.LR)
	case cfg.WarmupEpochs < 0 || cfg.WarmupEpochs > cfg.Epochs:
		return fmt.Errorf("--warmup-epochs %d (want 0..epochs)", cfg.WarmupEpochs)
	case !(cfg.Tau > 0):
		return fmt.Errorf("--tau %v (want > 0)", cfg.Tau)
	case cfg.MaskSide < 1:
		return fmt.Errorf("--mask-side %d (want ≥ 1)", cfg.MaskSide)
	case o.Workers < 1 || o.Threads < 1:
		return fmt.Errorf("--workers %d --threads %d (want ≥ 1)", o.Workers, o.Threads)
	case o.KNNEvery < 0 || o.KNNK < 1 || !(o.KNNTemp > 0):
		return fmt.Errorf("--knn-every %d --knn-k %d --knn-temp %v (want ≥ 0, ≥ 1, > 0)", o.KNNEvery, o.KNNK, o.KNNTemp)
	case o.MaxEpochs < 0 || o.MaxSteps < 0:
		return fmt.Errorf("--stop-after %d --stop-after-steps %d (want ≥ 0)", o.MaxEpochs, o.MaxSteps)
	case o.CheckpointEvery < 0 || o.KeepCheckpoints < 0 || o.SkipBudget < 0:
		return fmt.Errorf("--checkpoint-every %d --keep-checkpoints %d --skip-budget %d (want ≥ 0)", o.CheckpointEvery, o.KeepCheckpoints, o.SkipBudget)
	}
	if cfg.Schedule != "cosine" && cfg.Schedule != "constant" {
		return fmt.Errorf("--schedule %q (want cosine or constant)", cfg.Schedule)
	}
	switch cfg.Objective {
	case ObjSimCLR, ObjInpainting, ObjRelativePatch, ObjRotation:
	default:
		return fmt.Errorf("--objective %q (want simclr, inpainting, relative-patch or rotation)", cfg.Objective)
	}
	return nil
}

// report prints the run's summary on stdout.
func report(w io.Writer, res *result, o *options) {
	last := res.Rows[len(res.Rows)-1]
	fmt.Fprintf(w, "trained %d epochs (%d steps) in %.0f s of training (kNN monitoring excluded); the trainer waited for data %.1f%% of that time\n",
		last.Epoch, last.Steps, res.TrainSecs, 100*dataWaitShare(res.Rows))
	if !math.IsNaN(res.RandomKNN) && !math.IsNaN(last.KNN) {
		fmt.Fprintf(w, "kNN top-1 on %s: %.2f%% (random encoder %.2f%%)\n", o.Test, 100*last.KNN, 100*res.RandomKNN)
	}
	ckpt := res.Checkpoint
	if ckpt == "" {
		ckpt = "(no epoch ended in this process; see " + filepath.Join(o.Out, "checkpoints") + ")"
	}
	fmt.Fprintf(w, "checkpoint %s, metrics %s\n", ckpt, filepath.Join(o.Out, "metrics.csv"))
}
