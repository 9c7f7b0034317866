package kern

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

func TestTierReported(t *testing.T) {
	t.Logf("kern tier %v (cpu.Best %v, cpu.Tiers %v), %d threads", Tier(), cpu.Best, cpu.Tiers(), Threads())
	if _, err := SetTier(cpu.Tier(99)); err == nil {
		t.Fatal("SetTier accepted an unknown tier")
	}
}

// FuzzSgemmTiers is a differential fuzz test: the fastest tier and the
// plain-Go tier must agree within the stated tolerance on any shape,
// transposition and alpha/beta.
func FuzzSgemmTiers(f *testing.F) {
	f.Add(uint8(7), uint8(17), uint16(33), false, true, float32(1), float32(0), uint64(1))
	f.Add(uint8(1), uint8(1), uint16(1), true, false, float32(-2), float32(0.5), uint64(2))
	f.Add(uint8(200), uint8(40), uint16(600), true, true, float32(0.25), float32(1), uint64(3))
	best := cpu.Tiers()[len(cpu.Tiers())-1]
	f.Fuzz(func(t *testing.T, m8, n8 uint8, k16 uint16, tA, tB bool, alpha, beta float32, seed uint64) {
		m, n, k := int(m8)+1, int(n8)+1, int(k16)%1100+1
		if math.IsNaN(float64(alpha)) || math.IsInf(float64(alpha), 0) || math.Abs(float64(alpha)) > 1e3 ||
			math.IsNaN(float64(beta)) || math.IsInf(float64(beta), 0) || math.Abs(float64(beta)) > 1e3 {
			t.Skip()
		}
		r := rand.New(rand.NewPCG(seed, 11))
		a, b := randSlice(r, m*k), randSlice(r, k*n)
		c0 := randSlice(r, m*n)
		lda, ldb := k, n
		if tA {
			lda = m
		}
		if tB {
			ldb = k
		}
		var out [2][]float32
		for i, tr := range []cpu.Tier{cpu.Generic, best} {
			prev, _ := SetTier(tr)
			out[i] = append([]float32(nil), c0...)
			Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, out[i], n)
			SetTier(prev)
		}
		for i := range out[0] {
			row, col := i/n, i%n
			var sa float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if tA {
					av = a[p*lda+row]
				} else {
					av = a[row*lda+p]
				}
				if tB {
					bv = b[col*ldb+p]
				} else {
					bv = b[p*ldb+col]
				}
				sa += math.Abs(float64(av) * float64(bv))
			}
			scale := math.Abs(float64(alpha))*sa + math.Abs(float64(beta)*float64(c0[i]))
			if d := math.Abs(float64(out[0][i]) - float64(out[1][i])); d > 2*gemmTol(k)*scale+1e-30 {
				t.Fatalf("m=%d n=%d k=%d tA=%v tB=%v: element %d: generic %g, %v %g", m, n, k, tA, tB, i, out[0][i], best, out[1][i])
			}
		}
	})
}
