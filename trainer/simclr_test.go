package trainer

import (
	"bytes"
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// toyViews makes n random 1×12×12 images in two views that differ by small
// noise: an easy contrastive task.
func toyViews(n int, seed uint64) ViewBatch {
	r := NewRNG(seed)
	per := 12 * 12
	a, b := make([]float32, n*per), make([]float32, n*per)
	for i := range a {
		v := r.Uniform(-1, 1)
		a[i] = float32(v + 0.1*r.Normal())
		b[i] = float32(v + 0.1*r.Normal())
	}
	return ViewBatch{N: n, C: 1, H: 12, W: 12, F32: [2][]float32{a, b}}
}

// toyViews3 is toyViews with three channels of side×side.
func toyViews3(n, side int, seed uint64) ViewBatch {
	r := NewRNG(seed)
	per := 3 * side * side
	a, b := make([]float32, n*per), make([]float32, n*per)
	for i := range a {
		v := r.Uniform(-1, 1)
		a[i] = float32(v + 0.1*r.Normal())
		b[i] = float32(v + 0.1*r.Normal())
	}
	return ViewBatch{N: n, C: 3, H: side, W: side, F32: [2][]float32{a, b}}
}

func TestSimCLRLossDecreases(t *testing.T) {
	s, err := NewSimCLR(Config{Channels: 1, Seed: 1, Schedule: Constant(0.05)})
	if err != nil {
		t.Fatal(err)
	}
	b := toyViews(8, 2)
	first, err := s.Step(b)
	if err != nil {
		t.Fatal(err)
	}
	var last StepResult
	for i := 0; i < 15; i++ {
		last, _ = s.Step(b)
	}
	t.Logf("NT-Xent %.4f → %.4f after 16 steps (accuracy %.2f → %.2f)", first.Loss, last.Loss, first.Accuracy, last.Accuracy)
	if !(last.Loss < first.Loss-0.1) {
		t.Fatalf("loss did not decrease: %.4f → %.4f", first.Loss, last.Loss)
	}
	if math.Abs(first.Loss-math.Log(15)) > 1 {
		t.Errorf("initial loss %.3f far from log(2N−1) = %.3f", first.Loss, math.Log(15))
	}
}

func snapshot(s *SimCLR) [][]float32 {
	var out [][]float32
	for _, p := range s.Params() {
		out = append(out, append([]float32(nil), p.W...))
	}
	for _, b := range s.Encoder.Buffers() {
		out = append(out, append([]float32(nil), b.Data...))
	}
	return out
}

func sameSnapshot(t *testing.T, a, b [][]float32) {
	t.Helper()
	for i := range a {
		if !equalBits(a[i], b[i]) {
			t.Fatalf("tensor %d differs", i)
		}
	}
}

// TestSimCLRDeterministic: same seed and batches give bit-identical weights,
// with one thread or all of them.
func TestSimCLRDeterministic(t *testing.T) {
	run := func(threads int) [][]float32 {
		oldP := runtime.GOMAXPROCS(threads)
		oldK := kern.SetThreads(threads)
		defer runtime.GOMAXPROCS(oldP)
		defer kern.SetThreads(oldK)
		s, err := NewSimCLR(Config{Channels: 1, Seed: 3, Optimizer: "adamw", Schedule: Constant(1e-3), DecayOptions: DecayOptions{WeightDecay: 0.01}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := s.Step(toyViews(6, uint64(i))); err != nil {
				t.Fatal(err)
			}
		}
		return snapshot(s)
	}
	a := run(1)
	sameSnapshot(t, a, run(2))
	sameSnapshot(t, a, run(1))
}

// TestSimCLRTiersBitIdentical: SimCLR steps of smallcnn and (without
// -short) resnet18 leave bit-identical weights on every SIMD tier (the kernels'
// promise: SGEMM and the convolutions reduce each element in the same order
// on every tile size), so a run can move between AVX2 and AVX-512 machines.
func TestSimCLRTiersBitIdentical(t *testing.T) {
	var simd []cpu.Tier
	for _, tr := range cpu.Tiers() {
		if tr > cpu.Generic && tr <= kern.TopTier() {
			simd = append(simd, tr)
		}
	}
	if len(simd) < 2 {
		t.Skipf("fewer than two SIMD kernel tiers here (%v)", simd)
	}
	t.Logf("tiers compared: %v", simd)
	models := []string{"smallcnn", "resnet18"}
	if testing.Short() {
		models = models[:1]
	}
	for _, model := range models {
		var first [][]float32
		for _, tr := range simd {
			old, err := kern.SetTier(tr)
			if err != nil {
				t.Fatal(err)
			}
			s, err := NewSimCLR(Config{Model: model, Channels: 3, Seed: 7, Schedule: Constant(0.05)})
			if err != nil {
				t.Fatal(err)
			}
			steps, n := 3, 8
			if model == "resnet18" {
				steps, n = 2, 4 // a second step reads what the first one wrote
			}
			for i := 0; i < steps; i++ {
				if _, err := s.Step(toyViews3(n, 32, uint64(i))); err != nil {
					t.Fatal(err)
				}
			}
			kern.SetTier(old)
			snap := snapshot(s)
			if first == nil {
				first = snap
				continue
			}
			t.Run(model+"/"+tr.String(), func(t *testing.T) { sameSnapshot(t, first, snap) })
		}
	}
}

// TestSimCLRResume: a run saved after two steps and resumed is
// bit-identical to an uninterrupted run.
func TestSimCLRResume(t *testing.T) {
	cfg := Config{Channels: 1, Seed: 5, Schedule: WarmupCosine{Base: 0.1, Warmup: 1, Total: 5}}
	full, _ := NewSimCLR(cfg)
	part, _ := NewSimCLR(cfg)
	for i := 0; i < 2; i++ {
		full.Step(toyViews(4, uint64(i)))
		part.Step(toyViews(4, uint64(i)))
	}
	var buf bytes.Buffer
	if err := SaveCheckpoint[float32](&buf, part.Model(), part.Opt, part.Steps(), `{"model":"smallcnn"}`); err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 77 // different initial weights: everything must come from the checkpoint
	resumed, _ := NewSimCLR(cfg)
	info, err := LoadCheckpoint[float32](&buf, "mem", resumed.Model(), resumed.Opt)
	if err != nil {
		t.Fatal(err)
	}
	resumed.SetSteps(info.Step)
	for i := 2; i < 4; i++ {
		full.Step(toyViews(4, uint64(i)))
		resumed.Step(toyViews(4, uint64(i)))
	}
	sameSnapshot(t, snapshot(full), snapshot(resumed))
}

func TestViewBatchUint8(t *testing.T) {
	// Two 1×2 RGB images per view, HWC.
	a := []uint8{0, 255, 51, 102, 0, 255, 10, 20, 30, 40, 50, 60}
	b := []uint8{255, 255, 255, 0, 0, 0, 1, 2, 3, 4, 5, 6}
	vb := ViewBatch{N: 2, C: 3, H: 1, W: 2, U8: [2][]uint8{a, b}, Mean: []float32{0.5, 0.5, 0.5}, Std: []float32{0.5, 0.25, 1}}
	var buf []float32
	x, err := vb.Into(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !sameShape(x.Shape, []int{4, 3, 1, 2}) {
		t.Fatalf("shape %v", x.Shape)
	}
	// View 0 image 0, channel 1 (G), pixels 0 and 1: 255 and 0.
	want := []float32{(1 - 0.5) / 0.25, (0 - 0.5) / 0.25}
	for i, w := range want {
		if g := x.Data[1*2+i]; math.Abs(float64(g-w)) > 1e-6 {
			t.Errorf("pixel %d: %v, want %v", i, g, w)
		}
	}
	// View 1 image 1 is row 3; channel 2 pixel 1: 6.
	if g, w := x.Data[3*6+2*2+1], float32((6.0/255-0.5)/1); math.Abs(float64(g-w)) > 1e-6 {
		t.Errorf("view 1: %v, want %v", g, w)
	}
	vb.U8[1] = b[:5]
	if _, err := vb.Into(&buf); !errors.Is(err, ErrShape) {
		t.Errorf("short view: %v", err)
	}
	if _, err := (ViewBatch{N: 1, C: 1, H: 1, W: 1}).Into(&buf); !errors.Is(err, ErrShape) {
		t.Errorf("no data: %v", err)
	}
	if _, err := NewSimCLR(Config{Model: "vgg"}); !errors.Is(err, ErrConfig) {
		t.Errorf("unknown model: %v", err)
	}
}

func TestModelShapes(t *testing.T) {
	count := func(ps []*Param[float32]) int {
		n := 0
		for _, p := range ps {
			n += len(p.W)
		}
		return n
	}
	r := NewRNG(1)
	// Parameter counts of the PyTorch modules (train_bench.py's E1 and
	// torchvision's resnet18 CIFAR variant without fc).
	if n := count(SmallCNN[float32]("", 3, r).Params()); n != 93472 {
		t.Errorf("smallcnn has %d parameters, PyTorch 93472", n)
	}
	if n := count(ProjectionHead[float32]("", 128, r).Params()); n != 131712 {
		t.Errorf("head has %d parameters, PyTorch 131712", n)
	}
	rn := ResNet18[float32]("", 3, r)
	if n := count(rn.Params()); n != 11168832 {
		t.Errorf("resnet18 has %d parameters, PyTorch 11168832", n)
	}
	if testing.Short() {
		return
	}
	y := rn.Forward(randTensor[float32](r, 2, 3, 16, 16))
	if !sameShape(y.Shape, []int{2, 512}) {
		t.Errorf("resnet18 output %v", y.Shape)
	}
	dec := InpaintingDecoder[float32]("dec.", 128, 64, 1, r)
	if y := dec.Forward(randTensor[float32](r, 2, 128, 7, 7)); !sameShape(y.Shape, []int{2, 1, 28, 28}) {
		t.Errorf("decoder output %v", y.Shape)
	}
}

func TestInitBounds(t *testing.T) {
	c := NewConv2d[float64]("c", 16, 32, 3, 1, 1, true, NewRNG(1))
	bound := 1 / math.Sqrt(16*9)
	var q float64
	for _, v := range c.Weight.W {
		if math.Abs(v) > bound {
			t.Fatalf("weight %v outside ±%v", v, bound)
		}
		q += v * v
	}
	std := math.Sqrt(q / float64(len(c.Weight.W)))
	if math.Abs(std-bound/math.Sqrt(3)) > 0.05*bound {
		t.Errorf("weight std %v, U(±%v) has %v", std, bound, bound/math.Sqrt(3))
	}
	for _, v := range c.Bias.W {
		if math.Abs(v) > bound {
			t.Fatalf("bias %v outside ±%v", v, bound)
		}
	}
	a, b := NewLinear[float32]("l", 5, 3, true, NewRNG(7)), NewLinear[float32]("l", 5, 3, true, NewRNG(7))
	if !equalBits(a.Weight.W, b.Weight.W) {
		t.Error("same seed gave different weights")
	}
}

// TestEncoderFromSimCLRCheckpoint: linear evaluation loads only the encoder
// from a SimCLR checkpoint (the head's and optimiser's tensors are ignored).
func TestEncoderFromSimCLRCheckpoint(t *testing.T) {
	s, _ := NewSimCLR(Config{Channels: 1, Seed: 5})
	s.Step(toyViews(4, 1))
	var buf bytes.Buffer
	if err := SaveCheckpoint[float32](&buf, s.Model(), s.Opt, s.Steps(), "{}"); err != nil {
		t.Fatal(err)
	}
	enc, err := NewEncoder("smallcnn", "enc.", 1, NewRNG(99))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckpoint[float32](&buf, "simclr", enc, nil); err != nil {
		t.Fatal(err)
	}
	for i, p := range s.Encoder.Params() {
		if !equalBits(p.W, enc.Params()[i].W) {
			t.Fatalf("%s not loaded", p.Name)
		}
	}
}
