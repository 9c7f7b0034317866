package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/internal/atomicfile"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/shards"
	"github.com/pairflow/pairflow/store"
	"github.com/pairflow/pairflow/tools/internal/evalkit"
	"github.com/pairflow/pairflow/tools/internal/progress"
	"github.com/pairflow/pairflow/trainer"
)

// runConfig is everything that fixes a pretraining run's result. Every
// checkpoint stores it; --resume takes it from the checkpoint and refuses
// flags that contradict it.
type runConfig struct {
	Objective     string    `json:"objective"`
	Model         string    `json:"model"`
	Channels      int       `json:"channels"`
	Size          int       `json:"size"`
	Recipe        string    `json:"recipe"` // preset name or recipe JSON
	Mean          []float64 `json:"mean,omitempty"`
	Std           []float64 `json:"std,omitempty"`
	Epochs        int       `json:"epochs"`
	Batch         int       `json:"batch"`
	LR            float64   `json:"lr"`
	Schedule      string    `json:"schedule"` // cosine or constant
	WarmupEpochs  int       `json:"warmup_epochs"`
	Optimizer     string    `json:"optimizer"`
	Momentum      float64   `json:"momentum"`
	WeightDecay   float64   `json:"weight_decay"`
	NoDecayBNBias bool      `json:"no_decay_bn_bias"`
	Tau           float64   `json:"tau"`
	MaskSide      int       `json:"mask_side"`
	Seed          uint64    `json:"seed"`
}

// options are the settings that change speed and reporting, never the
// trained weights.
type options struct {
	Train, Test string             // splits: directories or URLs
	TestIfThere bool               // Test is a default: no monitor when it is not there
	Open        shards.OpenOptions // for remote splits
	Out         string
	Resume      bool
	Workers     int // pipeline augmentation workers
	Threads     int // trainer threads
	KNNEvery    int // epochs between kNN monitors (0: never)
	KNNK        int
	KNNTemp     float64
	LogEvery    time.Duration
	Plot        bool
	Stderr      io.Writer
	// MaxEpochs stops after this many epochs of the run in this process
	// (0: run to the end); used to test --resume.
	MaxEpochs int
	// MaxSteps stops after this many steps in this process, after the
	// checkpoint of that step if it has one (0: run to the end).
	MaxSteps int64
	// CheckpointEvery writes a checkpoint every this many steps as well as
	// at each epoch's end (0: at epochs' ends only).
	CheckpointEvery int
	// KeepCheckpoints keeps this many newest checkpoints (0: all).
	KeepCheckpoints int
	// SkipBudget is how many bad records the run may skip over all its
	// epochs (0: the first stops it).
	SkipBudget int64
}

// epochRow is one row of metrics.csv.
type epochRow struct {
	Epoch     int
	Steps     int64
	Loss      float64
	Accuracy  float64 // contrastive: share of views whose nearest view is the positive
	LR        float64
	ImagesPS  float64 // source images per second of training (kNN excluded)
	DataWait  float64 // share of training time spent waiting for a batch
	KNN       float64 // kNN top-1 on the test split, NaN when not measured
	TrainSecs float64 // cumulative training wall time (kNN excluded)
}

const metricsHeader = "epoch,steps,loss,accuracy,lr,images_per_s,data_wait,knn_top1,train_seconds"

func (r epochRow) csv() string {
	knn := ""
	if !math.IsNaN(r.KNN) {
		knn = fmt.Sprintf("%.4f", r.KNN)
	}
	return fmt.Sprintf("%d,%d,%.6f,%.4f,%.6g,%.1f,%.4f,%s,%.1f", r.Epoch, r.Steps, r.Loss, r.Accuracy, r.LR, r.ImagesPS, r.DataWait, knn, r.TrainSecs)
}

// checkpointMeta is the config string of pretrain's checkpoints: what
// evalkit.LoadEncoder reads (model, channels, size, objective, recipe) and
// what --resume needs.
type checkpointMeta struct {
	Model     string    `json:"model"`
	Channels  int       `json:"channels"`
	Size      int       `json:"size"`
	Objective string    `json:"objective"`
	Recipe    string    `json:"recipe"`
	Run       runConfig `json:"run"`
	Epoch     int       `json:"epoch"` // epochs completed
	// StepInEpoch is the steps done in the epoch after Epoch (0 at an
	// epoch's end); LossSum and AccSum sum their losses and accuracies, so
	// that the epoch's row of metrics.csv comes out as in a run that was
	// not interrupted.
	StepInEpoch int             `json:"step_in_epoch,omitempty"`
	LossSum     float64         `json:"loss_sum,omitempty"`
	AccSum      float64         `json:"acc_sum,omitempty"`
	Pipeline    json.RawMessage `json:"pipeline_state"`
}

// recipeShape parses the recipe (preset name or JSON) and returns its view
// side, channels and normalisation for sources of the dataset's size.
func recipeShape(recipe string, ds *shards.Dataset) (size, channels int, mean, std []float64, err error) {
	var rc *ops.Recipe
	if strings.HasPrefix(strings.TrimSpace(recipe), "{") {
		rc, err = ops.ParseRecipe([]byte(recipe))
	} else {
		rc, err = ops.Preset(recipe)
	}
	if err != nil {
		return 0, 0, nil, nil, err
	}
	if rc.Output.Format != ops.Float32CHW {
		return 0, 0, nil, nil, fmt.Errorf("recipe output %v: the trainer takes float32_chw views", rc.Output.Format)
	}
	var rec shards.Record
	if err := ds.Record(0, &rec); err != nil {
		return 0, 0, nil, nil, err
	}
	w, h, c := rc.ViewShape(rec.Width, rec.Height)
	if w == 0 || w != h {
		return 0, 0, nil, nil, fmt.Errorf("recipe gives %d×%d views of a %d×%d record: the trainer needs one fixed square size", w, h, rec.Width, rec.Height)
	}
	for _, v := range rc.Output.Mean {
		mean = append(mean, float64(v))
	}
	for _, v := range rc.Output.Std {
		std = append(std, float64(v))
	}
	return w, c, mean, std, nil
}

// pipelineConfig is the pipeline run of a pretraining run: all its epochs,
// the last partial batch dropped.
func pipelineConfig(cfg *runConfig, o *options) pipeline.Config {
	pc := pipeline.Config{
		BatchSize: cfg.Batch, Recipe: pipeline.Recipes{cfg.Recipe}, Seed: cfg.Seed,
		Epochs: int64(cfg.Epochs), Workers: o.Workers, DropLast: true, Prefetch: 2,
	}
	if o.SkipBudget > 0 {
		pc.Skip = pipeline.SkipPolicy{Policy: pipeline.PolicySkip, MaxCount: o.SkipBudget}
	}
	switch cfg.Objective {
	case ObjSimCLR:
		pc.Kind, pc.Views = arrowpair.Contrastive, 2
	case ObjInpainting:
		pc.Kind = arrowpair.Inpainting
		pc.Mask = pipeline.MaskOptions{Mode: pipeline.MaskSquare, Patch: cfg.MaskSide, Fill: 0}
	case ObjRotation:
		pc.Kind = arrowpair.Rotation
	case ObjRelativePatch:
		pc.Kind = arrowpair.RelativePatch
	}
	return pc
}

// schedule is cfg's learning-rate schedule over total steps.
func schedule(cfg *runConfig, stepsPerEpoch int) (trainer.Schedule, error) {
	switch cfg.Schedule {
	case "constant":
		return trainer.Constant(cfg.LR), nil
	case "cosine":
		return trainer.NewWarmupCosine(cfg.LR, 0, cfg.WarmupEpochs*stepsPerEpoch, cfg.Epochs*stepsPerEpoch)
	}
	return nil, fmt.Errorf("schedule %q (want cosine or constant)", cfg.Schedule)
}

// result is what a finished run reports.
type result struct {
	Rows       []epochRow
	RandomKNN  float64 // kNN of the encoder before training (NaN if not measured)
	FinalKNN   float64
	TrainSecs  float64
	Checkpoint string
}

// pretrain runs (or resumes) a pretraining run and returns its metrics.
func pretrain(ctx context.Context, cfg runConfig, o options, explicit map[string]string) (*result, error) {
	log := o.Stderr
	train, err := shards.Open(o.Train, o.Open)
	if err != nil {
		return nil, err
	}
	defer train.Close()
	var test *shards.Dataset
	if o.Test != "" && o.KNNEvery > 0 {
		test, err = shards.Open(o.Test, o.Open)
		switch {
		case err != nil && o.TestIfThere && errors.Is(err, store.ErrNotFound):
			fmt.Fprintf(log, "no test split at %s: no kNN monitor\n", o.Test)
		case err != nil:
			return nil, err
		}
	}
	if test != nil {
		defer test.Close()
		var rec shards.Record
		if err := test.Record(0, &rec); err != nil {
			return nil, err
		}
		if !rec.HasLabel {
			fmt.Fprintf(log, "%s has no labels: no kNN monitor\n", o.Test)
			test = nil
		}
	}

	// Resume: the run's configuration and position come from the checkpoint.
	var (
		meta *checkpointMeta
		rp   *resumePoint
	)
	for _, dir := range []string{o.Out, filepath.Join(o.Out, "checkpoints")} {
		// Outputs a killed run was writing (the complete files are intact).
		if gone, err := atomicfile.RemoveTemps(dir); err != nil {
			return nil, err
		} else if len(gone) > 0 {
			fmt.Fprintf(log, "pretrain: removed %d unfinished temporary files of an earlier run from %s\n", len(gone), dir)
		}
	}
	if o.Resume {
		if rp, err = findResumePoint(o.Out, train.Len(), log); err != nil {
			return nil, err
		}
		if err := sameRun(&rp.meta.Run, &cfg, explicit); err != nil {
			return nil, fmt.Errorf("--resume from %s: %w", rp.path, err)
		}
		cfg, meta = rp.meta.Run, rp.meta
	} else if cs, err := listCheckpoints(o.Out); err != nil {
		return nil, err
	} else if len(cs) > 0 {
		return nil, fmt.Errorf("%s already holds checkpoints (%s): pass --resume to continue that run, or another --out", o.Out, filepath.Base(cs[0].path))
	} else {
		cfg.Size, cfg.Channels, cfg.Mean, cfg.Std, err = recipeShape(cfg.Recipe, train)
		if err != nil {
			return nil, fmt.Errorf("recipe %s: %w", short(cfg.Recipe), err)
		}
	}
	if err := os.MkdirAll(filepath.Join(o.Out, "checkpoints"), 0o755); err != nil {
		return nil, err
	}

	stepsPerEpoch := train.Len() / cfg.Batch
	if stepsPerEpoch < 1 {
		return nil, fmt.Errorf("%s has %d records, fewer than one batch of %d", o.Train, train.Len(), cfg.Batch)
	}
	sched, err := schedule(&cfg, stepsPerEpoch)
	if err != nil {
		return nil, err
	}
	trainer.SetThreads(o.Threads)
	obj, err := newObjective(&cfg, sched)
	if err != nil {
		return nil, err
	}
	pc := pipelineConfig(&cfg, &o)
	res := &result{RandomKNN: math.NaN(), FinalKNN: math.NaN()}
	var p *pipeline.Pipeline
	startEpoch := 0
	if meta != nil {
		ckpt := rp.path
		info, err := trainer.LoadCheckpointFrom(rp.file, obj.model(), obj.opt())
		if err != nil {
			return nil, err
		}
		if !info.Verified {
			fmt.Fprintf(log, "pretrain: %s is a version-%d checkpoint, without a checksum: its contents cannot be verified\n", ckpt, info.Version)
		}
		obj.setSteps(info.Step)
		if p, err = pipeline.Resume(train, pc, rp.state); err != nil {
			return nil, fmt.Errorf("%s: %w", ckpt, err)
		}
		startEpoch = meta.Epoch
		if res.Rows, err = readMetrics(filepath.Join(o.Out, "metrics.csv"), startEpoch); err != nil {
			return nil, err
		}
		if n := len(res.Rows); n > 0 {
			res.TrainSecs = res.Rows[n-1].TrainSecs
		}
		if len(res.Rows) > 0 && res.Rows[0].Epoch == 0 {
			res.RandomKNN = res.Rows[0].KNN
		}
		if meta.StepInEpoch > 0 {
			fmt.Fprintf(log, "resuming %s at epoch %d/%d step %d/%d (step %d of the run) from %s\n",
				cfg.Objective, startEpoch+1, cfg.Epochs, meta.StepInEpoch, stepsPerEpoch, info.Step, ckpt)
		} else {
			fmt.Fprintf(log, "resuming %s at epoch %d/%d (step %d) from %s\n", cfg.Objective, startEpoch, cfg.Epochs, info.Step, ckpt)
		}
	} else {
		if p, err = pipeline.New(train, pc); err != nil {
			return nil, err
		}
		row := epochRow{Epoch: 0, KNN: math.NaN(), Loss: math.NaN(), Accuracy: math.NaN(), LR: sched.LR(0)}
		if test != nil {
			if row.KNN, err = monitor(ctx, obj.encoder(), &cfg, &o, train, test); err != nil {
				return nil, err
			}
			res.RandomKNN = row.KNN
			fmt.Fprintf(log, "epoch 0: kNN top-1 of the randomly initialised encoder %.2f%%\n", 100*row.KNN)
		}
		res.Rows = append(res.Rows, row)
	}
	defer p.Close()
	if err := writeMetrics(filepath.Join(o.Out, "metrics.csv"), res.Rows); err != nil {
		return nil, err
	}
	if startEpoch >= cfg.Epochs {
		fmt.Fprintf(log, "the run is complete (%d epochs)\n", cfg.Epochs)
		return res, nil
	}

	fmt.Fprintf(log, "pretrain %s: %s, %d×%d×%d views, %d records, batch %d, %d steps/epoch, %d epochs, %s lr %g %s, %d trainer threads (%s), %d pipeline workers\n",
		cfg.Objective, cfg.Model, cfg.Channels, cfg.Size, cfg.Size, train.Len(), cfg.Batch, stepsPerEpoch, cfg.Epochs,
		cfg.Optimizer, cfg.LR, cfg.Schedule, o.Threads, trainer.KernelTier(), o.Workers)

	var (
		epoch                 = startEpoch
		inEpoch, timedSteps   int
		lossSum, accSum       float64
		stepsThisProcess      int64
		epochTrain, epochWait time.Duration
		lastLR                float64
		stoppedEarly          bool
		totalSteps            = int64(cfg.Epochs * stepsPerEpoch)
		runCtx, cancel        = context.WithCancel(ctx)
		waitStart             = time.Now()
		epochsThisProcess     int
		reportedSkips         = p.State().Sampler.Skipped
	)
	defer cancel()
	// The progress bar (plain lines when stderr is not a terminal) every
	// LogEvery; 0 leaves only the per-epoch lines.
	meter := progress.New(log, progress.Options{Name: "pretrain", Unit: "steps", Total: totalSteps,
		Done: obj.steps(), TTY: progress.ForFile(log), Interval: o.LogEvery})
	if o.LogEvery > 0 {
		meter.Start()
		defer meter.Stop()
	}
	if meta != nil {
		inEpoch, lossSum, accSum = meta.StepInEpoch, meta.LossSum, meta.AccSum
	}
	for rec, err := range p.Batches(runCtx) {
		got := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, pipeline.ErrBadRecord) && o.SkipBudget == 0 {
				err = fmt.Errorf("%w (--skip-budget N lets the run skip up to N bad records)", err)
			}
			return nil, fmt.Errorf("epoch %d step %d: %w", epoch+1, obj.steps()+1, err)
		}
		wait := got.Sub(waitStart)
		r, err := obj.step(rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("epoch %d step %d: %w", epoch+1, obj.steps()+1, err)
		}
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			return nil, fmt.Errorf("epoch %d step %d: loss is %v (learning rate %g too high?)", epoch+1, obj.steps(), r.Loss, r.LR)
		}
		done := time.Now()
		dt := done.Sub(waitStart)
		epochTrain += dt
		epochWait += wait
		lossSum += r.Loss
		accSum += r.Accuracy
		lastLR = r.LR
		inEpoch++
		timedSteps++
		stepsThisProcess++
		meter.AddN(1)
		if o.LogEvery > 0 {
			meter.SetStatus(fmt.Sprintf("epoch %d/%d  loss %.4f  lr %.4g  %.0f img/s  data wait %.1f%%",
				epoch+1, cfg.Epochs, r.Loss, r.LR, float64(timedSteps*cfg.Batch)/epochTrain.Seconds(), 100*epochWait.Seconds()/epochTrain.Seconds()))
		}
		if inEpoch == stepsPerEpoch {
			epoch++
			res.TrainSecs += epochTrain.Seconds()
			row := epochRow{Epoch: epoch, Steps: obj.steps(), Loss: lossSum / float64(inEpoch), Accuracy: accSum / float64(inEpoch),
				LR: lastLR, ImagesPS: float64(timedSteps*cfg.Batch) / epochTrain.Seconds(),
				DataWait: epochWait.Seconds() / epochTrain.Seconds(), KNN: math.NaN(), TrainSecs: res.TrainSecs}
			if test != nil && (epoch%o.KNNEvery == 0 || epoch == cfg.Epochs) {
				if row.KNN, err = monitor(ctx, obj.encoder(), &cfg, &o, train, test); err != nil {
					return nil, err
				}
				res.FinalKNN = row.KNN
			}
			// metrics.csv first: a crash before the checkpoint redoes the
			// epoch, and --resume drops the rows past its checkpoint.
			res.Rows = append(res.Rows, row)
			if err := writeMetrics(filepath.Join(o.Out, "metrics.csv"), res.Rows); err != nil {
				return nil, err
			}
			path, err := saveCheckpoint(obj, &cfg, p, ckptPos{Epoch: epoch}, 0, 0, o.Out, o.KeepCheckpoints)
			if err != nil {
				return nil, err
			}
			res.Checkpoint = path
			if sk := p.State().Sampler.Skipped; sk > reportedSkips {
				meter.Warn("epoch %d: %d bad records skipped so far in the run (budget %d)%s", epoch, sk, o.SkipBudget, firstSkips(p))
				reportedSkips = sk
			}
			knn := ""
			if !math.IsNaN(row.KNN) {
				knn = fmt.Sprintf("  kNN %.2f%%", 100*row.KNN)
			}
			meter.Warn("epoch %d/%d done: loss %.4f  %.0f img/s  data wait %.1f%%%s  (%s)%s",
				epoch, cfg.Epochs, row.Loss, row.ImagesPS, 100*row.DataWait, knn, filepath.Base(path), waitNote(epochWait, epochTrain))
			inEpoch, timedSteps, lossSum, accSum, epochTrain, epochWait = 0, 0, 0, 0, 0, 0
			epochsThisProcess++
			if o.MaxEpochs > 0 && epochsThisProcess >= o.MaxEpochs && epoch < cfg.Epochs {
				stoppedEarly = true
				cancel()
				break
			}
		} else if o.CheckpointEvery > 0 && obj.steps()%int64(o.CheckpointEvery) == 0 {
			if _, err := saveCheckpoint(obj, &cfg, p, ckptPos{Epoch: epoch, Step: inEpoch}, lossSum, accSum, o.Out, o.KeepCheckpoints); err != nil {
				return nil, err
			}
		}
		if o.MaxSteps > 0 && stepsThisProcess >= o.MaxSteps && epoch < cfg.Epochs {
			stoppedEarly = true
			cancel()
			break
		}
		waitStart = time.Now()
	}
	if !stoppedEarly && epoch < cfg.Epochs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interrupted at epoch %d step %d (the last checkpoint is kept; --resume continues): %w", epoch+1, obj.steps(), err)
		}
		return nil, fmt.Errorf("the pipeline ended at epoch %d of %d", epoch, cfg.Epochs)
	}
	if o.Plot {
		if err := plotCurves(filepath.Join(o.Out, "curves.png"), cfg.Objective, res.Rows); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// waitNote flags a pipeline that does not keep up with the trainer.
func waitNote(wait, total time.Duration) string {
	if total > 0 && wait.Seconds() > 0.05*total.Seconds() {
		return "  (the trainer waits for data: give the pipeline more --workers)"
	}
	return ""
}

// monitor is the kNN accuracy of enc's features of the test split against
// those of the train split (un-augmented, normalised views).
func monitor(ctx context.Context, enc *trainer.Encoder[float32], cfg *runConfig, o *options, train, test *shards.Dataset) (float64, error) {
	recipe := evalkit.EvalRecipe(cfg.Size, cfg.Channels, cfg.Mean, cfg.Std)
	workers := max(o.Workers, o.Threads)
	ftr, ltr, err := evalkit.Features(ctx, train, enc, recipe, 1024, workers)
	if err != nil {
		return 0, fmt.Errorf("kNN monitor: %s: %w", o.Train, err)
	}
	fte, lte, err := evalkit.Features(ctx, test, enc, recipe, 1024, workers)
	if err != nil {
		return 0, fmt.Errorf("kNN monitor: %s: %w", o.Test, err)
	}
	classes := int32(0)
	for _, l := range slices.Concat(ltr, lte) {
		if l < 0 {
			return 0, fmt.Errorf("kNN monitor: a record without a label in %s or %s", o.Train, o.Test)
		}
		classes = max(classes, l+1)
	}
	return evalkit.KNN(ftr, ltr, fte, lte, enc.Dim, min(o.KNNK, len(ltr)), o.KNNTemp, int(classes)), nil
}

// sameRun checks the flags given explicitly on a --resume command line
// against the checkpoint's run.
func sameRun(ck, flags *runConfig, explicit map[string]string) error {
	have, want := ck.flagValues(), flags.flagValues()
	for name := range explicit {
		if h, ok := have[name]; ok && h != want[name] {
			return fmt.Errorf("--%s %s differs from the run's %s (a resumed run keeps its settings)", name, want[name], h)
		}
	}
	return nil
}

// flagValues maps the command's flag names to c's values, as text.
func (c *runConfig) flagValues() map[string]string {
	return map[string]string{
		"objective": c.Objective, "model": c.Model, "recipe": c.Recipe, "epochs": fmt.Sprint(c.Epochs),
		"batch": fmt.Sprint(c.Batch), "lr": fmt.Sprint(c.LR), "schedule": c.Schedule, "warmup-epochs": fmt.Sprint(c.WarmupEpochs),
		"optimizer": c.Optimizer, "momentum": fmt.Sprint(c.Momentum), "wd": fmt.Sprint(c.WeightDecay),
		"no-decay-bn-bias": fmt.Sprint(c.NoDecayBNBias), "tau": fmt.Sprint(c.Tau), "mask-side": fmt.Sprint(c.MaskSide), "seed": fmt.Sprint(c.Seed),
	}
}

func short(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// firstSkips lists the first few records this process skipped.
func firstSkips(p *pipeline.Pipeline) string {
	skips, _ := p.Skips()
	var b strings.Builder
	for i, s := range skips {
		if i == 3 {
			fmt.Fprintf(&b, "; …")
			break
		}
		fmt.Fprintf(&b, "; %s record %d (key %q): %s", s.Shard, s.Record, s.Key, s.Reason)
	}
	return b.String()
}
