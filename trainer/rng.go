package trainer

import "math"

// RNG is the trainer's seeded deterministic generator (SplitMix64). The same
// seed gives the same initial weights on every platform and Go version.
type RNG struct{ s uint64 }

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return &RNG{s: seed} }

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float64 returns a uniform value in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Uniform returns a uniform value in [lo, hi).
func (r *RNG) Uniform(lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// Normal returns a standard normal value (Box–Muller).
func (r *RNG) Normal() float64 {
	u := 1 - r.Float64() // (0, 1]
	v := r.Float64()
	return math.Sqrt(-2*math.Log(u)) * math.Cos(2*math.Pi*v)
}

// Intn returns a uniform integer in [0, n).
func (r *RNG) Intn(n int) int { return int(r.Uint64() % uint64(n)) }

func fillUniform[T Float](r *RNG, w []T, bound float64) {
	for i := range w {
		w[i] = T(r.Uniform(-bound, bound))
	}
}

func fillNormal[T Float](r *RNG, w []T, std float64) {
	for i := range w {
		w[i] = T(std * r.Normal())
	}
}
