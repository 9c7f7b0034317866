package trainer

import (
	"fmt"
	"math"
)

// NTXent is SimCLR's normalised-temperature cross-entropy (Algorithm 1 of
// Chen et al. 2020). For 2N projections z, where rows i and i+N are the two
// views of source image i, it L2-normalises each row (as F.normalize,
// eps 1e-12), forms s = ẑ·ẑᵀ/τ, and averages over all 2N rows the
// cross-entropy of row i over the 2N−1 other views with target i±N — the
// usual PyTorch implementation (masked_fill of the diagonal with −∞ and
// F.cross_entropy). Log-sum-exps are taken in float64.
type NTXent[T Float] struct {
	Tau float64

	n2, d    int
	zn       []T
	norm     []float64
	s, dzn   []T
	dz       []T
	rowLoss  []float64
	rowHit   []bool
	exps     []float64 // one row of exponentials per parallelFor chunk
	accuracy float64
}

// NewNTXent returns the loss with temperature tau.
func NewNTXent[T Float](tau float64) *NTXent[T] { return &NTXent[T]{Tau: tau} }

// Forward returns the mean loss over the 2N views of z [2N, D].
func (l *NTXent[T]) Forward(z Tensor[T]) float64 {
	if len(z.Shape) != 2 || z.Shape[0] < 2 || z.Shape[0]%2 != 0 {
		panic(fmt.Sprintf("trainer: NTXent: want [2N, D] projections, got %v", z.Shape))
	}
	n2, d := z.Shape[0], z.Shape[1]
	l.n2, l.d = n2, d
	zn := ensure(&l.zn, n2, d).Data
	if cap(l.norm) < n2 {
		l.norm = make([]float64, n2)
	}
	norm := l.norm[:n2]
	for i := 0; i < n2; i++ {
		var q float64
		for _, v := range z.Data[i*d : (i+1)*d] {
			q += float64(v) * float64(v)
		}
		nr := math.Max(math.Sqrt(q), 1e-12)
		norm[i] = nr
		inv := 1 / nr
		for j, v := range z.Data[i*d : (i+1)*d] {
			zn[i*d+j] = T(float64(v) * inv)
		}
	}
	s := ensure(&l.s, n2, n2).Data
	gemm(false, true, n2, n2, d, T(1/l.Tau), zn, d, zn, d, 0, s, n2)
	// Row-wise softmax over k ≠ i, kept in s for Backward.
	half := n2 / 2
	var total float64
	correct := 0
	if cap(l.rowLoss) < n2 {
		l.rowLoss, l.rowHit = make([]float64, n2), make([]bool, n2)
	}
	rowLoss, rowHit := l.rowLoss[:n2], l.rowHit[:n2]
	grain := grainFor(3 * n2)
	if need := (n2 + grain - 1) / grain * n2; cap(l.exps) < need {
		l.exps = make([]float64, need)
	}
	parallelFor(n2, grain, func(lo, hi int) {
		e := l.exps[lo/grain*n2 : (lo/grain+1)*n2] // exp(s_ik − max), one exp per element
		for i := lo; i < hi; i++ {
			row := s[i*n2 : (i+1)*n2]
			p := (i + half) % n2
			mx := math.Inf(-1)
			arg := -1
			for k, v := range row {
				if k != i && float64(v) > mx {
					mx, arg = float64(v), k
				}
			}
			var se float64
			for k, v := range row {
				if k != i {
					e[k] = math.Exp(float64(v) - mx)
					se += e[k]
				}
			}
			lse := mx + math.Log(se)
			rowLoss[i] = lse - float64(row[p])
			rowHit[i] = arg == p
			inv := 1 / se
			for k := range row {
				if k == i {
					row[k] = 0
				} else {
					row[k] = T(e[k] * inv) // softmax: exp(s_ik − lse)
				}
			}
		}
	})
	for i := range rowLoss {
		total += rowLoss[i]
		if rowHit[i] {
			correct++
		}
	}
	l.accuracy = float64(correct) / float64(n2)
	return total / float64(n2)
}

// Accuracy is the share of views whose most similar other view was their
// positive, from the last Forward.
func (l *NTXent[T]) Accuracy() float64 { return l.accuracy }

// Backward returns the gradient of the last Forward's loss with respect to z.
func (l *NTXent[T]) Backward() Tensor[T] {
	n2, d := l.n2, l.d
	half := n2 / 2
	s := l.s[:n2*n2]
	// dL/ds = (softmax − onehot)/(2N); s holds the softmax.
	inv := 1 / T(n2)
	for i := 0; i < n2; i++ {
		row := s[i*n2 : (i+1)*n2]
		for k := range row {
			row[k] *= inv
		}
		row[(i+half)%n2] -= inv
	}
	// G = dS + dSᵀ (symmetric, in place).
	for i := 0; i < n2; i++ {
		for k := i + 1; k < n2; k++ {
			v := s[i*n2+k] + s[k*n2+i]
			s[i*n2+k], s[k*n2+i] = v, v
		}
		s[i*n2+i] *= 2
	}
	dzn := ensure(&l.dzn, n2, d).Data
	gemm(false, false, n2, d, n2, T(1/l.Tau), s, n2, l.zn, d, 0, dzn, d)
	dz := ensure(&l.dz, n2, d)
	for i := 0; i < n2; i++ {
		zr, gr := l.zn[i*d:(i+1)*d], dzn[i*d:(i+1)*d]
		nr := l.norm[i]
		if nr <= 1e-12 {
			for j, g := range gr {
				dz.Data[i*d+j] = T(float64(g) / 1e-12)
			}
			continue
		}
		var p float64
		for j, g := range gr {
			p += float64(g) * float64(zr[j])
		}
		for j, g := range gr {
			dz.Data[i*d+j] = T((float64(g) - float64(zr[j])*p) / nr)
		}
	}
	return dz
}

// SoftmaxCrossEntropy is F.cross_entropy with mean reduction over a batch
// of logits [N, C] and integer labels.
type SoftmaxCrossEntropy[T Float] struct {
	p, dx  []T
	labels []int
	shape  []int
}

// NewSoftmaxCrossEntropy returns the loss.
func NewSoftmaxCrossEntropy[T Float]() *SoftmaxCrossEntropy[T] { return &SoftmaxCrossEntropy[T]{} }

// Forward returns the mean loss. Labels must be in [0, C).
func (l *SoftmaxCrossEntropy[T]) Forward(logits Tensor[T], labels []int) float64 {
	if len(logits.Shape) != 2 || len(labels) != logits.Shape[0] {
		panic(fmt.Sprintf("trainer: SoftmaxCrossEntropy: logits %v with %d labels", logits.Shape, len(labels)))
	}
	n, c := logits.Shape[0], logits.Shape[1]
	l.labels = append(l.labels[:0], labels...)
	l.shape = append(l.shape[:0], logits.Shape...)
	p := ensure(&l.p, n, c).Data
	var total float64
	for i := 0; i < n; i++ {
		if labels[i] < 0 || labels[i] >= c {
			panic(fmt.Sprintf("trainer: SoftmaxCrossEntropy: label %d out of [0, %d)", labels[i], c))
		}
		row := logits.Data[i*c : (i+1)*c]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var se float64
		for _, v := range row {
			se += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(se)
		total += lse - float64(row[labels[i]])
		for k, v := range row {
			p[i*c+k] = T(math.Exp(float64(v) - lse))
		}
	}
	return total / float64(n)
}

// Backward returns dLoss/dlogits = (softmax − onehot)/N.
func (l *SoftmaxCrossEntropy[T]) Backward() Tensor[T] {
	n, c := l.shape[0], l.shape[1]
	dx := ensure(&l.dx, n, c)
	inv := 1 / T(n)
	for i := 0; i < n*c; i++ {
		dx.Data[i] = l.p[i] * inv
	}
	for i, y := range l.labels {
		dx.Data[i*c+y] -= inv
	}
	return dx
}

// MaskedMSE is the mean of (pred − target)² over the elements where mask is
// true (F.mse_loss(pred[mask], target[mask])); 0 with a zero gradient when
// the mask is empty.
type MaskedMSE[T Float] struct {
	diff, dx []T
	mask     []bool
	count    int
	shape    []int
}

// NewMaskedMSE returns the loss.
func NewMaskedMSE[T Float]() *MaskedMSE[T] { return &MaskedMSE[T]{} }

// Forward returns the loss; pred, target and mask have the same length.
func (l *MaskedMSE[T]) Forward(pred, target Tensor[T], mask []bool) float64 {
	n := pred.Len()
	if target.Len() != n || len(mask) != n {
		panic(fmt.Sprintf("trainer: MaskedMSE: pred %v, target %v, mask %d", pred.Shape, target.Shape, len(mask)))
	}
	l.shape = append(l.shape[:0], pred.Shape...)
	d := ensure(&l.diff, n).Data
	l.mask = mask
	var s float64
	cnt := 0
	for i, m := range mask {
		if !m {
			d[i] = 0
			continue
		}
		v := pred.Data[i] - target.Data[i]
		d[i] = v
		s += float64(v) * float64(v)
		cnt++
	}
	l.count = cnt
	if cnt == 0 {
		return 0
	}
	return s / float64(cnt)
}

// Backward returns dLoss/dpred.
func (l *MaskedMSE[T]) Backward() Tensor[T] {
	dx := ensure(&l.dx, l.shape...)
	if l.count == 0 {
		clear(dx.Data)
		return dx
	}
	k := 2 / T(l.count)
	for i, v := range l.diff[:len(dx.Data)] {
		dx.Data[i] = k * v
	}
	return dx
}
