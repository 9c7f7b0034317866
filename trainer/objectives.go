package trainer

import "fmt"

// Classifier trains an encoder and a linear head with softmax cross-entropy:
// rotation prediction (4 classes), supervised training and fine-tuning
// (labels), or linear evaluation with a frozen encoder.
type Classifier struct {
	Encoder *Encoder[float32]
	Head    *Sequential[float32]
	Loss    *SoftmaxCrossEntropy[float32]
	Opt     Optimizer[float32]
	// Frozen keeps the encoder fixed in evaluation mode (linear evaluation):
	// only the head is trained and no gradient flows into the encoder.
	Frozen   bool
	Schedule Schedule
	step     int64
}

// NewClassifier puts a Linear(enc.Dim, classes) head ("head." names) on enc
// and builds the optimiser over the head, and over the encoder too unless
// frozen. cfg supplies the optimiser, schedule, decay and seed.
func NewClassifier(enc *Encoder[float32], classes int, frozen bool, cfg Config) (*Classifier, error) {
	if classes < 2 {
		return nil, fmt.Errorf("trainer: classifier with %d classes: %w", classes, ErrConfig)
	}
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	c := &Classifier{Encoder: enc, Head: ClassifierHead[float32]("head.", enc.Dim, classes, NewRNG(cfg.Seed)),
		Loss: NewSoftmaxCrossEntropy[float32](), Frozen: frozen, Schedule: cfg.Schedule}
	params := c.Head.Params()
	if !frozen {
		params = append(enc.Params(), params...)
	}
	var err error
	c.Opt, err = NewOptimizer(cfg.Optimizer, params, cfg.Momentum, cfg.DecayOptions)
	return c, err
}

// Step trains on images x [N, C, H, W] with labels in [0, classes).
func (c *Classifier) Step(x Tensor[float32], labels []int) StepResult {
	c.Encoder.SetTraining(!c.Frozen)
	h := c.Encoder.Forward(x)
	loss := c.Loss.Forward(c.Head.Forward(h), labels)
	dh := c.Head.Backward(c.Loss.Backward())
	if !c.Frozen {
		c.Encoder.Backward(dh)
	}
	lr := c.Schedule.LR(int(c.step))
	c.Opt.Step(lr)
	c.step++
	return StepResult{Loss: loss, LR: lr}
}

// Predict returns the logits [N, classes] with BatchNorm in evaluation
// mode; the tensor is owned by the head.
func (c *Classifier) Predict(x Tensor[float32]) Tensor[float32] {
	c.Encoder.SetTraining(false)
	c.Head.SetTraining(false)
	return c.Head.Forward(c.Encoder.Forward(x))
}

// Inpainter trains an encoder to reconstruct masked pixels: the encoder's
// last feature map (everything before its global pool) goes through
// InpaintingDecoder, and MaskedMSE compares the output with the original
// image on the masked pixels.
type Inpainter struct {
	Features *Sequential[float32] // the encoder without its final global pool
	Decoder  *Sequential[float32]
	Loss     *MaskedMSE[float32]
	Opt      Optimizer[float32]
	Schedule Schedule
	step     int64
}

// NewInpainter builds the decoder (mid channels, "dec." names) on enc, whose
// last layer must be a GlobalAvgPool. The encoder's layers are shared, not
// copied: training the inpainter trains enc.
func NewInpainter(enc *Encoder[float32], channels, mid int, cfg Config) (*Inpainter, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	last := len(enc.Layers) - 1
	if _, ok := enc.Layers[last].(*GlobalAvgPool[float32]); !ok || last < 1 {
		return nil, fmt.Errorf("trainer: inpainting needs an encoder ending in a global pool: %w", ErrConfig)
	}
	feat := NewSequential[float32](enc.Layers[:last]...)
	p := &Inpainter{Features: feat, Decoder: InpaintingDecoder[float32]("dec.", enc.Dim, mid, channels, NewRNG(cfg.Seed)),
		Loss: NewMaskedMSE[float32](), Schedule: cfg.Schedule}
	var err error
	p.Opt, err = NewOptimizer(cfg.Optimizer, append(feat.Params(), p.Decoder.Params()...), cfg.Momentum, cfg.DecayOptions)
	return p, err
}

// Step trains on masked images x and the originals target (both
// [N, C, H, W], H and W multiples of 4 as the decoder upsamples ×4), the
// loss taken where mask (one flag per target element) is true.
func (p *Inpainter) Step(x, target Tensor[float32], mask []bool) (StepResult, error) {
	p.Features.SetTraining(true)
	p.Decoder.SetTraining(true)
	y := p.Decoder.Forward(p.Features.Forward(x))
	if !sameShape(y.Shape, target.Shape) {
		return StepResult{}, fmt.Errorf("trainer: decoder output %v, target %v: %w", y.Shape, target.Shape, ErrShape)
	}
	if len(mask) != target.Len() {
		return StepResult{}, fmt.Errorf("trainer: mask of %d for target %v: %w", len(mask), target.Shape, ErrShape)
	}
	loss := p.Loss.Forward(y, target, mask)
	p.Features.Backward(p.Decoder.Backward(p.Loss.Backward()))
	lr := p.Schedule.LR(int(p.step))
	p.Opt.Step(lr)
	p.step++
	return StepResult{Loss: loss, LR: lr}, nil
}

// RelativePatch trains an encoder to predict where a patch lies relative to
// a centre patch (8 classes, Doersch et al. 2015): both patches of each pair
// go through the encoder in one forward pass of 2N patches (centre patches
// in rows 0..N−1, neighbours in rows N..2N−1), their embeddings are
// concatenated ([N, 2d]) and RelativePatchHead classifies them.
type RelativePatch struct {
	Encoder  *Encoder[float32]
	Head     *Sequential[float32]
	Loss     *SoftmaxCrossEntropy[float32]
	Opt      Optimizer[float32]
	Schedule Schedule
	step     int64

	cat, ga, gb, dh []float32
}

// NewRelativePatch builds the head (hidden units, "head." names) on enc and
// the optimiser over both.
func NewRelativePatch(enc *Encoder[float32], hidden int, cfg Config) (*RelativePatch, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if hidden < 1 {
		return nil, fmt.Errorf("trainer: relative-patch head with %d hidden units: %w", hidden, ErrConfig)
	}
	p := &RelativePatch{Encoder: enc, Head: RelativePatchHead[float32]("head.", enc.Dim, hidden, NewRNG(cfg.Seed)),
		Loss: NewSoftmaxCrossEntropy[float32](), Schedule: cfg.Schedule}
	var err error
	p.Opt, err = NewOptimizer(cfg.Optimizer, append(enc.Params(), p.Head.Params()...), cfg.Momentum, cfg.DecayOptions)
	return p, err
}

// Step trains on patches x [2N, C, H, W] (pair i is rows i and N+i) with
// labels in [0, 8).
func (p *RelativePatch) Step(x Tensor[float32], labels []int) (StepResult, error) {
	if len(x.Shape) != 4 || x.Shape[0]%2 != 0 || len(labels) != x.Shape[0]/2 {
		return StepResult{}, fmt.Errorf("trainer: relative-patch batch %v with %d labels: %w", x.Shape, len(labels), ErrShape)
	}
	n := x.Shape[0] / 2
	p.Encoder.SetTraining(true)
	h := p.Encoder.Forward(x)
	d := h.Shape[1]
	a := Tensor[float32]{Data: h.Data[:n*d], Shape: []int{n, d}}
	b := Tensor[float32]{Data: h.Data[n*d:], Shape: []int{n, d}}
	loss := p.Loss.Forward(p.Head.Forward(ConcatPairs(a, b, &p.cat)), labels)
	ga, gb := SplitPairs(p.Head.Backward(p.Loss.Backward()), d, &p.ga, &p.gb)
	dh := ensure(&p.dh, 2*n, d)
	copy(dh.Data[:n*d], ga.Data)
	copy(dh.Data[n*d:], gb.Data)
	p.Encoder.Backward(dh)
	lr := p.Schedule.LR(int(p.step))
	p.Opt.Step(lr)
	p.step++
	return StepResult{Loss: loss, LR: lr}, nil
}
