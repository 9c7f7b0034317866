//go:build linux

package ops

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/pairflow/pairflow/internal/cpu"
	"golang.org/x/sys/unix"
)

// threadCPU is the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID, in
// nanoseconds) (the goroutine is
// locked to its thread): time the thread spent descheduled on a shared
// machine does not count.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkTierAB compares the AVX-512 tier with the AVX2 tier on the same
// work in the same process, alternating them (ABBA order) in slices of
// about 30 ms of thread CPU time, and reports the median time per
// operation of each tier and the median of the per-round ratios avx2/avx512
// ("x", above 1 when AVX-512 is faster). It is one measurement per
// b.N iteration, so run it with -benchtime 1x:
//
//	go test ./ops -run '^$' -bench TierAB -benchtime 1x
//
// The workloads: the 224-px simclr-imagenet chain (two views of a 400x350
// photo into float32, as BenchmarkRecipe/simclr-imagenet) and its kernels on
// a 224x224 RGB view.
func BenchmarkTierAB(b *testing.B) {
	if !cpu.Supported(cpu.AVX512) {
		b.Skip("no AVX-512 here")
	}
	_, _, ins := geoLoadGoldens(b)
	var s0 Scratch
	src400 := benchPhoto(ins, 350, 400)
	view := cfRandImage(rand.New(rand.NewPCG(3, 4)), 224, 224, 3)
	copyImage(view, func() *Image { o, _ := ResizedCrop(&s0, src400, Box{0, 0, 350, 350}, 224, 224, 0); return o }())

	chain := func() func() {
		rc, err := Preset("simclr-imagenet")
		if err != nil {
			b.Fatal(err)
		}
		w, h, ch := rc.ViewShape(src400.W, src400.H)
		v1, v2 := make([]float32, w*h*ch), make([]float32, w*h*ch)
		var s Scratch
		var p1, p2 Params
		var r1, r2 Rand
		i := uint64(0)
		return func() {
			r1, r2 = NewRand(1, 0, i, 0), NewRand(1, 0, i, 1)
			i++
			if err := rc.ApplyFloat32(&s, src400, &r1, &p1, v1); err != nil {
				b.Fatal(err)
			}
			if err := rc.ApplyFloat32(&s, src400, &r2, &p2, v2); err != nil {
				b.Fatal(err)
			}
		}
	}
	onView := func(f func(s *Scratch, m *Image)) func() func() {
		return func() func() {
			var s Scratch
			m := NewImage(224, 224, 3)
			return func() {
				copy(m.Pix, view.Pix)
				f(&s, m)
			}
		}
	}
	dst := make([]float32, 224*224*3)
	cases := []struct {
		name string
		make func() func()
	}{
		{"chain=simclr-imagenet", chain},
		{"kernel=hue", onView(func(s *Scratch, m *Image) { adjustColor(s, m, 3, 0.13) })},
		{"kernel=saturation", onView(func(s *Scratch, m *Image) { adjustColor(s, m, 2, 1.37) })},
		{"kernel=contrast", onView(func(s *Scratch, m *Image) { adjustColor(s, m, 1, 0.7) })},
		{"kernel=brightness", onView(func(s *Scratch, m *Image) { adjustColor(s, m, 0, 1.2) })},
		{"kernel=blur23", onView(func(s *Scratch, m *Image) { cfBlur(s, m, 23, 1.5) })},
		{"kernel=resized_crop", onView(func(s *Scratch, m *Image) {
			ResizedCrop(s, src400, Box{50, 40, 300, 280}, 224, 224, 0)
		})},
		{"kernel=to_float32", onView(func(s *Scratch, m *Image) { ToFloat32CHW(dst, m, nil, nil) })},
		{"kernel=to_float32_norm", onView(func(s *Scratch, m *Image) {
			ToFloat32CHW(dst, m, []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225})
		})},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tiers := [2]cpu.Tier{cpu.AVX2, cpu.AVX512}
			var fns [2]func()
			for i, tr := range tiers {
				restore := setTier(tr)
				fns[i] = c.make()
				fns[i]() // warm plans and buffers
				restore()
			}
			// Iterations per slice: about 30 ms of the AVX2 tier.
			restore := setTier(cpu.AVX2)
			t0, n := threadCPU(), 0
			for threadCPU()-t0 < 30*time.Millisecond {
				fns[0]()
				n++
			}
			restore()
			const rounds = 9
			var per [2][]float64
			var ratio []float64
			for b.Loop() {
				for r := 0; r < rounds; r++ {
					var d [2]float64
					for j := 0; j < 2; j++ {
						i := j
						if r%2 == 1 { // ABBA: alternate which tier goes first
							i = 1 - j
						}
						restore := setTier(tiers[i])
						t0 := threadCPU()
						for k := 0; k < n; k++ {
							fns[i]()
						}
						d[i] = float64(threadCPU()-t0) / float64(n)
						restore()
					}
					per[0], per[1] = append(per[0], d[0]), append(per[1], d[1])
					ratio = append(ratio, d[0]/d[1])
				}
			}
			med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
			b.ReportMetric(med(per[0])/1e3, "avx2_us/op")
			b.ReportMetric(med(per[1])/1e3, "avx512_us/op")
			b.ReportMetric(med(ratio), "x")
			b.ReportMetric(0, "ns/op")
			if testing.Verbose() {
				b.Logf("%s ratios avx2/avx512: %s", c.name, fmt.Sprint(ratio))
			}
		})
	}
}
