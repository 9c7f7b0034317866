package evalkit

import (
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sort"
	"testing"
)

// TestKNNHandMade: a case whose answer follows from the definition. Test
// point (1,0) has one class-0 neighbour at similarity 1 and two class-1
// neighbours at 0.5: with temp 0.1 the weighted vote (e^10 vs 2e^5) picks
// class 0, with temp 100 (almost a plain majority) class 1.
func TestKNNHandMade(t *testing.T) {
	s := math.Sqrt(0.75)
	// Scaled by 3 and 0.5: KNN normalises.
	train := []float32{3, 0, 0.5 * 0.5, 0.5 * float32(s), 0.5, -float32(s), -1, 0}
	trainLabels := []int32{0, 1, 1, 0}
	test := []float32{2, 0, 0, 5}
	testLabels := []int32{0, 1}
	if got := KNN(train, trainLabels, test, testLabels, 2, 3, 0.1, 2); got != 1 {
		t.Errorf("temp 0.1: accuracy %v, want 1", got)
	}
	// Test (0,1): B at 0.866 (class 1), A and D at 0 (class 0) → class 1.
	if got := KNN(train, trainLabels, test[2:], testLabels[1:], 2, 3, 0.1, 2); got != 1 {
		t.Errorf("second point: accuracy %v, want 1", got)
	}
	if got := KNN(train, trainLabels, test[:2], testLabels[:1], 2, 3, 100, 2); got != 0 {
		t.Errorf("temp 100: accuracy %v, want 0 (majority of class 1)", got)
	}
	// k = 1: plain nearest neighbour.
	if got := KNN(train, trainLabels, test, testLabels, 2, 1, 0.1, 2); got != 1 {
		t.Errorf("k 1: accuracy %v, want 1", got)
	}
	// k larger than the train set: every labelled row votes; unlabelled
	// train rows (−1) do not, unlabelled test rows do not count.
	if got := KNN(train, []int32{0, 1, 1, -1}, test, []int32{0, -1}, 2, 50, 0.1, 2); got != 1 {
		t.Errorf("k 50: accuracy %v, want 1", got)
	}
}

// refPredict is the brute-force reference: float64 cosine similarities,
// a full sort, weighted votes. It also says which rows sit on a near-tie
// (k-th and (k+1)-th similarity, or the two best vote totals, closer than
// float32 rounding can separate), where the fast path may legitimately differ.
func refPredict(train []float32, trainLabels []int32, test []float32, dim, k int, temp float64, classes int) (pred []int32, tie []bool) {
	norm := func(v []float32) []float64 {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x) / math.Sqrt(s)
		}
		return out
	}
	var tr [][]float64
	var lab []int32
	for i, l := range trainLabels {
		if l >= 0 && int(l) < classes {
			tr = append(tr, norm(train[i*dim:(i+1)*dim]))
			lab = append(lab, l)
		}
	}
	nTest := len(test) / dim
	pred, tie = make([]int32, nTest), make([]bool, nTest)
	type cand struct {
		sim float64
		idx int
	}
	kk := min(k, len(tr))
	for q := range nTest {
		x := norm(test[q*dim : (q+1)*dim])
		cs := make([]cand, len(tr))
		for j, r := range tr {
			var s float64
			for d := range dim {
				s += x[d] * r[d]
			}
			cs[j] = cand{s, j}
		}
		sort.Slice(cs, func(a, b int) bool {
			if cs[a].sim != cs[b].sim {
				return cs[a].sim > cs[b].sim
			}
			return cs[a].idx < cs[b].idx
		})
		if kk < len(cs) && cs[kk-1].sim-cs[kk].sim < 1e-5 {
			tie[q] = true
		}
		votes := make([]float64, classes)
		for _, c := range cs[:kk] {
			votes[lab[c.idx]] += math.Exp(c.sim / temp)
		}
		best := 0
		for c, v := range votes {
			if v > votes[best] {
				best = c
			}
		}
		sorted := slices.Clone(votes)
		slices.Sort(sorted)
		if classes > 1 && sorted[classes-1]-sorted[classes-2] < 1e-4*sorted[classes-1] {
			tie[q] = true
		}
		pred[q] = int32(best)
	}
	return pred, tie
}

// clustered makes n points of dim around `classes` random centres.
func clustered(r *rand.Rand, n, dim, classes int, centres [][]float32, noise float32) ([]float32, []int32) {
	x := make([]float32, n*dim)
	l := make([]int32, n)
	for i := range n {
		c := r.IntN(classes)
		l[i] = int32(c)
		for d := range dim {
			x[i*dim+d] = centres[c][d] + noise*float32(r.NormFloat64())
		}
	}
	return x, l
}

func TestKNNMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const dim, classes = 17, 5
	centres := make([][]float32, classes)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for d := range dim {
			centres[c][d] = float32(r.NormFloat64())
		}
	}
	train, trainLabels := clustered(r, 1100, dim, classes, centres, 1.2)
	test, testLabels := clustered(r, 300, dim, classes, centres, 1.2) // > 2 blocks of 128
	for i := 0; i < len(trainLabels); i += 7 {
		trainLabels[i] = -1 // unlabelled rows take no part
	}
	for _, k := range []int{1, 20, 200} {
		for _, temp := range []float64{0.1, 0.5} {
			want, tie := refPredict(train, trainLabels, test, dim, k, temp, classes)
			got, _ := knnPredict(train, trainLabels, test, testLabels, dim, k, temp, classes)
			ties := 0
			for q := range want {
				if tie[q] {
					ties++
					continue
				}
				if got[q] != want[q] {
					t.Errorf("k %d temp %v: test row %d predicted %d, reference %d", k, temp, q, got[q], want[q])
				}
			}
			if ties > len(want)/20 {
				t.Errorf("k %d temp %v: %d near-ties of %d rows: the check is too weak", k, temp, ties, len(want))
			}
			// The data are separable enough that kNN is far above chance.
			if acc := KNN(train, trainLabels, test, testLabels, dim, k, temp, classes); acc < 0.5 {
				t.Errorf("k %d temp %v: accuracy %v, want well above chance (0.2)", k, temp, acc)
			}
		}
	}
}

// TestKNNThreadsDeterministic: GOMAXPROCS changes nothing.
func TestKNNThreadsDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const dim, classes = 32, 10
	centres := make([][]float32, classes)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for d := range dim {
			centres[c][d] = float32(r.NormFloat64())
		}
	}
	train, trainLabels := clustered(r, 700, dim, classes, centres, 1.5)
	test, testLabels := clustered(r, 257, dim, classes, centres, 1.5)
	var preds [][]int32
	for _, procs := range []int{1, 2, 3} {
		old := runtime.GOMAXPROCS(procs)
		p, _ := knnPredict(train, trainLabels, test, testLabels, dim, 50, 0.1, classes)
		runtime.GOMAXPROCS(old)
		preds = append(preds, p)
	}
	for i := 1; i < len(preds); i++ {
		if !slices.Equal(preds[0], preds[i]) {
			t.Fatalf("predictions differ between GOMAXPROCS 1 and %d", i+1)
		}
	}
}

func TestKNNBadArgumentsPanic(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a train slice that does not match its labels")
		}
	}()
	KNN(make([]float32, 5), []int32{0, 1}, make([]float32, 4), []int32{0, 1}, 2, 1, 0.1, 2)
}

func BenchmarkKNN(b *testing.B) {
	// 10,000 × 2,000 × 128 (the full 60,000 × 10,000 monitor is 30× this).
	benchKNN(b, 10000, 2000)
}

// BenchmarkKNNFashionMNIST is the monitor's real size: 60,000 train and
// 10,000 test features of 128 values (run with -benchtime 1x).
func BenchmarkKNNFashionMNIST(b *testing.B) { benchKNN(b, 60000, 10000) }

func benchKNN(b *testing.B, nTrain, nTest int) {
	r := rand.New(rand.NewPCG(5, 6))
	const dim, classes = 128, 10
	centres := make([][]float32, classes)
	for c := range centres {
		centres[c] = make([]float32, dim)
		for d := range dim {
			centres[c][d] = float32(r.NormFloat64())
		}
	}
	train, trainLabels := clustered(r, nTrain, dim, classes, centres, 2)
	test, testLabels := clustered(r, nTest, dim, classes, centres, 2)
	b.SetBytes(int64(nTrain * nTest * 4)) // one float32 similarity per pair
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		KNN(train, trainLabels, test, testLabels, dim, 200, 0.1, classes)
	}
}
