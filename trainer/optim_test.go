package trainer

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu/cputest"
	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// Three steps on w = [0.5, −1.5, 2], b = [0.25] (b is a bias: NoDecay) with
// fixed gradients and learning rates 0.1, 0.05, 0.02. The expected values
// were printed by torch 1.13 (Debian python3-torch, float64) running the
// same steps with torch.optim.SGD / Adam / AdamW.
var (
	optW0 = []float64{0.5, -1.5, 2.0}
	optB0 = []float64{0.25}
	optGW = [][]float64{{0.1, -0.2, 0.3}, {-0.4, 0.5, 0.25}, {0.2, 0.1, -0.3}}
	optGB = [][]float64{{0.05}, {-0.1}, {0.2}}
	optLR = []float64{0.1, 0.05, 0.02}
)

func optParams() []*Param[float64] {
	w := newParam[float64]("w", false, 3)
	b := newParam[float64]("b", true, 1)
	copy(w.W, optW0)
	copy(b.W, optB0)
	return []*Param[float64]{w, b}
}

func runOpt(t *testing.T, ps []*Param[float64], o Optimizer[float64]) []float64 {
	t.Helper()
	for s := range optGW {
		copy(ps[0].G, optGW[s])
		copy(ps[1].G, optGB[s])
		o.Step(optLR[s])
	}
	if o.Steps() != 3 {
		t.Errorf("steps %d", o.Steps())
	}
	return append(append([]float64{}, ps[0].W...), ps[1].W...)
}

func TestOptimizersMatchPyTorch(t *testing.T) {
	cases := []struct {
		name string
		mk   func(ps []*Param[float64]) (Optimizer[float64], error)
		want []float64
	}{
		{"sgd-momentum-wd", func(ps []*Param[float64]) (Optimizer[float64], error) {
			return NewSGD(ps, 0.9, false, DecayOptions{WeightDecay: 0.1})
		}, []float64{0.49473035, -1.46668415, 1.8913294999999999, 0.238575175}},
		{"sgd-nesterov", func(ps []*Param[float64]) (Optimizer[float64], error) {
			return NewSGD(ps, 0.9, true, DecayOptions{WeightDecay: 0.1})
		}, []float64{0.49297892614999994, -1.4521592943500001, 1.8328733705000002, 0.23160556307499996}},
		{"sgd-plain", func(ps []*Param[float64]) (Optimizer[float64], error) {
			return NewSGD(ps, 0, false, DecayOptions{})
		}, []float64{0.506, -1.507, 1.9635, 0.246}},
		{"sgd-exclude-bias", func(ps []*Param[float64]) (Optimizer[float64], error) {
			return NewSGD(ps, 0.9, false, DecayOptions{WeightDecay: 0.1, ExcludeBNAndBias: true})
		}, []float64{0.49473035, -1.46668415, 1.8913294999999999, 0.24473999999999999}},
		{"adam-l2", func(ps []*Param[float64]) (Optimizer[float64], error) {
			return NewAdam(ps, DecayOptions{WeightDecay: 0.1})
		}, []float64{0.4203631964595594, -1.4033396778302603, 1.8372897412559652, 0.14526158210408313}},
		{"adamw", func(ps []*Param[float64]) (Optimizer[float64], error) {
			return NewAdamW(ps, DecayOptions{WeightDecay: 0.1})
		}, []float64{0.42236165652100643, -1.4064409328039138, 1.8130383928080702, 0.15634444681513804}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := optParams()
			o, err := c.mk(ps)
			if err != nil {
				t.Fatal(err)
			}
			got := runOpt(t, ps, o)
			for i := range got {
				if math.Abs(got[i]-c.want[i]) > 1e-12 {
					t.Errorf("param %d: got %.17g, PyTorch %.17g", i, got[i], c.want[i])
				}
			}
		})
	}
}

// TestLARS checks LARS against its formula worked by hand for each step.
func TestLARS(t *testing.T) {
	ps := optParams()
	o, err := NewLARS(ps, 0.9, 0.001, DecayOptions{WeightDecay: 0.1, ExcludeBNAndBias: true})
	if err != nil {
		t.Fatal(err)
	}
	w := append([]float64{}, optW0...)
	b := optB0[0]
	vw := make([]float64, 3)
	vb := 0.0
	for s := range optGW {
		g := make([]float64, 3)
		var wn, gn float64
		for i := range g {
			g[i] = optGW[s][i] + 0.1*w[i]
			wn += w[i] * w[i]
			gn += g[i] * g[i]
		}
		slr := optLR[s] * 0.001 * math.Sqrt(wn) / math.Sqrt(gn)
		for i := range w {
			vw[i] = 0.9*vw[i] + slr*g[i]
			w[i] -= vw[i]
		}
		vb = 0.9*vb + optLR[s]*optGB[s][0] // bias: no decay, no adaptation
		b -= vb
	}
	got := runOpt(t, ps, o)
	want := append(w, b)
	for i := range got {
		if math.Abs(got[i]-want[i]) > 1e-14 {
			t.Errorf("param %d: got %.17g, want %.17g", i, got[i], want[i])
		}
	}
}

func TestOptimizerConfigErrors(t *testing.T) {
	ps := optParams()
	if _, err := NewSGD(ps, 0, true, DecayOptions{}); !errors.Is(err, ErrConfig) {
		t.Errorf("nesterov without momentum: %v", err)
	}
	if _, err := NewAdam(ps, DecayOptions{WeightDecay: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("negative decay: %v", err)
	}
	if _, err := NewLARS(ps, 0.9, 0, DecayOptions{}); !errors.Is(err, ErrConfig) {
		t.Errorf("eta 0: %v", err)
	}
	if _, err := NewWarmupCosine(1, 0, 10, 5); !errors.Is(err, ErrConfig) {
		t.Errorf("warmup > total: %v", err)
	}
}

func TestWarmupCosine(t *testing.T) {
	s, err := NewWarmupCosine(0.4, 0, 4, 14)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]float64{0: 0.1, 1: 0.2, 3: 0.4, 4: 0.4, 9: 0.2, 14: 0, 20: 0}
	for step, lr := range want {
		if got := s.LR(step); math.Abs(got-lr) > 1e-15 {
			t.Errorf("step %d: lr %v, want %v", step, got, lr)
		}
	}
	// Without warm-up: CosineAnnealingLR(T_max=117·50) stepped per step.
	c := WarmupCosine{Base: 0.24, Total: 5850}
	if got, want := c.LR(1000), 0.24*0.5*(1+math.Cos(math.Pi*1000/5850)); got != want {
		t.Errorf("cosine %v, want %v", got, want)
	}
}

// TestOptimizersKernFloat32: float32 SGD (momentum, with and without
// weight decay, BatchNorm/bias exclusion) and LARS take their momentum
// steps on kern.MomentumStep; on every tier the weights and the optimiser
// state after four steps must be bit-identical to the plain loops
// (useKern off), for parameter lengths with SIMD tails.
func TestOptimizersKernFloat32(t *testing.T) {
	mk := []struct {
		name string
		f    func(ps []*Param[float32]) (Optimizer[float32], error)
	}{
		{"sgd-momentum-wd", func(ps []*Param[float32]) (Optimizer[float32], error) {
			return NewSGD(ps, 0.9, false, DecayOptions{WeightDecay: 1e-4})
		}},
		{"sgd-momentum", func(ps []*Param[float32]) (Optimizer[float32], error) { return NewSGD(ps, 0.9, false, DecayOptions{}) }},
		{"sgd-exclude", func(ps []*Param[float32]) (Optimizer[float32], error) {
			return NewSGD(ps, 0.9, false, DecayOptions{WeightDecay: 1e-4, ExcludeBNAndBias: true})
		}},
		{"lars", func(ps []*Param[float32]) (Optimizer[float32], error) {
			return NewLARS(ps, 0.9, 0.001, DecayOptions{WeightDecay: 1e-6, ExcludeBNAndBias: true})
		}},
	}
	run := func(t *testing.T, kernOn bool, f func(ps []*Param[float32]) (Optimizer[float32], error)) ([]*Param[float32], Optimizer[float32]) {
		old := useKern
		useKern = kernOn
		defer func() { useKern = old }()
		r := NewRNG(5)
		var ps []*Param[float32]
		for i, n := range []int{1, 7, 8, 31, 100, 1027} {
			p := newParam[float32](fmt.Sprint("p", i), i%2 == 1, n)
			for j := range p.W {
				p.W[j] = float32(r.Normal())
			}
			ps = append(ps, p)
		}
		o, err := f(ps)
		if err != nil {
			t.Fatal(err)
		}
		for s := 0; s < 4; s++ {
			for _, p := range ps {
				for j := range p.G {
					p.G[j] = float32(r.Normal())
				}
			}
			o.Step(0.1 / float64(s+1))
		}
		return ps, o
	}
	cputest.ForEachTier(t, kern.TierVar(), kern.TopTier(), func(t *testing.T) {
		for _, c := range mk {
			want, wo := run(t, false, c.f)
			got, gotO := run(t, true, c.f)
			for i := range want {
				if !equalBits(want[i].W, got[i].W) {
					t.Fatalf("%s: parameter %s differs from the plain loop", c.name, want[i].Name)
				}
			}
			for i, b := range wo.State() {
				if !equalBits(b.Data, gotO.State()[i].Data) {
					t.Fatalf("%s: state %s differs from the plain loop", c.name, b.Name)
				}
			}
		}
	})
}
