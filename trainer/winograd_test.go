package trainer

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/pairflow/pairflow/trainer/internal/kern"
)

var winogradFlag = flag.String("winograd", "", "on or off: run kern's 3×3 convolutions on Winograd F(2×2,3×3) or im2col (default: kern's rule), so that any benchmark can compare the paths")

func TestMain(m *testing.M) {
	flag.Parse()
	switch *winogradFlag {
	case "":
	case "on", "off":
		kern.SetWinograd(*winogradFlag == "on")
	default:
		fmt.Fprintf(os.Stderr, "-winograd=%q: want on or off\n", *winogradFlag)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// BenchmarkWinogradStep is BenchmarkSimCLRStepFMNIST (1024 views of
// 1×28×28, two threads) and BenchmarkSimCLRStep's kern-layers case (128
// views of 3×32×32) with kern's Winograd F(2×2,3×3) convolutions off and on
// in turn; run with -count to alternate them. Compare cpu-ms/op (fmnist) or
// the CPU time of the whole run (cifar).
func BenchmarkWinogradStep(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("fmnist/wino=%v", on), func(b *testing.B) {
			defer kern.SetWinograd(kern.SetWinograd(on))
			benchSimCLRStepFMNIST(b)
		})
	}
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("cifar/wino=%v", on), func(b *testing.B) {
			defer kern.SetWinograd(kern.SetWinograd(on))
			s, err := NewSimCLR(Config{Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			x := randTensor[float32](NewRNG(2), 128, 3, 32, 32)
			s.StepTensor(x)
			b.SetBytes(int64(4 * len(x.Data)))
			b.ReportAllocs()
			b.ResetTimer()
			cpu0, cpuOK := processCPU()
			for i := 0; i < b.N; i++ {
				s.StepTensor(x)
			}
			b.StopTimer()
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric((cpu1-cpu0)*1e3/float64(b.N), "cpu-ms/op")
			}
		})
	}
}

// TestWinogradConvLayer: Conv2d layers whose 3×3 convolutions kern runs on
// Winograd (forward, input and weight gradients; F(2×2,3×3), and
// F(4×4,3×3) for the forward pass and input gradient of the last three
// shapes, F(3×3,4×4) for their weight gradient), smallcnn's FMNIST shapes
// among them, match the float64 layer within tol32 (F(4×4,3×3) included:
// its ~20× larger rounding error, ≤ 1.4e-5 of the largest element in
// kern's tests, stays inside it), and their weight gradients match kern's
// im2col path within 1e-5 of the largest element (kern's tests measure ≤
// 7.1e-7 on F(3×3,2×2), ≤ 4.7e-6 on F(3×3,4×4) for planes above 4×4).
func TestWinogradConvLayer(t *testing.T) {
	for _, c := range []struct{ n, in, out, h, w int }{
		{4, 32, 64, 14, 14}, {6, 64, 128, 7, 7}, {3, 16, 16, 5, 5}, {2, 16, 24, 32, 32},
		// F(4×4,3×3) for the forward pass and input gradient, F(3×3,4×4)
		// for the weight gradient (kern's useWino4: ≥ 64 channels on 16×16
		// planes, ≥ 128 tiles).
		{8, 64, 64, 16, 16}, {8, 128, 128, 16, 16}, {9, 64, 96, 17, 19},
	} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d-%d", c.n, c.in, c.h, c.w, c.out), func(t *testing.T) {
			defer kern.SetWinograd(kern.SetWinograd(true))
			l32, l64 := NewConv2d[float32]("c", c.in, c.out, 3, 1, 1, false, NewRNG(3)), NewConv2d[float64]("c", c.in, c.out, 3, 1, 1, false, NewRNG(3))
			r := NewRNG(4)
			x := randTensor[float32](r, c.n, c.in, c.h, c.w)
			matchLayer32(t, l32, l64, x, r)

			dy := randTensor[float32](NewRNG(5), c.n, c.out, c.h, c.w)
			l32.Forward(x)
			l32.Backward(dy)
			wino := append([]float32(nil), l32.Weight.G...)
			kern.SetWinograd(false)
			l32.Forward(x)
			l32.Backward(dy)
			if e := maxRel(wino, l32.Weight.G); e > 1e-5 {
				t.Errorf("weight grad: Winograd vs im2col rel error %.3g > 1e-5", e)
			}
		})
	}
}

// TestWinogradSmallPlaneRoute: a 4×4-plane convolution that kern runs on
// Winograd (512→512 on 128 images, resnet18's layer4 in a trainbench step)
// goes to kern rather than to the batched im2col path, and gives what that
// path gives: y and dx (F(2×2,3×3) on a 4×4 plane: ≤ 6.4e-7 of the largest
// element in kern's tests) within 1e-5, dw (F(3×3,4×4): 8.0e-6 here, 9.5e-6
// against a float64 reference in kern) within kern's F(4×4,3×3) bound 5e-5.
// With Winograd off it takes the batched path again.
func TestWinogradSmallPlaneRoute(t *testing.T) {
	if testing.Short() {
		t.Skip("~30 GFLOP")
	}
	const n, ch, hw = 128, 512, 4
	defer kern.SetWinograd(kern.SetWinograd(true))
	l := NewConv2d[float32]("c", ch, ch, 3, 1, 1, false, NewRNG(3))
	x := randTensor[float32](NewRNG(4), n, ch, hw, hw)
	dy := randTensor[float32](NewRNG(5), n, ch, hw, hw)
	run := func(wino bool) (y, dx, dw []float32) {
		kern.SetWinograd(wino)
		y = append([]float32(nil), l.Forward(x).Data...)
		if l.kernPath != wino {
			t.Fatalf("Winograd %v: kern path %v, want %v", wino, l.kernPath, wino)
		}
		dx = append([]float32(nil), l.Backward(dy).Data...)
		return y, dx, append([]float32(nil), l.Weight.G...)
	}
	y1, dx1, dw1 := run(true)
	y0, dx0, dw0 := run(false)
	for _, c := range []struct {
		name string
		a, b []float32
		tol  float64
	}{{"y", y1, y0, 1e-5}, {"dx", dx1, dx0, 1e-5}, {"dw", dw1, dw0, 5e-5}} {
		if e := maxRel(c.a, c.b); e > c.tol {
			t.Errorf("%s: Winograd vs batched im2col rel error %.3g > %g", c.name, e, c.tol)
		} else {
			t.Logf("%s: rel error %.3g", c.name, e)
		}
	}
}
