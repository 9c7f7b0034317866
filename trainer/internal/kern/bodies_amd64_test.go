//go:build amd64 && !purego && !noasm

package kern

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/cpu"
)

// interleaved times fs[0] (the AVX2 body) and fs[1] (the AVX-512 body) in
// turn, reps times, each timing inner calls, and reports the AVX2 body's
// median time per call and the median of the per-repeat ratios
// t(AVX2)/t(AVX-512): the AVX-512 body's speed-up, both measured under the
// same machine load.
func interleaved(b *testing.B, reps, inner int, fs [2]func()) {
	interleavedAs(b, reps, inner, fs, "avx2-ns/call", "avx512/avx2-speed")
}

// interleavedAs is interleaved with the metrics' names given: the median
// time of fs[0] per call, and fs[1]'s speed-up over fs[0].
func interleavedAs(b *testing.B, reps, inner int, fs [2]func(), timeName, ratioName string) {
	var ts [2][]float64
	for r := 0; r < reps; r++ {
		for i, f := range fs {
			t0 := time.Now()
			for k := 0; k < inner; k++ {
				f()
			}
			ts[i] = append(ts[i], time.Since(t0).Seconds()/float64(inner))
		}
	}
	rs := make([]float64, reps)
	for r := range rs {
		rs[r] = ts[0][r] / ts[1][r]
	}
	sort.Float64s(rs)
	m := append([]float64(nil), ts[0]...)
	sort.Float64s(m)
	b.ReportMetric(m[reps/2]*1e9, timeName)
	b.ReportMetric(rs[reps/2], ratioName)
}

// BenchmarkBodies compares the AVX2 and AVX-512 bodies of the generated
// vector kernels on one thread, on the sizes the trainer gives them
// (smallcnn and resnet18 at 32×32 inputs): the reductions (dotDev over a
// plane and over whole activations; and, both AVX2, the statistics' sumDev
// against the dotDev(x, x) it replaces), the Winograd transforms per tile row
// width, the momentum step for smallcnn-sized and resnet18-sized parameter
// sets, and the pooling kernels through the tier switch (the AVX2 tier
// against the AVX-512 tier, whose rows of 16 outputs or more run the
// AVX-512 bodies). Run with -benchtime 1x: each benchmark does its own 21
// interleaved repeats.
func BenchmarkBodies(b *testing.B) {
	if !cpu.Supported(cpu.AVX512) {
		b.Skip("no AVX-512 tier in this process")
	}
	const reps = 21
	r := rand.New(rand.NewPCG(1, 1))
	defer SetThreads(SetThreads(1))
	for _, n := range []int{1024, 16384, 1 << 20} {
		x, dy := randSlice(r, n), randSlice(r, n)
		b.Run(fmt.Sprintf("dotDev/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, max(1, 1<<20/n), [2]func(){
					func() { dotDev16AVX2(&dy[0], &x[0], n, 0.5) },
					func() { dotDev16AVX512(&dy[0], &x[0], n, 0.5) },
				})
			}
		})
	}
	for _, n := range []int{1024, 16384, 1 << 20} {
		x := randSlice(r, n)
		b.Run(fmt.Sprintf("sumDev/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, max(1, 1<<20/n), [2]func(){
					func() { sumDev16AVX2(&x[0], n, 0.5) },
					func() { sumDev16AVX512(&x[0], n, 0.5) },
				})
			}
		})
		b.Run(fmt.Sprintf("sumDev-vs-dotDev(x,x)/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleavedAs(b, reps, max(1, 1<<20/n), [2]func(){
					func() { dotDev16AVX2(&x[0], &x[0], n, 0.5) },
					func() { sumDev16AVX2(&x[0], n, 0.5) },
				}, "dotDev-ns/call", "sumDev/dotDev-speed")
			}
		})
	}
	for _, tw := range []int{7, 8, 9, 12, 14, 15, 16, 32} {
		th := tw
		pw := 2*tw + 2 + 32
		p := randSlice(r, (2*th+4)*pw)
		xs := th*tw + 32
		dst := make([]float32, 16*xs+64)
		b.Run(fmt.Sprintf("winoIn/tiles=%dx%d", th, tw), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, 200, [2]func(){
					func() { winoInAVX2(&p[0], pw, th, tw, &dst[0], xs) },
					func() { winoInAVX512(&p[0], pw, th, tw, &dst[0], xs) },
				})
			}
		})
		ms := th*tw + 16
		m := randSlice(r, 16*ms)
		yw := 2*tw + 16
		y := make([]float32, 2*th*yw+64)
		b.Run(fmt.Sprintf("winoOut/tiles=%dx%d", th, tw), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, 200, [2]func(){
					func() { winoOutAVX2(&m[0], ms, th, tw, &y[0], yw) },
					func() { winoOutAVX512(&m[0], ms, th, tw, &y[0], yw) },
				})
			}
		})
	}
	// F(4×4,3×3) transforms over a batch's tiles: 256 (resnet18's 32×32,
	// 16×16 and 8×8 planes at wino4Cols) and 512 (4×4 planes, 128 images).
	for _, n := range []int{128, 256, 512} {
		ld := n + 16
		d, x := randSlice(r, 36*ld), make([]float32, 36*ld)
		b.Run(fmt.Sprintf("wino4In/tiles=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, 100, [2]func(){
					func() { wino4InColsAVX2(&d[0], ld, n, &x[0], ld) },
					func() { wino4InColsAVX512(&d[0], ld, n, &x[0], ld) },
				})
			}
		})
		m, y := randSlice(r, 36*ld), make([]float32, 16*ld)
		b.Run(fmt.Sprintf("wino4Out/tiles=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, 100, [2]func(){
					func() { wino4OutColsAVX2(&m[0], ld, n, &y[0], ld) },
					func() { wino4OutColsAVX512(&m[0], ld, n, &y[0], ld) },
				})
			}
		})
		g, e := randSlice(r, 16*ld), make([]float32, 36*ld)
		b.Run(fmt.Sprintf("wino4GradOut/tiles=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, 100, [2]func(){
					func() { wino4GradOutColsAVX2(&g[0], ld, n, &e[0], ld) },
					func() { wino4GradOutColsAVX512(&g[0], ld, n, &e[0], ld) },
				})
			}
		})
	}
	for _, n := range []int{16, 64, 196, 256} {
		r0, r1 := randSlice(r, 2*n+32), randSlice(r, 2*n+32)
		xs := n + 32
		dst := make([]float32, 16*xs+64)
		b.Run(fmt.Sprintf("winoGradOut/tiles=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, 400, [2]func(){
					func() { winoGradOutAVX2(&r0[0], &r1[0], n, &dst[0], xs) },
					func() { winoGradOutAVX512(&r0[0], &r1[0], n, &dst[0], xs) },
				})
			}
		})
	}
	for _, n := range []int{300_000, 11_000_000} {
		w, g, v := randSlice(r, n), randSlice(r, n), randSlice(r, n)
		b.Run(fmt.Sprintf("momentum/n=%d", n), func(b *testing.B) {
			for b.Loop() {
				interleaved(b, reps, max(1, 3_000_000/n), [2]func(){
					func() { momentumWDAVX2(&w[0], &g[0], &v[0], n, 1e-6, 0.9, 1, 1e-3) },
					func() { momentumWDAVX512(&w[0], &g[0], &v[0], n, 1e-6, 0.9, 1, 1e-3) },
				})
			}
		})
	}
	for _, hw := range []int{32, 64} {
		const n, c = 32, 32
		x := randSlice(r, n*c*hw*hw)
		dy := randSlice(r, len(x)/4)
		y, dx, arg := make([]float32, len(x)/4), make([]float32, len(x)), make([]uint8, len(x)/4)
		mean, variance, gamma, beta := make([]float32, c), make([]float32, c), randSlice(r, c), randSlice(r, c)
		for i := range variance {
			variance[i] = 1
		}
		MaxPool2(y, arg, x, n, c, hw, hw)
		atTier := func(t cpu.Tier, f func()) func() {
			return func() {
				prev, _ := SetTier(t)
				f()
				SetTier(prev)
			}
		}
		for _, op := range []struct {
			name string
			f    func()
		}{
			{"MaxPool2", func() { MaxPool2(y, arg, x, n, c, hw, hw) }},
			{"BatchNormReLUMaxPool2", func() { BatchNormReLUMaxPool2(y, arg, x, mean, variance, gamma, beta, 1e-5, n, c, hw, hw) }},
			{"MaxPool2BackwardReLU", func() { MaxPool2BackwardReLU(dx, dy, y, arg, n, c, hw, hw) }},
		} {
			b.Run(fmt.Sprintf("%s/%dx%d", op.name, hw, hw), func(b *testing.B) {
				for b.Loop() {
					interleaved(b, reps, 5, [2]func(){atTier(cpu.AVX2, op.f), atTier(cpu.AVX512, op.f)})
				}
			})
		}
	}
}
