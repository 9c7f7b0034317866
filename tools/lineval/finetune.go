package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/tools/internal/evalkit"
	"github.com/pairflow/pairflow/trainer"
)

// batchHook, when set (tests), sees the sample ids of every fine-tuning
// batch of the run with the given fraction and seed.
var batchHook func(fraction float64, seed uint64, ids []uint64)

// trainRecipe is the fine-tuning view: RandomResizedCrop(size,
// --crop-scale, ratio 3/4..4/3) + horizontal flip, normalised.
func (s *setup) trainRecipe() string {
	f := func(v []float64) string {
		p := make([]string, len(v))
		for i, x := range v {
			p[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return "[" + strings.Join(p, ",") + "]"
	}
	return fmt.Sprintf(`{"version":1,"name":"lineval-finetune","channels":%d,"ops":[`+
		`{"op":"random_resized_crop","size":%d,"scale":%s,"ratio":[0.75,1.3333333333333333]},`+
		`{"op":"random_horizontal_flip","p":0.5}],`+
		`"output":{"format":"float32_chw","mean":%s,"std":%s}}`,
		s.channels, s.size, f(s.o.cropScale), f(s.mean), f(s.std))
}

// runFinetune trains encoder + linear head per (fraction, seed) from the
// checkpoint (or a random initialisation) and evaluates each on the test
// split.
func (s *setup) runFinetune(ctx context.Context) (*Method, error) {
	o := s.o
	m := s.newMethod()
	for _, f := range o.fractions {
		cell := Cell{Fraction: f}
		for _, seed := range s.runSeeds(f) {
			t := time.Now()
			r, err := s.finetuneOne(ctx, f, seed)
			if err != nil {
				return nil, err
			}
			r.Seconds = time.Since(t).Seconds()
			s.progress.printf("finetune %g%% seed %d: subset %d, top-1 %.2f%% top-5 %.2f%% (%.1fs)", f*100, seed, r.Subset, r.Top1, r.Top5, r.Seconds)
			cell.Runs = append(cell.Runs, r)
		}
		cell.summarize()
		m.Cells = append(m.Cells, cell)
	}
	return m, nil
}

func (s *setup) finetuneOne(ctx context.Context, f float64, seed uint64) (Run, error) {
	o := s.o
	sub, err := subset(s.trainLabels, f, seed)
	if err != nil {
		return Run{}, err
	}
	enc, err := s.newEncoder()
	if err != nil {
		return Run{}, err
	}
	sched, err := trainer.NewWarmupCosine(o.ftLR, 0, 0, o.steps)
	if err != nil {
		return Run{}, err
	}
	c, err := trainer.NewClassifier(enc, s.classes, false, trainer.Config{Model: s.model, Channels: s.channels,
		Optimizer: "adam", Schedule: sched, DecayOptions: trainer.DecayOptions{WeightDecay: o.ftWD}, Seed: seed})
	if err != nil {
		return Run{}, err
	}
	p, err := pipeline.New(s.train, pipeline.Config{Kind: arrowpair.Supervised, BatchSize: o.ftBatch,
		Recipe: pipeline.Recipes{s.trainRecipe()}, Seed: seed, LabelFraction: f, Workers: o.workers})
	if err != nil {
		return Run{}, fmt.Errorf("split %s: %w", o.train, err)
	}
	defer p.Close()
	sh := p.Layout().Shapes[0]
	var (
		buf    []float32
		labels []int
		ids    []uint64
		step   int
		last   float64
	)
	for rec, err := range p.Batches(ctx) {
		if err != nil {
			return Run{}, fmt.Errorf("split %s: %w", o.train, err)
		}
		n, err := s.readBatch(rec, &buf, &labels, &ids)
		rec.Release()
		if err != nil {
			return Run{}, err
		}
		if batchHook != nil {
			batchHook(f, seed, ids)
		}
		res := c.Step(trainer.Tensor[float32]{Data: buf[:n*sh.C*sh.H*sh.W], Shape: []int{n, sh.C, sh.H, sh.W}}, labels[:n])
		last = res.Loss
		s.progress.step(fmt.Sprintf("finetune %g%% seed %d", f*100, seed), "step", step, o.steps, func() string {
			return fmt.Sprintf("loss %.4f lr %.2e", res.Loss, res.LR)
		})
		step++
		if step == o.steps {
			break
		}
	}
	if err := p.Close(); err != nil {
		return Run{}, err
	}
	if step < o.steps {
		return Run{}, fmt.Errorf("the supervised pipeline ended after %d of %d steps", step, o.steps)
	}
	feats, testLabels, err := evalkit.Features(ctx, s.test, enc, s.evalRecipe, o.featBatch, o.workers)
	if err != nil {
		return Run{}, fmt.Errorf("split %s: %w", o.test, err)
	}
	c.Head.SetTraining(false)
	logits := c.Head.Forward(trainer.Tensor[float32]{Data: feats, Shape: []int{len(testLabels), enc.Dim}})
	top1, top5 := topK(logits.Data, testLabels, s.classes)
	return Run{Seed: seed, Subset: len(sub), SubsetFNV: subsetHash(sub), Top1: top1, Top5: top5,
		Loss: last, Steps: int64(step)}, nil
}

// readBatch copies a supervised batch's views into buf (NCHW) and its
// labels and sample ids, and returns the row count.
func (s *setup) readBatch(rec arrow.RecordBatch, buf *[]float32, labels *[]int, ids *[]uint64) (int, error) {
	b, err := arrowpair.ReadBatch(rec)
	if err != nil {
		return 0, err
	}
	views, err := b.Tensors("view")
	if err != nil {
		return 0, err
	}
	n := views.Len()
	if n == 0 {
		return 0, fmt.Errorf("supervised batch: no rows")
	}
	elems := len(views.Float32(0))
	if cap(*buf) < n*elems {
		*buf = make([]float32, n*elems)
	}
	*buf = (*buf)[:n*elems]
	*labels, *ids = (*labels)[:0], (*ids)[:0]
	for i := range n {
		copy((*buf)[i*elems:(i+1)*elems], views.Float32(i))
		l, ok := b.Label(i)
		if !ok || l < 0 || int(l) >= s.classes {
			return 0, fmt.Errorf("supervised batch: record %d has label %d, want 0..%d", b.SampleID(i), l, s.classes-1)
		}
		*labels = append(*labels, int(l))
		*ids = append(*ids, b.SampleID(i))
	}
	return n, nil
}
