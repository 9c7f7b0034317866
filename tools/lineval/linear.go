package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/pairflow/pairflow/sampler"
	"github.com/pairflow/pairflow/tools/internal/evalkit"
	"github.com/pairflow/pairflow/trainer"
)

// runLinear extracts the features of both splits once and trains a linear
// probe per (fraction, seed).
func (s *setup) runLinear(ctx context.Context) (*Method, error) {
	o := s.o
	enc := s.enc0
	if enc == nil {
		var err error
		if enc, err = s.newEncoder(); err != nil {
			return nil, err
		}
	}
	t0 := time.Now()
	trF, trL, err := evalkit.Features(ctx, s.train, enc, s.evalRecipe, o.featBatch, o.workers)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", o.train, err)
	}
	s.progress.printf("train features %d×%d in %.1fs", len(trL), enc.Dim, time.Since(t0).Seconds())
	t1 := time.Now()
	teF, teL, err := evalkit.Features(ctx, s.test, enc, s.evalRecipe, o.featBatch, o.workers)
	if err != nil {
		return nil, fmt.Errorf("split %s: %w", o.test, err)
	}
	s.progress.printf("test features %d×%d in %.1fs", len(teL), enc.Dim, time.Since(t1).Seconds())
	if !slices.Equal(trL, s.trainLabels) || !slices.Equal(teL, s.testLabels) {
		return nil, fmt.Errorf("the eval pipeline's labels differ from the records' (dataset changed during the run?)")
	}
	m := s.newMethod()
	for _, f := range o.fractions {
		cell := Cell{Fraction: f}
		for _, seed := range s.runSeeds(f) {
			sub, err := subset(s.trainLabels, f, seed)
			if err != nil {
				return nil, err
			}
			t := time.Now()
			p := linearParams{dim: enc.Dim, classes: s.classes, lr: o.linLR, wd: o.linWD, passes: o.passes, batch: o.linBatch}
			r, err := trainLinear(ctx, trF, s.trainLabels, teF, s.testLabels, sub, seed, p, func(pass int, loss float64) {
				s.progress.step(fmt.Sprintf("linear %g%% seed %d", f*100, seed), "pass", pass, p.passes, func() string {
					return fmt.Sprintf("loss %.4f", loss)
				})
			})
			if err != nil {
				return nil, err
			}
			r.Seed, r.Subset, r.SubsetFNV, r.Seconds = seed, len(sub), subsetHash(sub), time.Since(t).Seconds()
			s.progress.printf("linear %g%% seed %d: subset %d, top-1 %.2f%% top-5 %.2f%% (%.1fs)", f*100, seed, len(sub), r.Top1, r.Top5, r.Seconds)
			cell.Runs = append(cell.Runs, r)
		}
		cell.summarize()
		m.Cells = append(m.Cells, cell)
	}
	return m, nil
}

// subset is the class-balanced labelled subset of a run.
func subset(labels []int32, fraction float64, seed uint64) ([]int64, error) {
	sub, err := sampler.BalancedSubset(labels, fraction, seed)
	if err != nil {
		return nil, err
	}
	if len(sub) == 0 {
		return nil, fmt.Errorf("label fraction %g (seed %d) keeps no record: every class is too small", fraction, seed)
	}
	return sub, nil
}

type linearParams struct {
	dim, classes  int
	lr, wd        float64
	passes, batch int
}

// trainLinear standardises the subset's features with the subset's mean and
// unbiased std per dimension, trains Linear(dim, classes) with Adam for
// p.passes shuffled passes (head initialisation and order from seed) and
// evaluates it on the test features standardised the same way.
func trainLinear(ctx context.Context, feats []float32, labels []int32, test []float32, testLabels []int32,
	sub []int64, seed uint64, p linearParams, onPass func(pass int, loss float64)) (Run, error) {
	dim, n := p.dim, len(sub)
	mean, inv := standardiser(feats, sub, dim)
	x := make([]float32, n*dim)
	y := make([]int, n)
	for i, idx := range sub {
		standardise(x[i*dim:(i+1)*dim], feats[int(idx)*dim:(int(idx)+1)*dim], mean, inv)
		y[i] = int(labels[idx])
	}
	lin := trainer.NewLinear[float32]("fc", dim, p.classes, true, trainer.NewRNG(seed))
	loss := trainer.NewSoftmaxCrossEntropy[float32]()
	opt, err := trainer.NewAdam(lin.Params(), trainer.DecayOptions{WeightDecay: p.wd})
	if err != nil {
		return Run{}, err
	}
	rng := trainer.NewRNG(seed ^ 0x9e3779b97f4a7c15)
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	bs := min(p.batch, n)
	bx := make([]float32, bs*dim)
	by := make([]int, bs)
	var last float64
	for pass := range p.passes {
		if err := ctx.Err(); err != nil {
			return Run{}, err
		}
		for i := n - 1; i > 0; i-- {
			j := rng.Intn(i + 1)
			perm[i], perm[j] = perm[j], perm[i]
		}
		var sum float64
		batches := 0
		for lo := 0; lo < n; lo += bs {
			m := min(bs, n-lo)
			for r := range m {
				k := perm[lo+r]
				copy(bx[r*dim:(r+1)*dim], x[k*dim:(k+1)*dim])
				by[r] = y[k]
			}
			logits := lin.Forward(trainer.Tensor[float32]{Data: bx[:m*dim], Shape: []int{m, dim}})
			sum += loss.Forward(logits, by[:m])
			lin.Backward(loss.Backward())
			opt.Step(p.lr)
			batches++
		}
		last = sum / float64(batches)
		if onPass != nil {
			onPass(pass, last)
		}
	}
	// Evaluate on the labelled test rows.
	nt := len(testLabels)
	xt := make([]float32, nt*dim)
	for i := range nt {
		standardise(xt[i*dim:(i+1)*dim], test[i*dim:(i+1)*dim], mean, inv)
	}
	logits := lin.Forward(trainer.Tensor[float32]{Data: xt, Shape: []int{nt, dim}})
	top1, top5 := topK(logits.Data, testLabels, p.classes)
	return Run{Top1: top1, Top5: top5, Loss: last, Steps: opt.Steps()}, nil
}

// standardiser returns the mean and 1/std (unbiased; 1 where the std is 0
// or there is one row) of the rows sub of feats.
func standardiser(feats []float32, sub []int64, dim int) (mean, inv []float64) {
	mean, inv = make([]float64, dim), make([]float64, dim)
	for _, idx := range sub {
		for d, v := range feats[int(idx)*dim : (int(idx)+1)*dim] {
			mean[d] += float64(v)
		}
	}
	n := float64(len(sub))
	for d := range mean {
		mean[d] /= n
	}
	for _, idx := range sub {
		for d, v := range feats[int(idx)*dim : (int(idx)+1)*dim] {
			e := float64(v) - mean[d]
			inv[d] += e * e
		}
	}
	for d := range inv {
		sd := 0.0
		if len(sub) > 1 {
			sd = math.Sqrt(inv[d] / (n - 1))
		}
		if sd > 0 {
			inv[d] = 1 / sd
		} else {
			inv[d] = 1
		}
	}
	return mean, inv
}

func standardise(dst, src []float32, mean, inv []float64) {
	for d, v := range src {
		dst[d] = float32((float64(v) - mean[d]) * inv[d])
	}
}

// topK returns the top-1 and top-5 accuracy in % over the rows with a label
// in [0, classes): a row counts for top-k when fewer than k classes rank
// above its label (a higher logit, or an equal one and a lower class: ties
// go to the lower class, as an argmax).
func topK(logits []float32, labels []int32, classes int) (top1, top5 float64) {
	var n, c1, c5 int
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			continue
		}
		n++
		row := logits[i*classes : (i+1)*classes]
		above := 0
		for j, v := range row {
			if v > row[l] || (v == row[l] && j < int(l)) {
				above++
			}
		}
		if above < 1 {
			c1++
		}
		if above < 5 {
			c5++
		}
	}
	if n == 0 {
		return 0, 0
	}
	return 100 * float64(c1) / float64(n), 100 * float64(c5) / float64(n)
}
