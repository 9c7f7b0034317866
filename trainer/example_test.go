package trainer_test

import (
	"bytes"
	"fmt"

	"github.com/pairflow/pairflow/trainer"
)

// NT-Xent of two source images in two views each: rows i and i+2 are
// positives. (train_bench.py's nt_xent in PyTorch gives 0.28987794934307354.)
func ExampleNTXent() {
	z := trainer.Tensor[float64]{
		Data:  []float64{1, 0, 0, 1, 1, 0.1, 0.1, 1},
		Shape: []int{4, 2},
	}
	loss := trainer.NewNTXent[float64](0.5)
	fmt.Printf("loss %.4f\n", loss.Forward(z))
	fmt.Printf("accuracy %.2f\n", loss.Accuracy())
	// Output:
	// loss 0.2899
	// accuracy 1.00
}

// A SimCLR step on a batch of 4 source images (1×8×8, two views each), then
// a checkpoint round trip.
func ExampleSimCLR() {
	s, err := trainer.NewSimCLR(trainer.Config{Model: "smallcnn", Channels: 1, Seed: 1})
	if err != nil {
		panic(err)
	}
	r := trainer.NewRNG(2)
	a, b := make([]float32, 4*64), make([]float32, 4*64)
	for i := range a {
		a[i] = float32(r.Normal())
		b[i] = a[i] + 0.1*float32(r.Normal())
	}
	batch := trainer.ViewBatch{N: 4, C: 1, H: 8, W: 8, F32: [2][]float32{a, b}}
	res, err := s.Step(batch)
	if err != nil {
		panic(err)
	}
	fmt.Println("loss finite:", res.Loss > 0 && res.Loss < 10)

	var buf bytes.Buffer
	if err := trainer.SaveCheckpoint[float32](&buf, s.Model(), s.Opt, s.Steps(), `{"model":"smallcnn"}`); err != nil {
		panic(err)
	}
	s2, _ := trainer.NewSimCLR(trainer.Config{Model: "smallcnn", Channels: 1, Seed: 9})
	info, err := trainer.LoadCheckpoint[float32](&buf, "example", s2.Model(), s2.Opt)
	fmt.Println("step", info.Step, "config", info.Config, "err", err)
	// Output:
	// loss finite: true
	// step 1 config {"model":"smallcnn"} err <nil>
}
