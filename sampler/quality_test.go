package sampler

import (
	"fmt"
	"math"
	"testing"
)

// Shuffle quality: the orders must look like independent uniform random
// permutations, not only be bijections. Each statistic is compared with its
// distribution under a uniform shuffle, with thresholds of about 4 standard
// deviations (false-alarm rate about 1e-4 per check for the uniform shuffle,
// and the checks are deterministic for a fixed seed), and each test also runs a
// deliberately bad shuffle (a local shuffle within blocks of 64) to show that
// the statistic can fail.

const qualityN = 100_003 // prime, so the Feistel domain (2^17) is 1.31 n

// order is the element at each position: order[i] = π(i).
type order []int64

func permOrder(t *testing.T, n int64, seed, epoch uint64) order {
	t.Helper()
	p, err := NewPermutation(n, seed, epoch)
	if err != nil {
		t.Fatal(err)
	}
	o := make(order, n)
	for i := range n {
		o[i] = p.At(i)
	}
	return o
}

// blockShuffle is the bad control: a uniform shuffle inside each block of 64
// consecutive records, blocks kept in place.
func blockShuffle(n int64, seed uint64) order {
	o := make(order, n)
	for first := int64(0); first < n; first += 64 {
		size := min(64, n-first)
		p := newPermutation(uint64(size), deriveKey(seed, 0, 99, uint64(first)))
		for j := range size {
			o[first+j] = first + int64(p.atUnchecked(uint64(j)))
		}
	}
	return o
}

// positions returns pos with pos[v] = the position of element v.
func (o order) positions() []int64 {
	pos := make([]int64, len(o))
	for i, v := range o {
		pos[v] = int64(i)
	}
	return pos
}

// pearson is the correlation of two equally long series.
func pearson(a, b []int64) float64 {
	n := float64(len(a))
	var sa, sb float64
	for i := range a {
		sa += float64(a[i])
		sb += float64(b[i])
	}
	ma, mb := sa/n, sb/n
	var sab, saa, sbb float64
	for i := range a {
		x, y := float64(a[i])-ma, float64(b[i])-mb
		sab += x * y
		saa += x * x
		sbb += y * y
	}
	return sab / math.Sqrt(saa*sbb)
}

// For independent uniform permutations the correlation of a sample's positions
// is about normal with mean 0 and standard deviation 1/sqrt(n-1), so
// |r| < 4/sqrt(n) is a 4-sigma bound.
func TestQualityPositionCorrelation(t *testing.T) {
	n := int64(qualityN)
	bound := 4 / math.Sqrt(float64(n))
	pairs := []struct {
		name          string
		seedA, epochA uint64
		seedB, epochB uint64
	}{
		{"epoch 0→1", 7, 0, 7, 1},
		{"epoch 1→2", 7, 1, 7, 2},
		{"epoch 41→42", 123456789, 41, 123456789, 42},
		{"seed 0→1", 0, 0, 1, 0},
		{"seed 41→42", 41, 3, 42, 3},
		{"seed 2^32→2^32+1", 1 << 32, 0, 1<<32 + 1, 0},
	}
	for _, pc := range pairs {
		a := permOrder(t, n, pc.seedA, pc.epochA).positions()
		b := permOrder(t, n, pc.seedB, pc.epochB).positions()
		r := pearson(a, b)
		t.Logf("%s: r=%+.5f (bound %.5f)", pc.name, r, bound)
		if math.Abs(r) >= bound {
			t.Errorf("%s: |r|=%.5f ≥ %.5f", pc.name, math.Abs(r), bound)
		}
	}
	// Control: two epochs of a block-local shuffle are almost perfectly
	// correlated, far beyond the bound.
	if r := pearson(blockShuffle(n, 1).positions(), blockShuffle(n, 2).positions()); math.Abs(r) < bound {
		t.Errorf("control: block shuffle r=%.5f passed the bound", r)
	}
}

// displacementKS returns the Kolmogorov–Smirnov distance between the empirical
// distribution of D = |π(i) − i| and its law under a uniform permutation of n:
// P(D=0) = 1/n, P(D=d) = 2(n−d)/n² for 1 ≤ d < n, so
// F(d) = P(D ≤ d) = (n + 2dn − d(d+1)) / n².
func displacementKS(o order) float64 {
	n := int64(len(o))
	count := make([]int64, n)
	for i, v := range o {
		d := v - int64(i)
		if d < 0 {
			d = -d
		}
		count[d]++
	}
	nf := float64(n)
	var cum int64
	var ks float64
	for d := range n {
		cum += count[d]
		df := float64(d)
		f := (nf + 2*df*nf - df*(df+1)) / (nf * nf)
		ks = max(ks, math.Abs(float64(cum)/nf-f))
	}
	return ks
}

// The displacements of one permutation are nearly independent, so the
// asymptotic KS bound for i.i.d. samples applies: P(√n·KS > 1.95) ≈ 0.001.
func TestQualityDisplacement(t *testing.T) {
	n := int64(qualityN)
	bound := 1.95 / math.Sqrt(float64(n))
	for _, c := range []struct{ seed, epoch uint64 }{{0, 0}, {1, 0}, {42, 7}, {1 << 40, 1}} {
		ks := displacementKS(permOrder(t, n, c.seed, c.epoch))
		t.Logf("seed %d epoch %d: KS=%.5f (bound %.5f)", c.seed, c.epoch, ks, bound)
		if ks >= bound {
			t.Errorf("seed %d epoch %d: KS distance %.5f ≥ %.5f", c.seed, c.epoch, ks, bound)
		}
	}
	// Awkward size just above a power of two (domain ≈ 2n, most cycle walks).
	if ks := displacementKS(permOrder(t, 65537, 3, 0)); ks >= 1.95/math.Sqrt(65537) {
		t.Errorf("n=65537: KS distance %.5f", ks)
	}
	if ks := displacementKS(blockShuffle(n, 1)); ks < bound {
		t.Errorf("control: block shuffle KS=%.5f passed", ks)
	}
}

// Records adjacent in the file must not be adjacent in the order: the number of
// pairs (v, v+1) that land in the same batch of B has, under a uniform
// shuffle, mean about (n−1)·(B−1)/(n−1) = B−1 and a roughly Poisson spread; the
// bound is mean ± 5·sqrt(mean). The mean distance between their positions
// should be about n/3.
func TestQualityNeighbours(t *testing.T) {
	n := int64(qualityN)
	check := func(name string, o order, b int64) (sameBatch int64, meanGap float64) {
		pos := o.positions()
		var gap float64
		for v := int64(0); v+1 < n; v++ {
			if pos[v]/b == pos[v+1]/b {
				sameBatch++
			}
			gap += math.Abs(float64(pos[v] - pos[v+1]))
		}
		return sameBatch, gap / float64(n-1)
	}
	for _, b := range []int64{32, 256} {
		for _, seed := range []uint64{0, 99} {
			name := fmt.Sprintf("B=%d seed=%d", b, seed)
			same, gap := check(name, permOrder(t, n, seed, 1), b)
			mean := float64(b - 1)
			t.Logf("%s: %d neighbour pairs in one batch (expected %.0f, fraction %.5f vs B/n=%.5f); mean gap %.0f (n/3=%.0f)",
				name, same, mean, float64(same)/float64(n-1), float64(b)/float64(n), gap, float64(n)/3)
			if math.Abs(float64(same)-mean) > 5*math.Sqrt(mean)+1 {
				t.Errorf("%s: %d neighbour pairs share a batch, expected %.0f", name, same, mean)
			}
			if math.Abs(gap-float64(n)/3) > 0.02*float64(n)/3 {
				t.Errorf("%s: mean neighbour gap %.0f, expected about %.0f", name, gap, float64(n)/3)
			}
		}
	}
	if same, _ := check("control", blockShuffle(n, 1), 256); float64(same) < 1000 {
		t.Errorf("control: block shuffle only %d neighbour pairs in one batch", same)
	}
}

// Positions are uniform: each record's position across many epochs should be
// spread over the whole range. A chi-square over 16 position buckets for a
// fixed record across 1600 epochs has 15 degrees of freedom; 45 is far in the
// tail (p ≈ 1e-4).
func TestQualityPositionUniformAcrossEpochs(t *testing.T) {
	const n, epochs, buckets = 1000, 1600, 16
	for _, v := range []int64{0, 1, 500, 999} {
		var hist [buckets]float64
		for e := range uint64(epochs) {
			p, _ := NewPermutation(n, 5, e)
			hist[p.Index(v)*buckets/n]++
		}
		var chi2 float64
		want := float64(epochs) / buckets
		for _, h := range hist {
			chi2 += (h - want) * (h - want) / want
		}
		if chi2 > 45 {
			t.Errorf("record %d: chi-square of its positions over %d epochs = %.1f > 45", v, epochs, chi2)
		}
	}
}

// Small orders are exactly uniform: over many seeds every one of the n! orders
// of n ≤ 6 appears about equally often (chi-square within df + 5·sqrt(2·df)).
// This is the check the plain Feistel network failed for n = 5.
func TestQualitySmallOrdersUniform(t *testing.T) {
	for _, n := range []int64{2, 3, 4, 5, 6} {
		fact := int64(1)
		for i := int64(2); i <= n; i++ {
			fact *= i
		}
		seeds := 200 * fact
		count := map[[6]int64]int64{}
		for s := range uint64(seeds) {
			p, _ := NewPermutation(n, s, 0)
			var key [6]int64
			for i := range n {
				key[i] = p.At(i)
			}
			count[key]++
		}
		if int64(len(count)) != fact {
			t.Errorf("n=%d: %d of %d orders reached", n, len(count), fact)
		}
		chi2 := chiSquare(count, float64(seeds)/float64(fact))
		df := float64(fact - 1)
		if chi2 > df+5*math.Sqrt(2*df) {
			t.Errorf("n=%d: chi-square %.1f over %.0f degrees of freedom", n, chi2, df)
		}
	}
}

// Mid-size Feistel orders: P(π(i) = j) is 1/n for every cell (i, j); the
// chi-square over the n² cells across many seeds has (n−1)² degrees of freedom.
func TestQualityPositionMarginals(t *testing.T) {
	for _, n := range []int64{33, 100, 129} {
		seeds := 200 * n
		count := make([]int64, n*n)
		for s := range uint64(seeds) {
			p, _ := NewPermutation(n, s, 1)
			for i := range n {
				count[i*n+p.At(i)]++
			}
		}
		want := float64(seeds) / float64(n)
		var chi2 float64
		for _, c := range count {
			chi2 += (float64(c) - want) * (float64(c) - want) / want
		}
		df := float64((n - 1) * (n - 1))
		t.Logf("n=%d: chi-square %.0f, df %.0f", n, chi2, df)
		if chi2 > df+5*math.Sqrt(2*df) {
			t.Errorf("n=%d: chi-square %.0f over %.0f degrees of freedom", n, chi2, df)
		}
	}
}

func chiSquare[K comparable](count map[K]int64, want float64) float64 {
	var chi2 float64
	for _, c := range count {
		d := float64(c) - want
		chi2 += d * d / want
	}
	return chi2
}

// The shard-window order mixes only within a window, as its doc says: two
// records adjacent in a shard and in the same window of W records share a
// batch of B with probability Σ b(b−1) / (W(W−1)) over the window's batches
// (about (B−1)/(W−1)), and never when they fall in different windows; against
// (B−1)/(n−1) for the global order. The count is checked within ±10%.
func TestQualityShardWindowNeighbours(t *testing.T) {
	const shards, perShard, window, batch = 100, 1000, 8192, 256
	sizes := make([]int64, shards)
	for i := range sizes {
		sizes[i] = perShard
	}
	o, err := NewShardOrder(sizes, window, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := o.Len()
	ord := make(order, n)
	for i := range ord {
		ord[i] = o.At(int64(i))
	}
	pos := ord.positions()
	pSame := func(first int64) float64 { // for a pair inside the window starting at first
		size := min(window, n-first)
		var sum float64
		for b := first; b < first+size; b += batch {
			// batches are aligned to windows because window % batch == 0
			k := float64(min(batch, first+size-b))
			sum += k * (k - 1)
		}
		return sum / (float64(size) * float64(size-1))
	}
	var same int
	var want float64
	for j := int64(0); j+1 < n; j++ {
		v, w := o.ReadAt(j), o.ReadAt(j+1)
		if w != v+1 {
			continue // a shard boundary in the read sequence
		}
		if j/window == (j+1)/window {
			want += pSame(j / window * window)
		}
		if pos[v]/batch == pos[w]/batch {
			same++
		}
	}
	t.Logf("%d adjacent pairs share a batch of %d (expected %.0f for window %d; %.0f for a global shuffle)",
		same, batch, want, window, float64(n-shards)*(batch-1)/float64(n-1))
	if math.Abs(float64(same)-want) > 0.10*want {
		t.Errorf("%d adjacent pairs share a batch, expected about %.0f", same, want)
	}
}
