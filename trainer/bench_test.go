package trainer

import (
	"testing"
	"time"
)

// BenchmarkSimCLRStep is one SimCLR training step of smallcnn + head +
// NT-Xent + SGD on 64 source images (128 views of 3×32×32), with the float32
// layers on kern's kernels and on the generic layer code.
func BenchmarkSimCLRStep(b *testing.B) {
	for _, k := range []bool{true, false} {
		b.Run(map[bool]string{true: "kern-layers", false: "generic-layers"}[k], func(b *testing.B) {
			old := useKern
			useKern = k
			defer func() { useKern = old }()
			s, err := NewSimCLR(Config{Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			x := randTensor[float32](NewRNG(2), 128, 3, 32, 32)
			s.StepTensor(x)
			b.SetBytes(int64(4 * len(x.Data)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.StepTensor(x)
			}
			b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkConvLayer is forward + backward of smallcnn's convolutions at
// 128 views, kern's per-image convolution vs the whole-batch im2col + one
// GEMM of the generic layer.
func BenchmarkConvLayer(b *testing.B) {
	shapes := []struct {
		name         string
		cin, cout, h int
	}{{"conv1-3x32x32", 3, 32, 32}, {"conv2-32x16x16", 32, 64, 16}, {"conv3-64x8x8", 64, 128, 8},
		{"res1-64x32x32", 64, 64, 32}, {"res3-256x8x8", 256, 256, 8}, {"res4-512x4x4", 512, 512, 4}}
	for _, s := range shapes {
		for _, k := range []bool{true, false} {
			b.Run(s.name+map[bool]string{true: "/kern", false: "/batched"}[k], func(b *testing.B) {
				old := useKern
				useKern = k
				defer func() { useKern = old }()
				c := NewConv2d[float32]("c", s.cin, s.cout, 3, 1, 1, false, NewRNG(1))
				x := randTensor[float32](NewRNG(2), 128, s.cin, s.h, s.h)
				dy := randTensor[float32](NewRNG(3), 128, s.cout, s.h, s.h)
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					c.Forward(x)
					c.Backward(dy)
				}
				flops := 3 * 2 * 128 * s.h * s.h * s.cout * s.cin * 9
				b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSimCLRStepFMNIST is issue #9's reference workload: one SimCLR
// step of smallcnn (1 input channel) + projection head + NT-Xent + SGD
// momentum on 512 source images, i.e. 1024 views of 1×28×28, on 2 threads.
// It reports source images/s, the CPU time per step of the whole process
// (cpu-ms/op: steadier than wall time when other jobs share the cores) and,
// from a Profile, the wall milliseconds per step of each layer kind forward
// (fwd-…) and backward (bwd-…); fused layer groups are booked under their
// first layer (fwd-bn includes the ReLU and max pool after it, bwd-maxpool
// the ReLU before it).
func BenchmarkSimCLRStepFMNIST(b *testing.B) { benchSimCLRStepFMNIST(b) }

func benchSimCLRStepFMNIST(b *testing.B) {
	old := SetThreads(2)
	defer SetThreads(old)
	s, err := NewSimCLR(Config{Model: "smallcnn", Channels: 1, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	const sources = 512
	x := randTensor[float32](NewRNG(2), 2*sources, 1, 28, 28)
	s.StepTensor(x) // buffers allocated here, not in the loop
	p := NewProfile()
	s.SetProfile(p)
	b.SetBytes(int64(4 * len(x.Data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0, cpuOK := processCPU()
	for i := 0; i < b.N; i++ {
		s.StepTensor(x)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*sources)/b.Elapsed().Seconds(), "images/s")
	if cpu1, ok := processCPU(); ok && cpuOK {
		b.ReportMetric((cpu1-cpu0)*1e3/float64(b.N), "cpu-ms/op")
	}
	for dir, m := range map[string]map[string]time.Duration{"fwd-": p.Forward, "bwd-": p.Backward} {
		for k, d := range m {
			b.ReportMetric(float64(d.Microseconds())/1e3/float64(b.N), dir+k+"-ms/op")
		}
	}
}
