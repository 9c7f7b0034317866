package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// BenchmarkBlurPasses times cfBlur on a 224x224 RGB view with a fixed sigma
// (2: all 23 taps non-zero; 0.5: the kernel trimmed to 15 taps), per tier.
//
//	go test -run '^$' -bench BlurPasses -benchtime 300ms ./ops/
func BenchmarkBlurPasses(b *testing.B) {
	src := cfRandImage(rand.New(rand.NewPCG(3, 4)), 224, 224, 3)
	for _, sigma := range []float64{2, 0.5} {
		for _, tr := range cpu.Tiers() {
			b.Run(fmt.Sprintf("sigma=%v/%v", sigma, tr), func(b *testing.B) {
				defer setTier(tr)()
				var s Scratch
				m := NewImage(224, 224, 3)
				copy(m.Pix, src.Pix)
				cfBlur(&s, m, 23, sigma)
				b.SetBytes(int64(len(m.Pix)))
				b.ReportAllocs()
				cpu0 := geoCPUSeconds()
				for b.Loop() {
					copy(m.Pix, src.Pix)
					cfBlur(&s, m, 23, sigma)
				}
				if d := geoCPUSeconds() - cpu0; d > 0 {
					b.ReportMetric(d/float64(b.N)*1e6, "cpu_us/op")
				}
			})
		}
	}
}
