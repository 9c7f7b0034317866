package trainer

import (
	"testing"
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
