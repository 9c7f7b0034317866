package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// BenchmarkColorFilterOps measures each colour/filter op per tier at 32x32
// and 224x224 RGB. Every iteration first copies the source into the working
// image (the ops work in place), so the figures include one image copy;
// BenchmarkColorFilterOps/op=copy is that copy alone. MPix/s counts pixels
// (3 samples each); SetBytes counts samples.
//
//	go test -run '^$' -bench ColorFilterOps -benchtime 200x ./ops/
func BenchmarkColorFilterOps(b *testing.B) {
	blur23, _ := NewGaussianBlur(23, 0, [2]float64{0.1, 2})
	blur3, _ := NewGaussianBlur(3, 0, [2]float64{0.1, 2})
	jit, _ := NewColorJitter(JitterRange(0.8, 1), JitterRange(0.8, 1), JitterRange(0.8, 1), JitterRange(0.2, 0))
	noise, _ := NewGaussianNoise([2]float64{0.05, 0.05}, 1)
	sob, _ := NewSobel(1)
	erase, _ := NewRandomErasing(1, [2]float64{0.02, 0.33}, [2]float64{0.3, 3.3}, 0, true, 1)
	sol, _ := NewRandomSolarize(128, 1)
	type benchOp struct {
		name string
		run  func(s *Scratch, m *Image, r *Rand, p *Params)
	}
	fixed := func(k int, f float64) func(s *Scratch, m *Image, r *Rand, p *Params) {
		return func(s *Scratch, m *Image, r *Rand, p *Params) { adjustColor(s, m, k, f) }
	}
	apply := func(op Op) func(s *Scratch, m *Image, r *Rand, p *Params) {
		return func(s *Scratch, m *Image, r *Rand, p *Params) { op.Apply(s, m, r, p) }
	}
	ops := []benchOp{
		{"copy", func(*Scratch, *Image, *Rand, *Params) {}},
		{"brightness", fixed(0, 1.3)},
		{"contrast", fixed(1, 0.7)},
		{"saturation", fixed(2, 1.4)},
		{"hue", fixed(3, 0.13)},
		{"jitter", apply(jit)},
		{"grayscale3", func(s *Scratch, m *Image, r *Rand, p *Params) { cfToGray(s, m, 3) }},
		{"blur", nil}, // kernel by size: 23 at 224, 3 at 32
		{"sobel", apply(sob)},
		{"noise", apply(noise)},
		{"solarize", apply(sol)},
		{"erasing_random", apply(erase)},
	}
	for _, size := range []int{32, 224} {
		src := cfRandImage(rand.New(rand.NewPCG(1, 2)), size, size, 3)
		for _, o := range ops {
			run := o.run
			if o.name == "blur" {
				run = apply(blur3)
				if size == 224 {
					run = apply(blur23)
				}
			}
			for _, tr := range cpu.Tiers() {
				b.Run(fmt.Sprintf("op=%s/size=%d/tier=%v", o.name, size, tr), func(b *testing.B) {
					defer setTier(tr)()
					var s Scratch
					var p Params
					m := NewImage(size, size, 3)
					r := NewRand(1, 0, 0, 0)
					copy(m.Pix, src.Pix)
					run(&s, m, &r, &p) // warm the scratch buffers
					b.SetBytes(int64(len(m.Pix)))
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						copy(m.Pix, src.Pix)
						p.Reset()
						run(&s, m, &r, &p)
					}
					b.ReportMetric(float64(size*size)*float64(b.N)/b.Elapsed().Seconds()/1e6, "MPix/s")
				})
			}
		}
	}
}
