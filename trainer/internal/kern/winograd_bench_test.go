package kern

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkWinograd times the 3×3 stride-1 padding-1 convolutions that
// useWinograd accepts, on im2col (wino=off) and Winograd (wino=on), forward,
// input gradient alone (dX), weight gradient alone (dW) and the fused
// backward (bwd: both), two threads. GFLOP/cpu-s counts the direct convolution's
// 2·N·H·W·Cout·Cin·9 per pass (4× that for bwd's two), divided by this
// process's CPU time, so both paths are measured in the same unit.
func BenchmarkWinograd(b *testing.B) {
	type shp struct {
		name            string
		n, cin, cout, h int
	}
	for _, sh := range []shp{
		{"fmnist-conv2", 256, 32, 64, 14}, {"fmnist-conv3", 256, 64, 128, 7},
		{"cifar-conv2", 128, 32, 64, 16}, {"cifar-conv3", 128, 64, 128, 8},
		{"res-64x32", 32, 64, 64, 32}, {"res-128x16", 32, 128, 128, 16},
		{"res-256x8", 32, 256, 256, 8}, {"res-512x4", 32, 512, 512, 4}, {"res-512x4-n128", 128, 512, 512, 4},
	} {
		s := ConvShape{N: sh.n, Cin: sh.cin, H: sh.h, W: sh.h, Cout: sh.cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		r := rand.New(rand.NewPCG(1, 1))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		y, dx, dw := make([]float32, s.OutLen()), make([]float32, s.InLen()), make([]float32, s.WeightLen())
		flop := 2 * float64(s.N*s.H*s.W) * float64(s.Cout*s.Cin*9)
		passes := []struct {
			name  string
			flops float64
			f     func()
		}{
			{"fwd", flop, func() { Conv2d(s, x, w, y) }},
			{"dX", flop, func() { Conv2dBackwardInput(s, dy, w, dx) }},
			{"dW", flop, func() { Conv2dBackwardWeights(s, x, dy, dw) }},
			{"bwd", 2 * flop, func() { Conv2dBackward(s, x, dy, w, dw, dx) }},
		}
		for _, p := range passes {
			for _, on := range []bool{false, true} {
				b.Run(fmt.Sprintf("%s/%s/wino=%v", sh.name, p.name, on), func(b *testing.B) {
					defer SetThreads(SetThreads(2))
					defer SetWinograd(SetWinograd(on))
					b.SetBytes(int64(4 * (s.InLen() + s.OutLen())))
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

// BenchmarkCopyRows compares the two ways of copying the short rows of a
// small plane into a padded one (winoPadRows, winoGradOut): an element loop
// and copy (memmove), for 64 planes of w×w.
func BenchmarkCopyRows(b *testing.B) {
	for _, w := range []int{7, 14, 28} {
		src := make([]float32, 64*w*w)
		pw := w + 2
		dst := make([]float32, 64*pw*pw)
		for _, loop := range []bool{true, false} {
			b.Run(fmt.Sprintf("w=%d/loop=%v", w, loop), func(b *testing.B) {
				b.SetBytes(int64(4 * len(src)))
				for b.Loop() {
					for p := 0; p < 64; p++ {
						for y := 0; y < w; y++ {
							row := dst[p*pw*pw+(y+1)*pw+1:][:w]
							s := src[(p*w+y)*w:][:w]
							if !loop {
								copy(row, s)
								continue
							}
							for x, v := range s {
								row[x] = v
							}
						}
					}
				}
			})
		}
	}
}

// BenchmarkWinograd4 compares im2col (f=0), F(2×2,3×3) (f=2) and
// F(4×4,3×3) (f=4) on BenchmarkWinograd's shapes (res-512x4 included), forward and input gradient, two threads, in
// the same unit (the direct convolution's FLOPs per CPU-second).
func BenchmarkWinograd4(b *testing.B) {
	type shp struct {
		name            string
		n, cin, cout, h int
	}
	for _, sh := range []shp{
		{"fmnist-conv2", 256, 32, 64, 14}, {"fmnist-conv3", 256, 64, 128, 7},
		{"cifar-conv2", 128, 32, 64, 16}, {"cifar-conv3", 128, 64, 128, 8},
		{"res-64x32", 128, 64, 64, 32}, {"res-128x16", 128, 128, 128, 16},
		{"res-256x8", 128, 256, 256, 8}, {"res-512x4", 128, 512, 512, 4},
	} {
		s := ConvShape{N: sh.n, Cin: sh.cin, H: sh.h, W: sh.h, Cout: sh.cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		r := rand.New(rand.NewPCG(1, 1))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		y, dx := make([]float32, s.OutLen()), make([]float32, s.InLen())
		flop := 2 * float64(s.N*s.H*s.W) * float64(s.Cout*s.Cin*9)
		for _, p := range []struct {
			name string
			f    func()
		}{
			{"fwd", func() { Conv2d(s, x, w, y) }},
			{"dX", func() { Conv2dBackwardInput(s, dy, w, dx) }},
		} {
			for _, mode := range []int{0, -1, 1} {
				b.Run(fmt.Sprintf("%s/%s/f=%d", sh.name, p.name, map[int]int{0: 0, -1: 2, 1: 4}[mode]), func(b *testing.B) {
					defer SetThreads(SetThreads(2))
					defer SetWinograd(SetWinograd(mode != 0))
					defer func(v int) { winoMinPlane = v }(winoMinPlane)
					winoMinPlane = 0 // 4×4 planes too
					defer func(m int) { wino4Mode = m }(wino4Mode)
					wino4Mode = mode
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

// BenchmarkWinograd4DW compares the weight gradient on F(3×3,2×2) (f=2)
// and F(3×3,4×4) (f=4) on resnet18's 3×3 shapes at 32 px and smallcnn's
// (28 and 32 px), on 512 images (trainbench's batch of 256 pairs), alone (dW) and in the fused backward
// pass with dx (bwd, dX on useWino4's choice), two threads, in the direct
// convolution's FLOPs per CPU-second (bwd counts both gradients).
// -wino4dwcols=128,256 compares F(3×3,4×4) batch sizes.
func BenchmarkWinograd4DW(b *testing.B) {
	type shp struct {
		name            string
		n, cin, cout, h int
	}
	for _, sh := range []shp{
		{"res-64x32", 512, 64, 64, 32}, {"res-128x16", 512, 128, 128, 16}, {"res-256x8", 512, 256, 256, 8},
		{"res-512x4", 512, 512, 512, 4}, {"res-512x4-n128", 128, 512, 512, 4},
		{"fmnist-conv2", 512, 32, 64, 14}, {"fmnist-conv3", 512, 64, 128, 7},
		{"cifar-conv2", 512, 32, 64, 16}, {"cifar-conv3", 512, 64, 128, 8},
	} {
		s := ConvShape{N: sh.n, Cin: sh.cin, H: sh.h, W: sh.h, Cout: sh.cout, KH: 3, KW: 3, StrideH: 1, StrideW: 1, PadH: 1, PadW: 1}
		r := rand.New(rand.NewPCG(1, 1))
		x, w, dy := randSlice(r, s.InLen()), randSlice(r, s.WeightLen()), randSlice(r, s.OutLen())
		dx, dw := make([]float32, s.InLen()), make([]float32, s.WeightLen())
		flop := 2 * float64(s.N*s.H*s.W) * float64(s.Cout*s.Cin*9)
		for _, p := range []struct {
			name  string
			flops float64
			f     func()
		}{
			{"dW", flop, func() { Conv2dBackwardWeights(s, x, dy, dw) }},
			{"bwd", 2 * flop, func() { Conv2dBackward(s, x, dy, w, dw, dx) }},
		} {
			for _, f := range []int{2, 4} {
				cols := []int{0}
				if f == 4 && *wino4DWColsFlag != "" {
					cols = nil
					for _, v := range strings.Split(*wino4DWColsFlag, ",") {
						c, err := strconv.Atoi(v)
						if err != nil || c < 1 {
							b.Fatalf("-wino4dwcols %q: want positive integers", *wino4DWColsFlag)
						}
						cols = append(cols, c)
					}
				}
				for _, c := range cols {
					name := fmt.Sprintf("%s/%s/f=%d", sh.name, p.name, f)
					if c > 0 {
						name += fmt.Sprintf("/cols=%d", c)
					}
					b.Run(name, func(b *testing.B) {
						defer SetThreads(SetThreads(2))
						defer SetWinograd(SetWinograd(true))
						defer func(m, c int) { wino4Mode, wino4DWCols = m, c }(wino4Mode, wino4DWCols)
						if c > 0 {
							wino4DWCols = c
						}
						// dX keeps useWino4's choice; wino4DWMode switches the dW alone.
						defer func(m int) { wino4DWMode = m }(wino4DWMode)
						wino4Mode, wino4DWMode = 0, map[int]int{2: -1, 4: 1}[f]
						b.SetBytes(int64(4 * (s.InLen() + s.OutLen())))
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
}

// wino4DWColsFlag: the F(3×3,4×4) batch sizes (wino4DWCols) that
// BenchmarkWinograd4DW compares, comma-separated; empty runs the default.
var wino4DWColsFlag = flag.String("wino4dwcols", "", "comma-separated wino4DWCols values for BenchmarkWinograd4DW's f=4 runs (default: wino4DWCols)")
