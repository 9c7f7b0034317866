//go:build amd64 && !purego && !noasm

package kern

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// combine16 adds sixteen partial sums in the order of the generated
// reductions: lane l of (A0+A2) + (A1+A3), Aj = p[4j..4j+3], then
// (l0+l2) + (l1+l3).
func combine16(p *[16]float64) float64 {
	var l [4]float64
	for i := range l {
		l[i] = (p[i] + p[8+i]) + (p[4+i] + p[12+i])
	}
	return (l[0] + l[2]) + (l[1] + l[3])
}

// dotDev16Go is the exact model of dotDev16AVX2 and dotDev16AVX512 (n a
// multiple of 16): element i goes to partial i mod 16, the dy·(x − m)
// terms fused into their partials.
func dotDev16Go(dy, x []float32, m float64) (sdy, sdx float64) {
	var p, q [16]float64
	for i := range x {
		g := float64(dy[i])
		p[i%16] += g
		q[i%16] = math.FMA(float64(x[i])-m, g, q[i%16])
	}
	return combine16(&p), combine16(&q)
}

// TestReduce16Exact demands that the AVX2 and AVX-512 bodies of the
// reductions give exactly the bits of their Go model (and hence of each
// other; sumDev those of dotDev with dy = x), on lengths 16..320 at unaligned offsets, with large and small
// magnitudes mixed so that the order of additions shows.
func TestReduce16Exact(t *testing.T) {
	type bodies struct {
		tier   cpu.Tier
		sum    func(*float32, int) float64
		sqDev  func(*float32, int, float64) float64
		dotDev func(*float32, *float32, int, float64) (float64, float64)
		sumDev func(*float32, int, float64) (float64, float64)
	}
	all := []bodies{
		{cpu.AVX2, sum16AVX2, sqDev16AVX2, dotDev16AVX2, sumDev16AVX2},
		{cpu.AVX512, sum16AVX512, sqDev16AVX512, dotDev16AVX512, sumDev16AVX512},
	}
	r := rand.New(rand.NewPCG(16, 16))
	x, dy := make([]float32, 340), make([]float32, 340)
	for i := range x {
		x[i] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
		dy[i] = float32(r.NormFloat64() * math.Exp2(float64(r.IntN(40)-20)))
	}
	var ran []cpu.Tier
	for _, b := range all {
		if !cpu.Supported(b.tier) {
			continue
		}
		ran = append(ran, b.tier)
		for n := 16; n <= 320; n += 16 {
			for _, off := range []int{0, 1, 3} {
				xs, gs := x[off:off+n], dy[off:off+n]
				const m = 0.37
				wsum, _ := dotDev16Go(xs, xs, 0)
				var q [16]float64
				for i, v := range xs {
					d := float64(v) - m
					q[i%16] = math.FMA(d, d, q[i%16])
				}
				wsq := combine16(&q)
				wdy, wdx := dotDev16Go(gs, xs, m)
				gsum := b.sum(&xs[0], n)
				gsq := b.sqDev(&xs[0], n, m)
				gdy, gdx := b.dotDev(&gs[0], &xs[0], n, m)
				wsx, wsxd := dotDev16Go(xs, xs, m)
				gsx, gsxd := b.sumDev(&xs[0], n, m)
				for _, c := range []struct {
					name      string
					got, want float64
				}{{"sum", gsum, wsum}, {"sqDev", gsq, wsq}, {"dotDev sdy", gdy, wdy}, {"dotDev sdx", gdx, wdx},
					{"sumDev sx", gsx, wsx}, {"sumDev sxd", gsxd, wsxd}} {
					if math.Float64bits(c.got) != math.Float64bits(c.want) {
						t.Fatalf("%v %s n=%d off=%d: %v, want %v (model)", b.tier, c.name, n, off, c.got, c.want)
					}
				}
			}
		}
	}
	t.Logf("bodies run: %v", ran)
}
