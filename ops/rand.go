package ops

import (
	"math"
	"math/bits"
)

// Rand is a small counter-based random generator. Each view of each sample
// gets its own stream, derived from (seed, epoch, sample id, view index) by
// NewRand alone, so a view can be recomputed in isolation, on any worker, in
// any order, with the same result. It is SplitMix64 over a derived key; it is
// not for cryptography.
//
// The zero value is a valid generator (the stream of key 0).
type Rand struct {
	key, ctr uint64
}

// NewRand returns the generator of one view.
func NewRand(seed, epoch, sample uint64, view uint32) Rand {
	k := mix64(seed ^ 0x9e3779b97f4a7c15)
	k = mix64(k ^ epoch)
	k = mix64(k ^ sample)
	k = mix64(k ^ uint64(view))
	return Rand{key: k}
}

// Derive returns an independent generator for a sub-stream of r (for example
// one per operator), keyed by id. It does not advance r.
func (r *Rand) Derive(id uint64) Rand {
	return Rand{key: mix64(r.key ^ mix64(id+0x632be59bd9b4e019))}
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Uint64 returns the next 64 random bits.
func (r *Rand) Uint64() uint64 {
	r.ctr++
	return mix64(r.key + r.ctr*0x9e3779b97f4a7c15)
}

// Float64 returns a uniform number in [0, 1) with 53 random bits.
func (r *Rand) Float64() float64 {
	return float64(r.Uint64()>>11) * (1.0 / (1 << 53))
}

// Uniform returns a uniform number in [lo, hi).
func (r *Rand) Uniform(lo, hi float64) float64 {
	return lo + r.Float64()*(hi-lo)
}

// Intn returns a uniform integer in [0, n). It panics if n <= 0.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		panic("ops: Rand.Intn with n <= 0")
	}
	// Lemire's multiply-shift with rejection: exact for every n.
	un := uint64(n)
	for {
		hi, lo := bits.Mul64(r.Uint64(), un)
		if lo >= un || lo >= (-un)%un {
			return int(hi)
		}
	}
}

// Bernoulli returns true with probability p.
func (r *Rand) Bernoulli(p float64) bool {
	return r.Float64() < p
}

// NormFloat64 returns a standard normal number (Box–Muller; one draw of two
// uniforms per call, so the stream position does not depend on history).
func (r *Rand) NormFloat64() float64 {
	u1 := 1 - r.Float64() // (0, 1]
	u2 := r.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// Perm4 returns a uniform random permutation of 0..3 (ColorJitter's order).
func (r *Rand) Perm4() [4]uint8 {
	p := [4]uint8{0, 1, 2, 3}
	for i := 3; i > 0; i-- {
		j := r.Intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
