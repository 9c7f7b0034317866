package trainer

import "fmt"

// Config chooses a model and optimiser. Zero values take the defaults
// noted.
type Config struct {
	Model     string  // "smallcnn" (default) or "resnet18"
	Channels  int     // input channels, default 3
	Tau       float64 // NT-Xent temperature, default 0.5
	Optimizer string  // "sgd" (default), "nesterov", "adam", "adamw", "lars"
	Momentum  float64 // SGD/LARS momentum, default 0.9
	// Schedule gives the learning rate per step; default Constant(0.1).
	Schedule Schedule
	DecayOptions
	Seed uint64
}

func (c *Config) fill() error {
	if c.Model == "" {
		c.Model = "smallcnn"
	}
	if c.Channels == 0 {
		c.Channels = 3
	}
	if c.Tau == 0 {
		c.Tau = 0.5
	}
	if c.Optimizer == "" {
		c.Optimizer = "sgd"
	}
	if c.Momentum == 0 {
		c.Momentum = 0.9
	}
	if c.Schedule == nil {
		c.Schedule = Constant(0.1)
	}
	if c.Channels < 1 || c.Tau <= 0 {
		return fmt.Errorf("trainer: channels %d, tau %v: %w", c.Channels, c.Tau, ErrConfig)
	}
	return nil
}

// NewEncoder builds the named encoder ("smallcnn" or "resnet18").
func NewEncoder(model, prefix string, channels int, r *RNG) (*Encoder[float32], error) {
	switch model {
	case "smallcnn":
		return SmallCNN[float32](prefix, channels, r), nil
	case "resnet18":
		return ResNet18[float32](prefix, channels, r), nil
	}
	return nil, fmt.Errorf("trainer: unknown model %q (want smallcnn or resnet18): %w", model, ErrConfig)
}

// NewOptimizer builds the named optimiser over params.
func NewOptimizer(name string, params []*Param[float32], momentum float64, decay DecayOptions) (Optimizer[float32], error) {
	switch name {
	case "sgd":
		return NewSGD(params, momentum, false, decay)
	case "nesterov":
		return NewSGD(params, momentum, true, decay)
	case "adam":
		return NewAdam(params, decay)
	case "adamw":
		return NewAdamW(params, decay)
	case "lars":
		return NewLARS(params, momentum, 0.001, decay)
	}
	return nil, fmt.Errorf("trainer: unknown optimizer %q: %w", name, ErrConfig)
}

// SimCLR trains an encoder and projection head with NT-Xent, both views of
// every source image in one forward pass of 2N views (BatchNorm statistics
// over all of them).
type SimCLR struct {
	Encoder *Encoder[float32]
	Head    *Sequential[float32]
	Loss    *NTXent[float32]
	Opt     Optimizer[float32]
	Config  Config

	step int64
	in   []float32
	// Profile, when set, receives the time per layer kind.
	prof *Profile
}

// StepResult reports one training step.
type StepResult struct {
	Loss     float64
	Accuracy float64 // share of views whose nearest other view is their positive
	LR       float64
}

// NewSimCLR builds the encoder ("enc." names), the projection head ("head."
// names), the loss and the optimiser, initialised from cfg.Seed.
func NewSimCLR(cfg Config) (*SimCLR, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	r := NewRNG(cfg.Seed)
	enc, err := NewEncoder(cfg.Model, "enc.", cfg.Channels, r)
	if err != nil {
		return nil, err
	}
	s := &SimCLR{Encoder: enc, Head: ProjectionHead[float32]("head.", enc.Dim, r), Loss: NewNTXent[float32](cfg.Tau), Config: cfg}
	s.Opt, err = NewOptimizer(cfg.Optimizer, s.Params(), cfg.Momentum, cfg.DecayOptions)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Params lists the encoder's then the head's parameters.
func (s *SimCLR) Params() []*Param[float32] {
	return append(s.Encoder.Params(), s.Head.Params()...)
}

// Model is the encoder and head as one layer (for checkpoints).
func (s *SimCLR) Model() *Sequential[float32] {
	return NewSequential[float32](s.Encoder, s.Head)
}

// SetProfile records time per layer kind into p (nil stops it).
func (s *SimCLR) SetProfile(p *Profile) {
	s.prof = p
	s.Encoder.SetProfile(p)
	s.Head.SetProfile(p)
}

// Steps is the number of steps taken.
func (s *SimCLR) Steps() int64 { return s.step }

// SetSteps sets the step counter (after loading a checkpoint).
func (s *SimCLR) SetSteps(n int64) { s.step = n }

// Step runs one training step on a batch: forward of the 2N views through
// encoder and head, NT-Xent, backward, optimiser update. It is deterministic:
// the same state and batch give bit-identical weights.
func (s *SimCLR) Step(b ViewBatch) (StepResult, error) {
	x, err := b.Into(&s.in)
	if err != nil {
		return StepResult{}, err
	}
	if x.Shape[1] != s.Config.Channels {
		return StepResult{}, fmt.Errorf("trainer: batch has %d channels, model %d: %w", x.Shape[1], s.Config.Channels, ErrShape)
	}
	return s.StepTensor(x), nil
}

// StepTensor is Step on an assembled [2N, C, H, W] tensor whose rows i and
// N+i are two views of one image.
func (s *SimCLR) StepTensor(x Tensor[float32]) StepResult {
	loss := s.Gradients(x)
	lr := s.Config.Schedule.LR(int(s.step))
	s.timedOptStep(lr)
	s.step++
	return StepResult{Loss: loss, Accuracy: s.Loss.Accuracy(), LR: lr}
}

// Gradients runs forward and backward on x [2N, C, H, W] (training mode),
// leaving the gradients in the parameters' G, and returns the loss; it does
// not update the weights.
func (s *SimCLR) Gradients(x Tensor[float32]) float64 {
	s.Encoder.SetTraining(true)
	s.Head.SetTraining(true)
	h := s.Encoder.Forward(x)
	z := s.Head.Forward(h)
	loss := s.timedLoss(z)
	dz := s.timedLossBackward()
	dh := s.Head.Backward(dz)
	s.Encoder.Backward(dh)
	return loss
}

// Forward computes the loss without updating anything (BatchNorm in
// training mode, as in the benchmark's forward-only measurement).
func (s *SimCLR) Forward(x Tensor[float32]) float64 {
	return s.timedLoss(s.Head.Forward(s.Encoder.Forward(x)))
}
