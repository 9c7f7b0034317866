package trainer

import (
	"fmt"
	"math"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// Optimizer updates parameters from their gradients. Step applies one
// update with learning rate lr (from a Schedule). State lists the named
// tensors a checkpoint must keep to resume bit-identically; Steps is the
// number of updates taken.
type Optimizer[T Float] interface {
	Step(lr float64)
	State() []*Buffer[T]
	Steps() int64
	SetSteps(n int64)
}

// DecayOptions says which parameters get weight decay.
type DecayOptions struct {
	WeightDecay float64
	// ExcludeBNAndBias skips weight decay (and LARS adaptation) on
	// BatchNorm parameters and biases (Param.NoDecay). The default (false)
	// decays every parameter, as PyTorch's optimisers do.
	ExcludeBNAndBias bool
}

// rate is the weight decay for a parameter with the given NoDecay mark.
func (d DecayOptions) rate(noDecay bool) float64 {
	if d.ExcludeBNAndBias && noDecay {
		return 0
	}
	return d.WeightDecay
}

func stateBuffers[T Float](params []*Param[T], suffix string) []*Buffer[T] {
	out := make([]*Buffer[T], len(params))
	for i, p := range params {
		out[i] = &Buffer[T]{Name: "optim." + p.Name + "." + suffix, Shape: p.Shape, Data: make([]T, len(p.W))}
	}
	return out
}

// SGD is torch.optim.SGD: g ← g + wd·w; with momentum μ, b ← g on the first
// step and b ← μ·b + (1−dampening)·g after; Nesterov uses g + μ·b, else b;
// w ← w − lr·update.
type SGD[T Float] struct {
	Momentum, Dampening float64
	Nesterov            bool
	DecayOptions
	params []*Param[T]
	buf    []*Buffer[T]
	steps  int64
}

// NewSGD returns SGD over params.
func NewSGD[T Float](params []*Param[T], momentum float64, nesterov bool, decay DecayOptions) (*SGD[T], error) {
	if momentum < 0 || decay.WeightDecay < 0 || (nesterov && momentum == 0) {
		return nil, fmt.Errorf("trainer: SGD momentum %v, weight decay %v, nesterov %v: %w", momentum, decay.WeightDecay, nesterov, ErrConfig)
	}
	return &SGD[T]{Momentum: momentum, Nesterov: nesterov, DecayOptions: decay, params: params, buf: stateBuffers(params, "momentum_buffer")}, nil
}

// Step implements Optimizer.
func (o *SGD[T]) Step(lr float64) {
	mu, damp := T(o.Momentum), T(1-o.Dampening)
	tlr := T(lr)
	for k, p := range o.params {
		wd := T(o.rate(p.NoDecay))
		b := o.buf[k].Data
		if w32, ok := f32(p.W); ok && mu != 0 && o.steps > 0 && !o.Nesterov {
			// The loop below, elementwise on kern's SIMD tiers.
			kern.MomentumStep(w32, as32(p.G), as32(b), float32(wd), float32(mu), float32(damp), float32(tlr))
			continue
		}
		// The conversions round each product, as kern.MomentumStep does:
		// the compiler may not fuse them into multiply-adds.
		for i, g := range p.G {
			w := p.W[i]
			if wd != 0 {
				g += T(wd * w)
			}
			if mu != 0 {
				if o.steps == 0 {
					b[i] = g
				} else {
					b[i] = T(mu*b[i]) + T(damp*g)
				}
				if o.Nesterov {
					g += T(mu * b[i])
				} else {
					g = b[i]
				}
			}
			p.W[i] = w - T(tlr*g)
		}
	}
	o.steps++
}

// State implements Optimizer.
func (o *SGD[T]) State() []*Buffer[T] { return o.buf }

// Steps implements Optimizer.
func (o *SGD[T]) Steps() int64 { return o.steps }

// SetSteps implements Optimizer.
func (o *SGD[T]) SetSteps(n int64) { o.steps = n }

// Adam is torch.optim.Adam (weight decay added to the gradient, L2) or, with
// Decoupled, torch.optim.AdamW (w ← w·(1 − lr·wd) before the update). The
// update follows PyTorch's order of operations:
// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², denom = √v/√(1−β2ᵗ) + ε,
// w ← w − lr/(1−β1ᵗ)·m/denom.
type Adam[T Float] struct {
	Beta1, Beta2, Eps float64
	Decoupled         bool
	DecayOptions
	params []*Param[T]
	m, v   []*Buffer[T]
	steps  int64
}

// NewAdam returns Adam (β 0.9, 0.999, ε 1e-8) over params.
func NewAdam[T Float](params []*Param[T], decay DecayOptions) (*Adam[T], error) {
	if decay.WeightDecay < 0 {
		return nil, fmt.Errorf("trainer: Adam weight decay %v: %w", decay.WeightDecay, ErrConfig)
	}
	return &Adam[T]{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, DecayOptions: decay, params: params,
		m: stateBuffers(params, "exp_avg"), v: stateBuffers(params, "exp_avg_sq")}, nil
}

// NewAdamW returns AdamW (β 0.9, 0.999, ε 1e-8; PyTorch's default weight
// decay is 0.01) over params.
func NewAdamW[T Float](params []*Param[T], decay DecayOptions) (*Adam[T], error) {
	a, err := NewAdam(params, decay)
	if err == nil {
		a.Decoupled = true
	}
	return a, err
}

// Step implements Optimizer.
func (o *Adam[T]) Step(lr float64) {
	o.steps++
	t := float64(o.steps)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2s := T(math.Sqrt(1 - math.Pow(o.Beta2, t)))
	stepSize := T(lr / bc1)
	b1, b2, eps := T(o.Beta1), T(o.Beta2), T(o.Eps)
	for k, p := range o.params {
		wd := T(o.rate(p.NoDecay))
		shrink := T(1 - lr*float64(wd))
		m, v := o.m[k].Data, o.v[k].Data
		for i, g := range p.G {
			w := p.W[i]
			if o.Decoupled {
				w *= shrink
			} else if wd != 0 {
				g += wd * w
			}
			m[i] = m[i]*b1 + g*(1-b1)
			v[i] = v[i]*b2 + (1-b2)*g*g
			denom := T(math.Sqrt(float64(v[i])))/bc2s + eps
			p.W[i] = w - stepSize*(m[i]/denom)
		}
	}
}

// State implements Optimizer.
func (o *Adam[T]) State() []*Buffer[T] { return append(append([]*Buffer[T]{}, o.m...), o.v...) }

// Steps implements Optimizer.
func (o *Adam[T]) Steps() int64 { return o.steps }

// SetSteps implements Optimizer.
func (o *Adam[T]) SetSteps(n int64) { o.steps = n }

// LARS is SimCLR's optimiser (its lars_optimizer.py): g ← g + wd·w; for
// adapted parameters the learning rate is scaled by the trust ratio
// η·‖w‖/‖g‖ (1 when either norm is 0); v ← μ·v + lr'·g;
// w ← w − (Nesterov ? μ·v + lr'·g : v). With ExcludeBNAndBias, BatchNorm
// parameters and biases get neither decay nor adaptation.
type LARS[T Float] struct {
	Momentum, Eta float64
	Nesterov      bool
	DecayOptions
	params []*Param[T]
	v      []*Buffer[T]
	steps  int64
}

// NewLARS returns LARS over params (SimCLR: momentum 0.9, η 0.001).
func NewLARS[T Float](params []*Param[T], momentum, eta float64, decay DecayOptions) (*LARS[T], error) {
	if momentum < 0 || eta <= 0 || decay.WeightDecay < 0 {
		return nil, fmt.Errorf("trainer: LARS momentum %v, eta %v, weight decay %v: %w", momentum, eta, decay.WeightDecay, ErrConfig)
	}
	return &LARS[T]{Momentum: momentum, Eta: eta, DecayOptions: decay, params: params, v: stateBuffers(params, "momentum")}, nil
}

// Step implements Optimizer.
func (o *LARS[T]) Step(lr float64) {
	mu := T(o.Momentum)
	for k, p := range o.params {
		wd := T(o.rate(p.NoDecay))
		g := p.G
		if wd != 0 {
			for i := range g {
				g[i] += T(wd * p.W[i])
			}
		}
		slr := lr
		if !(o.ExcludeBNAndBias && p.NoDecay) {
			var wn, gn float64
			for i := range g {
				wn += float64(p.W[i]) * float64(p.W[i])
				gn += float64(g[i]) * float64(g[i])
			}
			if wn > 0 && gn > 0 {
				slr = lr * o.Eta * math.Sqrt(wn) / math.Sqrt(gn)
			}
		}
		tl := T(slr)
		v := o.v[k].Data
		if w32, ok := f32(p.W); ok && !o.Nesterov {
			// The loop below (w − 1·v = w − v exactly), on kern.
			kern.MomentumStep(w32, as32(g), as32(v), 0, float32(mu), float32(tl), 1)
			continue
		}
		for i, gi := range g {
			v[i] = T(mu*v[i]) + T(tl*gi)
			if o.Nesterov {
				p.W[i] -= T(mu*v[i]) + T(tl*gi)
			} else {
				p.W[i] -= v[i]
			}
		}
	}
	o.steps++
}

// State implements Optimizer.
func (o *LARS[T]) State() []*Buffer[T] { return o.v }

// Steps implements Optimizer.
func (o *LARS[T]) Steps() int64 { return o.steps }

// SetSteps implements Optimizer.
func (o *LARS[T]) SetSteps(n int64) { o.steps = n }

// Schedule gives the learning rate for a step (0-based).
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR implements Schedule.
func (c Constant) LR(int) float64 { return float64(c) }

// WarmupCosine ramps linearly to Base over Warmup steps
// (Base·(step+1)/Warmup), then follows a half cosine from Base to Final at
// step Total (CosineAnnealingLR with T_max = Total − Warmup, stepped per
// step), and stays at Final after.
type WarmupCosine struct {
	Base, Final   float64
	Warmup, Total int
}

// NewWarmupCosine validates the schedule.
func NewWarmupCosine(base, final float64, warmup, total int) (WarmupCosine, error) {
	if base < 0 || final < 0 || warmup < 0 || total < warmup || total < 1 {
		return WarmupCosine{}, fmt.Errorf("trainer: schedule base %v final %v warmup %d total %d: %w", base, final, warmup, total, ErrConfig)
	}
	return WarmupCosine{Base: base, Final: final, Warmup: warmup, Total: total}, nil
}

// LR implements Schedule.
func (s WarmupCosine) LR(step int) float64 {
	if step < s.Warmup {
		return s.Base * float64(step+1) / float64(s.Warmup)
	}
	if step >= s.Total {
		return s.Final
	}
	t := float64(step-s.Warmup) / float64(s.Total-s.Warmup)
	return s.Final + (s.Base-s.Final)*0.5*(1+math.Cos(math.Pi*t))
}
