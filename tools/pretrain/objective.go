package main

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/trainer"
)

// Objectives tools/pretrain trains.
const (
	ObjSimCLR        = "simclr"
	ObjInpainting    = "inpainting"
	ObjRelativePatch = "relative-patch"
	ObjRotation      = "rotation"
)

// objective adapts one self-supervised task to the loop: which pair kind it
// reads, one training step on a batch, and what a checkpoint holds.
type objective interface {
	kind() arrowpair.Kind
	step(rec arrow.RecordBatch) (trainer.StepResult, error)
	// model is every trained layer, the encoder first ("enc." names).
	model() trainer.Layer[float32]
	opt() trainer.Optimizer[float32]
	steps() int64
	setSteps(n int64)
	encoder() *trainer.Encoder[float32]
}

// newObjective builds the model and optimiser of cfg's objective.
func newObjective(cfg *runConfig, sched trainer.Schedule) (objective, error) {
	tc := trainer.Config{
		Model: cfg.Model, Channels: cfg.Channels, Tau: cfg.Tau, Optimizer: cfg.Optimizer,
		Momentum: cfg.Momentum, Schedule: sched, Seed: cfg.Seed,
		DecayOptions: trainer.DecayOptions{WeightDecay: cfg.WeightDecay, ExcludeBNAndBias: cfg.NoDecayBNBias},
	}
	if cfg.Objective == ObjSimCLR {
		s, err := trainer.NewSimCLR(tc)
		if err != nil {
			return nil, err
		}
		return &simclrObj{s: s}, nil
	}
	enc, err := trainer.NewEncoder(cfg.Model, "enc.", cfg.Channels, trainer.NewRNG(cfg.Seed))
	if err != nil {
		return nil, err
	}
	// The heads draw their initial weights from seed+1, so they do not
	// repeat the encoder's stream.
	tc.Seed = cfg.Seed + 1
	switch cfg.Objective {
	case ObjInpainting:
		p, err := trainer.NewInpainter(enc, cfg.Channels, 64, tc)
		if err != nil {
			return nil, err
		}
		return &inpaintObj{p: p, enc: enc, seq: trainer.NewSequential[float32](enc, p.Decoder)}, nil
	case ObjRotation:
		c, err := trainer.NewClassifier(enc, 4, false, tc)
		if err != nil {
			return nil, err
		}
		return &rotationObj{c: c, seq: trainer.NewSequential[float32](enc, c.Head)}, nil
	case ObjRelativePatch:
		p, err := trainer.NewRelativePatch(enc, 512, tc)
		if err != nil {
			return nil, err
		}
		return &patchObj{p: p, seq: trainer.NewSequential[float32](enc, p.Head)}, nil
	}
	return nil, fmt.Errorf("objective %q (want %s, %s, %s or %s)", cfg.Objective, ObjSimCLR, ObjInpainting, ObjRelativePatch, ObjRotation)
}

// tensorsOf returns the named float32 tensor column of rec as one
// [N, C, H, W] tensor aliasing the batch's memory.
func tensorsOf(rec arrow.RecordBatch, name string) (trainer.Tensor[float32], error) {
	col, err := arrowpair.TensorsByName(rec, name)
	if err != nil {
		return trainer.Tensor[float32]{}, err
	}
	sh := col.Type.Shape() // C, H, W for float32_chw
	if col.Type.ValueType().ID() != arrow.FLOAT32 || len(sh) != 3 {
		return trainer.Tensor[float32]{}, fmt.Errorf("column %q is %s %v: the trainer takes float32 C×H×W views (recipe output float32_chw)", name, col.Type.ValueType(), sh)
	}
	n := col.Len()
	return trainer.Tensor[float32]{Data: col.Float32Rows(0, n), Shape: []int{n, int(sh[0]), int(sh[1]), int(sh[2])}}, nil
}

// classes returns rec's uint8 class column as ints.
func classes(rec arrow.RecordBatch, name string, dst *[]int) ([]int, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return nil, fmt.Errorf("batch has no %q column", name)
	}
	c, ok := rec.Column(idx[0]).(*array.Uint8)
	if !ok {
		return nil, fmt.Errorf("column %q is %s, not uint8", name, rec.Column(idx[0]).DataType())
	}
	out := (*dst)[:0]
	for i := range c.Len() {
		out = append(out, int(c.Value(i)))
	}
	*dst = out
	return out, nil
}

type simclrObj struct {
	s *trainer.SimCLR
}

func (o *simclrObj) kind() arrowpair.Kind { return arrowpair.Contrastive }
func (o *simclrObj) step(rec arrow.RecordBatch) (trainer.StepResult, error) {
	a, err := tensorsOf(rec, "view_0")
	if err != nil {
		return trainer.StepResult{}, err
	}
	b, err := tensorsOf(rec, "view_1")
	if err != nil {
		return trainer.StepResult{}, err
	}
	return o.s.Step(trainer.ViewBatch{N: a.Shape[0], C: a.Shape[1], H: a.Shape[2], W: a.Shape[3], F32: [2][]float32{a.Data, b.Data}})
}
func (o *simclrObj) model() trainer.Layer[float32]      { return o.s.Model() }
func (o *simclrObj) opt() trainer.Optimizer[float32]    { return o.s.Opt }
func (o *simclrObj) steps() int64                       { return o.s.Steps() }
func (o *simclrObj) setSteps(n int64)                   { o.s.SetSteps(n) }
func (o *simclrObj) encoder() *trainer.Encoder[float32] { return o.s.Encoder }

type inpaintObj struct {
	p    *trainer.Inpainter
	enc  *trainer.Encoder[float32]
	seq  *trainer.Sequential[float32]
	mask []bool
}

func (o *inpaintObj) kind() arrowpair.Kind { return arrowpair.Inpainting }
func (o *inpaintObj) step(rec arrow.RecordBatch) (trainer.StepResult, error) {
	x, err := tensorsOf(rec, "masked")
	if err != nil {
		return trainer.StepResult{}, err
	}
	target, err := tensorsOf(rec, "target")
	if err != nil {
		return trainer.StepResult{}, err
	}
	mc, err := arrowpair.TensorsByName(rec, "mask")
	if err != nil {
		return trainer.StepResult{}, err
	}
	// The mask column has one flag per pixel; the loss wants one per
	// target element (every channel of a masked pixel).
	n, c, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	m := mc.Uint8Rows(0, mc.Len())
	if len(m) != n*hw {
		return trainer.StepResult{}, fmt.Errorf("mask column of %d flags for %d images of %d pixels", len(m), n, hw)
	}
	if cap(o.mask) < n*c*hw {
		o.mask = make([]bool, n*c*hw)
	}
	o.mask = o.mask[:n*c*hw]
	for i := range n {
		for ch := range c {
			dst := o.mask[(i*c+ch)*hw : (i*c+ch+1)*hw]
			for j, v := range m[i*hw : (i+1)*hw] {
				dst[j] = v != 0
			}
		}
	}
	return o.p.Step(x, target, o.mask)
}
func (o *inpaintObj) model() trainer.Layer[float32]      { return o.seq }
func (o *inpaintObj) opt() trainer.Optimizer[float32]    { return o.p.Opt }
func (o *inpaintObj) steps() int64                       { return o.p.Steps() }
func (o *inpaintObj) setSteps(n int64)                   { o.p.SetSteps(n) }
func (o *inpaintObj) encoder() *trainer.Encoder[float32] { return o.enc }

type rotationObj struct {
	c      *trainer.Classifier
	seq    *trainer.Sequential[float32]
	labels []int
}

func (o *rotationObj) kind() arrowpair.Kind { return arrowpair.Rotation }
func (o *rotationObj) step(rec arrow.RecordBatch) (trainer.StepResult, error) {
	x, err := tensorsOf(rec, "view")
	if err != nil {
		return trainer.StepResult{}, err
	}
	labels, err := classes(rec, "rotation", &o.labels)
	if err != nil {
		return trainer.StepResult{}, err
	}
	return o.c.Step(x, labels), nil
}
func (o *rotationObj) model() trainer.Layer[float32]      { return o.seq }
func (o *rotationObj) opt() trainer.Optimizer[float32]    { return o.c.Opt }
func (o *rotationObj) steps() int64                       { return o.c.Steps() }
func (o *rotationObj) setSteps(n int64)                   { o.c.SetSteps(n) }
func (o *rotationObj) encoder() *trainer.Encoder[float32] { return o.c.Encoder }

type patchObj struct {
	p      *trainer.RelativePatch
	seq    *trainer.Sequential[float32]
	labels []int
	buf    []float32
}

func (o *patchObj) kind() arrowpair.Kind { return arrowpair.RelativePatch }
func (o *patchObj) step(rec arrow.RecordBatch) (trainer.StepResult, error) {
	a, err := tensorsOf(rec, "patch_a")
	if err != nil {
		return trainer.StepResult{}, err
	}
	b, err := tensorsOf(rec, "patch_b")
	if err != nil {
		return trainer.StepResult{}, err
	}
	labels, err := classes(rec, "position", &o.labels)
	if err != nil {
		return trainer.StepResult{}, err
	}
	// Centre patches in rows 0..N−1, neighbours in N..2N−1.
	o.buf = append(append(o.buf[:0], a.Data...), b.Data...)
	x := trainer.Tensor[float32]{Data: o.buf, Shape: []int{2 * a.Shape[0], a.Shape[1], a.Shape[2], a.Shape[3]}}
	return o.p.Step(x, labels)
}
func (o *patchObj) model() trainer.Layer[float32]      { return o.seq }
func (o *patchObj) opt() trainer.Optimizer[float32]    { return o.p.Opt }
func (o *patchObj) steps() int64                       { return o.p.Steps() }
func (o *patchObj) setSteps(n int64)                   { o.p.SetSteps(n) }
func (o *patchObj) encoder() *trainer.Encoder[float32] { return o.p.Encoder }
