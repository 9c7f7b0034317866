package trainer

import (
	"runtime"
	"testing"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// fmnistViews is a batch in the shape of issue #9's workload, smaller:
// n source images of 1×28×28, two noisy views each.
func fmnistViews(n int, seed uint64) ViewBatch {
	r := NewRNG(seed)
	per := 28 * 28
	a, b := make([]float32, n*per), make([]float32, n*per)
	for i := range a {
		v := r.Uniform(-1, 1)
		a[i] = float32(v + 0.1*r.Normal())
		b[i] = float32(v + 0.1*r.Normal())
	}
	return ViewBatch{N: n, C: 1, H: 28, W: 28, F32: [2][]float32{a, b}}
}

// TestSimCLRFMNISTDeterministic: on 28×28 inputs (where kern batches
// images into one GEMM, 49 or 196 columns per image, with a short last
// batch) two SGD-momentum steps give bit-identical weights, running
// statistics and loss for 1, 2 and 3 threads, and with the fused layer
// pairs (BatchNorm+ReLU forward, ReLU+MaxPool backward) on or off.
func TestSimCLRFMNISTDeterministic(t *testing.T) {
	run := func(threads int, fuse bool) ([][]float32, float64) {
		oldP := runtime.GOMAXPROCS(threads)
		oldK := kern.SetThreads(threads)
		oldF := fuseLayers
		fuseLayers = fuse
		defer func() {
			runtime.GOMAXPROCS(oldP)
			kern.SetThreads(oldK)
			fuseLayers = oldF
		}()
		s, err := NewSimCLR(Config{Model: "smallcnn", Channels: 1, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		var loss float64
		for i := 0; i < 2; i++ {
			res, err := s.Step(fmnistViews(13, uint64(i)))
			if err != nil {
				t.Fatal(err)
			}
			loss = res.Loss
		}
		return snapshot(s), loss
	}
	a, la := run(1, true)
	for _, c := range []struct {
		threads int
		fuse    bool
	}{{2, true}, {3, true}, {1, false}, {2, false}} {
		b, lb := run(c.threads, c.fuse)
		if la != lb {
			t.Fatalf("threads %d fuse %v: loss %v, want %v", c.threads, c.fuse, lb, la)
		}
		sameSnapshot(t, a, b)
	}
}

// TestFusedLayersBitIdentical: every encoder (and the inpainting decoder,
// whose BatchNorm+ReLU is followed by an upsample) gives bit-identical
// outputs, input gradients and parameter gradients with the fused layer
// groups on, off, and on for the forward pass only, in training mode
// (fused) and evaluation mode (never fused).
func TestFusedLayersBitIdentical(t *testing.T) {
	type result struct{ y, dx, grads [][]float32 }
	// mode 0: unfused; 1: fused; 2: fused forward, unfused backward (each
	// layer's own Backward after a fused forward pass).
	run := func(model string, train bool, mode int) result {
		old := fuseLayers
		fuseLayers = mode > 0
		defer func() { fuseLayers = old }()
		r := NewRNG(4)
		var net *Sequential[float32]
		x := randTensor[float32](NewRNG(5), 3, 2, 12, 12)
		switch model {
		case "decoder":
			net = InpaintingDecoder[float32]("d.", 2, 8, 3, r)
			x = randTensor[float32](NewRNG(5), 3, 2, 4, 4)
		default:
			enc, err := NewEncoder(model, "e.", 2, r)
			if err != nil {
				t.Fatal(err)
			}
			net = enc.Sequential
		}
		net.SetTraining(train)
		y := net.Forward(x)
		dy := randTensor[float32](NewRNG(6), y.Shape...)
		if mode == 2 {
			fuseLayers = false
		}
		dx := net.Backward(dy)
		res := result{y: [][]float32{append([]float32(nil), y.Data...)}, dx: [][]float32{append([]float32(nil), dx.Data...)}}
		for _, p := range net.Params() {
			res.grads = append(res.grads, append([]float32(nil), p.G...))
		}
		return res
	}
	for _, model := range []string{"smallcnn", "resnet18", "decoder"} {
		for _, train := range []bool{true, false} {
			a := run(model, train, 0)
			for _, mode := range []int{1, 2} {
				b := run(model, train, mode)
				for i, pair := range [][2][][]float32{{a.y, b.y}, {a.dx, b.dx}, {a.grads, b.grads}} {
					sameSnapshotNamed(t, model, mode, i, pair[0], pair[1])
				}
			}
		}
	}
}

func sameSnapshotNamed(t *testing.T, model string, mode, what int, a, b [][]float32) {
	t.Helper()
	for i := range a {
		if !equalBits(a[i], b[i]) {
			t.Fatalf("%s, fusion mode %d: output kind %d (y, dx, grads), tensor %d differs from unfused", model, mode, what, i)
		}
	}
}

// TestResNet18SharedGradSlots: resnet18's convolutions writing their input
// gradients into the two shared slots and the blocks' outputs
// (shareGradSlots), and the shortcuts' BatchNorms sharing one buffer for
// their outputs and input gradients, give the same parameter gradients,
// bit for bit, as with a private buffer each, for two backward passes in a
// row, with the fused layer groups on and off.
func TestResNet18SharedGradSlots(t *testing.T) {
	run := func(shared, fuse bool) [][]float32 {
		old := fuseLayers
		fuseLayers = fuse
		defer func() { fuseLayers = old }()
		enc := ResNet18[float32]("e.", 3, NewRNG(4))
		slots := 0
		bnShared := 0
		Walk[float32](enc, func(l Layer[float32]) {
			if c, ok := l.(*Conv2d[float32]); ok && c.dxSlot != nil {
				slots++
				if !shared {
					c.dxSlot, c.slots = nil, nil
				}
			}
			if b, ok := l.(*BatchNorm[float32]); ok && (b.ySlot != nil || b.gradInOut) {
				bnShared++
				if !shared {
					b.ySlot, b.gradInOut = nil, false
				}
			}
		})
		if slots != 19 { // 8 blocks × 2 + 3 shortcuts
			t.Fatalf("%d convolutions on shared slots, want 19", slots)
		}
		if bnShared != 3 { // the shortcuts'
			t.Fatalf("%d BatchNorms on a shared buffer, want 3", bnShared)
		}
		var grads [][]float32
		for step := range 2 {
			x := randTensor[float32](NewRNG(uint64(5+step)), 4, 3, 32, 32)
			y := enc.Forward(x)
			enc.Backward(randTensor[float32](NewRNG(uint64(7+step)), y.Shape...))
			for _, p := range enc.Params() {
				grads = append(grads, append([]float32(nil), p.G...))
			}
		}
		return grads
	}
	for _, fuse := range []bool{true, false} {
		own, shared := run(false, fuse), run(true, fuse)
		for i := range own {
			if !equalBits(own[i], shared[i]) {
				t.Fatalf("fuse %v: parameter gradient %d differs with shared slots", fuse, i)
			}
		}
	}
}
