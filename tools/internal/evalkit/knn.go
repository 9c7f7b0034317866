package evalkit

import (
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/pairflow/pairflow/trainer"
	"github.com/sourcegraph/conc/pool"
)

// knnBlock is the number of test rows whose similarities to every train row
// are computed by one matrix product (knnBlock × n_train float32 scratch:
// 61 MB for 60,000 train rows).
const knnBlock = 256

// KNN is the weighted kNN monitor of the InstDisc/SimCLR codebases: features
// are L2-normalised, each test feature takes the k train features of highest
// cosine similarity (ties: the lower train index), each votes for its class
// with weight exp(sim/temp), and the class with the highest total (ties: the
// lower class) is the prediction. It returns the top-1 accuracy (0..1) over
// the test rows with a label in [0, classes); train rows without such a
// label take no part. train is n_train×dim and test n_test×dim, row-major.
//
// The similarities are one matrix product per block of test rows (the
// trainer's SIMD GEMM); the selection runs on GOMAXPROCS goroutines, one row
// at a time, so the result does not depend on the thread count. KNN panics
// when the slice lengths do not match dim and the label counts (a
// programmer error).
func KNN(train []float32, trainLabels []int32, test []float32, testLabels []int32, dim, k int, temp float64, classes int) float64 {
	pred, testN := knnPredict(train, trainLabels, test, testLabels, dim, k, temp, classes)
	if testN == 0 {
		return 0
	}
	correct := 0
	for i, p := range pred {
		if l := testLabels[i]; l >= 0 && int(l) < classes && p == l {
			correct++
		}
	}
	return float64(correct) / float64(testN)
}

// knnPredict returns the predicted class of every test row (-1 when no
// train row has a label) and the number of labelled test rows.
func knnPredict(train []float32, trainLabels []int32, test []float32, testLabels []int32, dim, k int, temp float64, classes int) ([]int32, int) {
	if dim < 1 || len(train) != len(trainLabels)*dim || len(test) != len(testLabels)*dim || classes < 1 || k < 1 || !(temp > 0) {
		panic(fmt.Sprintf("evalkit: KNN: bad arguments: dim %d, train %d values for %d labels, test %d values for %d labels, k %d, temp %v, classes %d",
			dim, len(train), len(trainLabels), len(test), len(testLabels), k, temp, classes))
	}
	// The labelled train rows, normalised.
	var tr []float32
	var trLab []int32
	for i, l := range trainLabels {
		if l >= 0 && int(l) < classes {
			tr = append(tr, train[i*dim:(i+1)*dim]...)
			trLab = append(trLab, l)
		}
	}
	normalize(tr, dim)
	nTest := len(testLabels)
	testN := 0
	for _, l := range testLabels {
		if l >= 0 && int(l) < classes {
			testN++
		}
	}
	pred := make([]int32, nTest)
	nTrain := len(trLab)
	if nTrain == 0 {
		for i := range pred {
			pred[i] = -1
		}
		return pred, testN
	}
	k = min(k, nTrain)
	te := append([]float32(nil), test...)
	normalize(te, dim)

	// sims = te_block · trᵀ through a bias-free Linear whose weight is the
	// train matrix: the trainer's float32 GEMM.
	lin := &trainer.Linear[float32]{In: dim, Out: nTrain,
		Weight: &trainer.Param[float32]{Name: "knn.train", Shape: []int{nTrain, dim}, W: tr}}
	workers := max(1, runtime.GOMAXPROCS(0))
	scratch := make([]knnScratch, workers)
	for w := range scratch {
		scratch[w] = knnScratch{cands: make([]knnCand, 0, min(4*k, nTrain)+1), votes: make([]float64, classes)}
	}
	for lo := 0; lo < nTest; lo += knnBlock {
		hi := min(lo+knnBlock, nTest)
		sims := lin.Forward(trainer.Tensor[float32]{Data: te[lo*dim : hi*dim], Shape: []int{hi - lo, dim}})
		rows := hi - lo
		per := (rows + workers - 1) / workers
		p := pool.New().WithMaxGoroutines(workers)
		for w := 0; w < workers && w*per < rows; w++ {
			s := &scratch[w]
			a, b := w*per, min((w+1)*per, rows)
			p.Go(func() {
				for r := a; r < b; r++ {
					pred[lo+r] = s.predict(sims.Data[r*nTrain:(r+1)*nTrain], trLab, k, temp)
				}
			})
		}
		p.Wait()
	}
	return pred, testN
}

// normalize scales every dim-long row of x to unit L2 norm (float64 sums);
// all-zero rows stay zero.
func normalize(x []float32, dim int) {
	for lo := 0; lo < len(x); lo += dim {
		row := x[lo : lo+dim]
		var s float64
		for _, v := range row {
			s += float64(v) * float64(v)
		}
		if s == 0 {
			continue
		}
		inv := 1 / math.Sqrt(s)
		for i, v := range row {
			row[i] = float32(float64(v) * inv)
		}
	}
}

type knnCand struct {
	sim float32
	idx int32
}

// worse orders candidates: lower similarity, then higher index, is worse.
func (a knnCand) worse(b knnCand) bool {
	return a.sim < b.sim || (a.sim == b.sim && a.idx > b.idx)
}

// knnScratch is one goroutine's selection state.
type knnScratch struct {
	cands []knnCand // candidates at or above the running threshold
	votes []float64
}

// predict selects the k best of sims and returns the weighted vote's class.
// Candidates at or above a threshold gather in a buffer of 4k; when it is
// full, a selection keeps the k best and raises the threshold to the k-th
// best, so the scan is mostly one float comparison per train row.
func (s *knnScratch) predict(sims []float32, labels []int32, k int, temp float64) int32 {
	c := s.cands[:0]
	limit := cap(s.cands)
	thr := float32(math.Inf(-1))
	for i, v := range sims {
		if v < thr {
			continue
		}
		c = append(c, knnCand{v, int32(i)})
		if len(c) == limit {
			selectBest(c, k)
			c = c[:k]
			thr = c[k-1].sim
			for _, x := range c[:k-1] {
				thr = min(thr, x.sim)
			}
		}
	}
	if len(c) > k {
		selectBest(c, k)
		c = c[:k]
	}
	s.cands = c
	// Sum the votes in a fixed order (best first) so the result depends on
	// the selected set only.
	slices.SortFunc(c, func(a, b knnCand) int {
		if b.worse(a) {
			return -1
		}
		if a.worse(b) {
			return 1
		}
		return 0
	})
	for i := range s.votes {
		s.votes[i] = 0
	}
	for _, x := range c {
		s.votes[labels[x.idx]] += math.Exp(float64(x.sim) / temp)
	}
	best := 0
	for cl, v := range s.votes {
		if v > s.votes[best] {
			best = cl
		}
	}
	return int32(best)
}

// selectBest reorders c so that its first k entries are the k best (in no
// particular order): quickselect with a median-of-three pivot. The order
// (similarity, then index) is total, so the chosen set is unique.
func selectBest(c []knnCand, k int) {
	lo, hi := 0, len(c)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three to c[mid].
		if c[lo].worse(c[mid]) {
			c[lo], c[mid] = c[mid], c[lo]
		}
		if c[mid].worse(c[hi]) {
			c[mid], c[hi] = c[hi], c[mid]
			if c[lo].worse(c[mid]) {
				c[lo], c[mid] = c[mid], c[lo]
			}
		}
		pivot := c[mid]
		i, j := lo, hi
		for i <= j {
			for pivot.worse(c[i]) {
				i++
			}
			for c[j].worse(pivot) {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		// c[lo..j] are at least as good as the pivot, c[i..hi] at most.
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
