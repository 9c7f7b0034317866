package trainer

import "testing"

func TestClassifierLearns(t *testing.T) {
	for _, frozen := range []bool{false, true} {
		enc := SmallCNN[float32]("enc.", 1, NewRNG(1))
		lr := 3e-3
		if frozen { // small random features: the head needs a larger step
			lr = 0.3
		}
		c, err := NewClassifier(enc, 4, frozen, Config{Optimizer: "adam", Schedule: Constant(lr), Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		x := randTensor[float32](NewRNG(3), 8, 1, 8, 8)
		labels := []int{0, 1, 2, 3, 3, 2, 1, 0}
		before := append([]float32(nil), enc.Params()[0].W...)
		first := c.Step(x, labels)
		var last StepResult
		for i := 0; i < 30; i++ {
			last = c.Step(x, labels)
		}
		t.Logf("frozen=%v: cross-entropy %.3f → %.3f", frozen, first.Loss, last.Loss)
		if !(last.Loss < first.Loss*0.8) {
			t.Errorf("frozen=%v: loss %.3f → %.3f", frozen, first.Loss, last.Loss)
		}
		if changed := !equalBits(before, enc.Params()[0].W); changed == frozen {
			t.Errorf("frozen=%v but encoder changed=%v", frozen, changed)
		}
		if y := c.Predict(x); y.Shape[0] != 8 || y.Shape[1] != 4 {
			t.Errorf("logits %v", y.Shape)
		}
	}
}

func TestInpainterLearns(t *testing.T) {
	enc := SmallCNN[float32]("enc.", 1, NewRNG(1))
	p, err := NewInpainter(enc, 1, 16, Config{Optimizer: "adam", Schedule: Constant(3e-3), Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	target := randTensor[float32](NewRNG(3), 4, 1, 8, 8)
	x := NewTensor[float32](target.Shape...)
	copy(x.Data, target.Data)
	mask := make([]bool, len(x.Data))
	for i := 0; i < 4; i++ { // a 4×4 square per image, zeroed in the input
		for r := 2; r < 6; r++ {
			for c := 2; c < 6; c++ {
				mask[i*64+r*8+c] = true
				x.Data[i*64+r*8+c] = 0
			}
		}
	}
	first, err := p.Step(x, target, mask)
	if err != nil {
		t.Fatal(err)
	}
	var last StepResult
	for i := 0; i < 30; i++ {
		last, _ = p.Step(x, target, mask)
	}
	t.Logf("masked MSE %.3f → %.3f", first.Loss, last.Loss)
	if !(last.Loss < first.Loss*0.8) {
		t.Errorf("loss %.3f → %.3f", first.Loss, last.Loss)
	}
	if _, err := p.Step(x, target, mask[:3]); err == nil {
		t.Error("short mask accepted")
	}
}

func TestRelativePatchLearns(t *testing.T) {
	enc := SmallCNN[float32]("enc.", 1, NewRNG(1))
	p, err := NewRelativePatch(enc, 32, Config{Optimizer: "adam", Schedule: Constant(3e-3), Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	x := randTensor[float32](NewRNG(3), 16, 1, 8, 8)
	labels := []int{0, 1, 2, 3, 4, 5, 6, 7}
	first, err := p.Step(x, labels)
	if err != nil {
		t.Fatal(err)
	}
	var last StepResult
	for i := 0; i < 30; i++ {
		last, _ = p.Step(x, labels)
	}
	t.Logf("relative-patch cross-entropy %.3f → %.3f", first.Loss, last.Loss)
	if !(last.Loss < first.Loss*0.8) {
		t.Errorf("loss %.3f → %.3f", first.Loss, last.Loss)
	}
	if _, err := p.Step(x, labels[:3]); err == nil {
		t.Error("wrong label count accepted")
	}
}

// TestConcatSplitPairsGrad checks the relative-patch plumbing: the head's
// gradient, split back into the two embeddings, matches finite differences.
func TestConcatSplitPairsGrad(t *testing.T) {
	r := NewRNG(4)
	head := RelativePatchHead[float64]("h", 3, 5, r)
	a, b := randTensor[float64](r, 4, 3), randTensor[float64](r, 4, 3)
	labels := []int{1, 7, 0, 4}
	ce := NewSoftmaxCrossEntropy[float64]()
	var cat, ga, gb []float64
	loss := func() float64 { return ce.Forward(head.Forward(ConcatPairs(a, b, &cat)), labels) }
	loss()
	da, db := SplitPairs(head.Backward(ce.Backward()), 3, &ga, &gb)
	for _, c := range []struct {
		x, g []float64
	}{{a.Data, append([]float64(nil), da.Data...)}, {b.Data, append([]float64(nil), db.Data...)}} {
		for i := range c.x {
			old := c.x[i]
			c.x[i] = old + fdStep
			lp := loss()
			c.x[i] = old - fdStep
			lm := loss()
			c.x[i] = old
			closeFD(t, "pair", i, c.g[i], (lp-lm)/(2*fdStep))
		}
	}
}
