package kern

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// benchGemm times C = A·B (both untransposed, as numpy's matmul) and
// reports GFLOP/s; SetBytes counts the bytes of A, B and C once.
func benchGemm(b *testing.B, tr cpu.Tier, th int, tA, tB bool, m, n, k int) {
	prev, err := SetTier(tr)
	if err != nil {
		b.Skip(err)
	}
	defer SetTier(prev)
	defer SetThreads(SetThreads(th))
	r := rand.New(rand.NewPCG(1, 1))
	a := randSlice(r, m*k)
	bb := randSlice(r, k*n)
	c := make([]float32, m*n)
	lda, ldb := k, n
	if tA {
		lda = m
	}
	if tB {
		ldb = k
	}
	b.SetBytes(int64(4 * (m*k + k*n + m*n)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuSeconds()
	for b.Loop() {
		Sgemm(tA, tB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	flop := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// On a shared machine the wall clock includes time other processes
	// held the cores; FLOP per CPU-second of this process does not.
	b.ReportMetric(flop/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
}

func BenchmarkSgemmSquare(b *testing.B) {
	for _, s := range []int{128, 512, 1024} {
		for _, tr := range cpu.Tiers() {
			for _, th := range []int{1, 2} {
				b.Run(fmt.Sprintf("%d/%v/threads=%d", s, tr, th), func(b *testing.B) {
					benchGemm(b, tr, th, false, false, s, s, s)
				})
			}
		}
	}
}

// BenchmarkSgemmSmallCNN times smallcnn's nine im2col GEMMs at 512 views
// (avx2 tier only: the generic one takes seconds per call).
func BenchmarkSgemmSmallCNN(b *testing.B) {
	for _, s := range SmallCNNShapes() {
		for _, th := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", s.Name, th), func(b *testing.B) {
				benchGemm(b, Tier(), th, false, false, s.M, s.N, s.K)
			})
		}
	}
}

// BenchmarkSgemmTransposes times the transposed variants on one shape.
func BenchmarkSgemmTransposes(b *testing.B) {
	for _, tt := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		b.Run(fmt.Sprintf("tA=%v/tB=%v", tt[0], tt[1]), func(b *testing.B) {
			benchGemm(b, Tier(), 1, tt[0], tt[1], 512, 512, 512)
		})
	}
}

// BenchmarkSgemmPackPolicy compares packing both operands with reading them
// in place where possible, on one thread (tuning aid for sgemmSerial).
func BenchmarkSgemmPackPolicy(b *testing.B) {
	shapes := append([]GemmShape{{"square 512", 512, 512, 512}, {"square 1024", 1024, 1024, 1024}}, SmallCNNShapes()...)
	for _, s := range shapes {
		for _, pol := range []int{packAuto, packAlways, packNever, packBOnly} {
			b.Run(fmt.Sprintf("%s/policy=%d", s.Name, pol), func(b *testing.B) {
				defer func(p int) { packPolicy = p }(packPolicy)
				packPolicy = pol
				benchGemm(b, Tier(), 1, false, false, s.M, s.N, s.K)
			})
		}
	}
}

// BenchmarkMicroKernel times the register-tile kernel alone on packed,
// cache-resident operands (kc = kcBlock, 24 row tiles against one B panel):
// the ceiling the blocked GEMM can approach.
func BenchmarkMicroKernel(b *testing.B) {
	for _, pl := range planTiles(planFor(tier)) {
		benchMicroKernel(b, pl)
	}
}

func benchMicroKernel(b *testing.B, pl *gemmPlan) {
	mr, nr := pl.mr, pl.nr
	for _, bStride := range []int{nr, 512} {
		b.Run(fmt.Sprintf("%s/bStep=%d", pl.name, bStride), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 1))
			tiles := pl.mc / mr
			a := randSlice(r, tiles*mr*kcBlock)
			bp := randSlice(r, bStride*kcBlock)
			c := make([]float32, pl.mc*nr)
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for b.Loop() {
				for t := 0; t < tiles; t++ {
					pl.microKernel(kcBlock, a[t*mr*kcBlock:], 1, mr, bp, bStride, c[t*mr*nr:], nr, mr, nr, 1, 0, false)
				}
			}
			flop := float64(2 * mr * nr * kcBlock * tiles * b.N)
			b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			b.ReportMetric(flop/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
		})
	}
}

// BenchmarkConv2dSmallCNN times the three passes of smallcnn's convolutions
// (3×3, padding 1) on a batch of 128 views, in GFLOP/s of the equivalent
// GEMM (2·N·OutH·OutW·Cout·Cin·9).
func BenchmarkConv2dSmallCNN(b *testing.B) {
	layers := []ConvShape{
		{N: 128, Cin: 3, H: 32, W: 32, Cout: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 128, Cin: 32, H: 16, W: 16, Cout: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 128, Cin: 64, H: 8, W: 8, Cout: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	}
	for _, s := range layers {
		r := rand.New(rand.NewPCG(1, 1))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		y, dx, dw := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.WeightLen())
		flop := 2 * float64(s.N*s.OutH()*s.OutW()) * float64(s.Cout*s.Cin*s.KH*s.KW)
		passes := []struct {
			name string
			f    func()
		}{
			{"fwd", func() { Conv2d(s, x, w, y) }},
			{"dX", func() { Conv2dBackwardInput(s, dy, w, dx) }},
			{"dW", func() { Conv2dBackwardWeights(s, x, dy, dw) }},
		}
		for _, th := range []int{1, 2} {
			for _, p := range passes {
				b.Run(fmt.Sprintf("%d→%d_%dx%d/%s/threads=%d", s.Cin, s.Cout, s.H, s.W, p.name, th), func(b *testing.B) {
					defer SetThreads(SetThreads(th))
					b.SetBytes(int64(4 * (s.InLen() + s.OutLen())))
					b.ReportAllocs()
					cpu0 := cpuSeconds()
					for b.Loop() {
						p.f()
					}
					b.ReportMetric(flop*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					b.ReportMetric(flop*float64(b.N)/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
				})
			}
		}
	}
}

// BenchmarkConv2dFMNIST times issue #9's convolutions (smallcnn on 1024
// views of 1×28×28, two threads), forward and the fused backward
// (Conv2dBackward: dW and dX), with images batched into one GEMM
// (batchCols, the default) and one GEMM per image (batched=off).
func BenchmarkConv2dFMNIST(b *testing.B) {
	layers := []ConvShape{
		{N: 1024, Cin: 1, H: 28, W: 28, Cout: 32, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 1024, Cin: 32, H: 14, W: 14, Cout: 64, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
		{N: 1024, Cin: 64, H: 7, W: 7, Cout: 128, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1},
	}
	for _, s := range layers {
		r := rand.New(rand.NewPCG(1, 1))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		y, dx, dw := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.WeightLen())
		flop := 2 * float64(s.N*s.OutH()*s.OutW()) * float64(s.Cout*s.Cin*s.KH*s.KW)
		passes := []struct {
			name  string
			flops float64
			f     func()
		}{
			{"fwd", flop, func() { Conv2d(s, x, w, y) }},
			{"bwd", 2 * flop, func() { Conv2dBackward(s, x, dy, w, dw, dx) }},
		}
		for _, batched := range []bool{true, false} {
			for _, p := range passes {
				b.Run(fmt.Sprintf("%d→%d_%dx%d/%s/batched=%v", s.Cin, s.Cout, s.H, s.W, p.name, batched), func(b *testing.B) {
					defer SetThreads(SetThreads(2))
					old := batchCols
					if !batched {
						batchCols = 0
					}
					defer func() { batchCols = old }()
					b.ReportAllocs()
					cpu0 := cpuSeconds()
					for b.Loop() {
						p.f()
					}
					b.ReportMetric(p.flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
					b.ReportMetric(p.flops*float64(b.N)/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
				})
			}
		}
	}
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// BenchmarkLayers times the elementwise and reduction kernels on smallcnn's
// first activation (128 views × 32 channels × 32×32), per tier, one thread.
func BenchmarkLayers(b *testing.B) {
	const n, c, hw = 128, 32, 32 * 32
	r := rand.New(rand.NewPCG(2, 2))
	x, dy := randSlice(r, n*c*hw), randSlice(r, n*c*hw)
	y, dx := make([]float32, len(x)), make([]float32, len(x))
	mean, variance, gamma, beta := make([]float32, c), make([]float32, c), randSlice(r, c), randSlice(r, c)
	dg, db := make([]float32, c), make([]float32, c)
	arg := make([]uint8, len(x)/4)
	ops := []struct {
		name string
		f    func()
	}{
		{"ReLU", func() { ReLU(y, x) }},
		{"ReLUGrad", func() { ReLUGrad(dx, dy, x) }},
		{"BiasAdd", func() { BiasAdd(y, gamma, n, c, hw) }},
		{"BatchNormStats", func() { BatchNormStats(mean, variance, x, n, c, hw) }},
		{"BatchNormForward", func() { BatchNormForward(y, x, mean, variance, gamma, beta, 1e-5, n, c, hw) }},
		{"BatchNormBackward", func() { BatchNormBackward(dx, dg, db, dy, x, mean, variance, gamma, 1e-5, n, c, hw) }},
		{"MaxPool2", func() { MaxPool2(y[:len(x)/4], arg, x, n, c, 32, 32) }},
		{"MaxPool2Backward", func() { MaxPool2Backward(dx, dy[:len(x)/4], arg, n, c, 32, 32) }},
		// Fused kernels, each beside the kernels it replaces run in turn.
		{"BatchNormForwardReLU", func() { BatchNormForwardReLU(y, x, mean, variance, gamma, beta, 1e-5, n, c, hw) }},
		{"BatchNormForward+ReLU", func() {
			BatchNormForward(y, x, mean, variance, gamma, beta, 1e-5, n, c, hw)
			ReLU(y, y)
		}},
		{"BatchNormReLUMaxPool2", func() {
			BatchNormReLUMaxPool2(dx[:len(x)/4], arg, x, mean, variance, gamma, beta, 1e-5, n, c, 32, 32)
		}},
		{"BatchNormForwardReLU+MaxPool2", func() {
			BatchNormForwardReLU(y, x, mean, variance, gamma, beta, 1e-5, n, c, hw)
			MaxPool2(dx[:len(x)/4], arg, y, n, c, 32, 32)
		}},
		{"MaxPool2BackwardReLU", func() { MaxPool2BackwardReLU(dx, dy[:len(x)/4], x[:len(x)/4], arg, n, c, 32, 32) }},
		{"MaxPool2Backward+ReLUGrad", func() {
			MaxPool2Backward(dx, dy[:len(x)/4], arg, n, c, 32, 32)
			ReLUGrad(dx, dx, x)
		}},
	}
	for _, tr := range cpu.Tiers() {
		for _, op := range ops {
			b.Run(fmt.Sprintf("%s/%v", op.name, tr), func(b *testing.B) {
				prev, err := SetTier(tr)
				if err != nil {
					b.Skip(err)
				}
				defer SetTier(prev)
				defer SetThreads(SetThreads(1))
				b.SetBytes(int64(4 * len(x)))
				b.ReportAllocs()
				for b.Loop() {
					op.f()
				}
			})
		}
	}
}
