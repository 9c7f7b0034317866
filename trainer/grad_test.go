package trainer

import (
	"fmt"
	"math"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu/cputest"
	"github.com/pairflow/pairflow/trainer/internal/kern"
)

// Tolerances stated by the tests:
//   - finite differences (float64, central, h = 1e-6): |analytic − numeric| ≤
//     1e-6·max(1, |numeric|) for every checked element;
//   - float32 layer vs the float64 layer on the same (float32-representable)
//     inputs and weights: max|y32 − y64| ≤ tol32·max(1, max|y64|) for outputs and
//     for every gradient, with tol32 = 2e-5.
const (
	fdStep  = 1e-6
	fdTol   = 1e-6
	tol32   = 2e-5
	fdPicks = 24 // elements checked per tensor (spread over the tensor)
)

func randTensor[T Float](r *RNG, shape ...int) Tensor[T] {
	t := NewTensor[T](shape...)
	for i := range t.Data {
		t.Data[i] = T(float32(r.Uniform(-1, 1)))
	}
	return t
}

func convert[D, S Float](s []S) []D {
	d := make([]D, len(s))
	for i, v := range s {
		d[i] = D(v)
	}
	return d
}

func picks(n int) []int {
	if n <= fdPicks {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	out := make([]int, fdPicks)
	for i := range out {
		out[i] = i * (n - 1) / (fdPicks - 1)
	}
	return out
}

// weighted returns Σ r·y: the scalar whose gradient with respect to y is r.
func weighted(r, y []float64) float64 {
	var s float64
	for i := range r {
		s += r[i] * y[i]
	}
	return s
}

func closeFD(t *testing.T, what string, i int, analytic, numeric float64) {
	t.Helper()
	if math.Abs(analytic-numeric) > fdTol*math.Max(1, math.Abs(numeric)) {
		t.Errorf("%s[%d]: analytic %.9g, numeric %.9g", what, i, analytic, numeric)
	}
}

// gradCheckLayer checks a float64 layer's input and parameter gradients
// against central differences of L = Σ r·Forward(x).
func gradCheckLayer(t *testing.T, l Layer[float64], x Tensor[float64], r *RNG) {
	t.Helper()
	y := l.Forward(x)
	w := randTensor[float64](r, y.Shape...).Data
	loss := func() float64 { return weighted(w, l.Forward(x).Data) }
	dx := l.Backward(Tensor[float64]{Data: append([]float64(nil), w...), Shape: y.Shape})
	dxc := append([]float64(nil), dx.Data...)
	var gs [][]float64
	for _, p := range l.Params() {
		gs = append(gs, append([]float64(nil), p.G...))
	}
	check := func(what string, v []float64, grad []float64) {
		for _, i := range picks(len(v)) {
			old := v[i]
			v[i] = old + fdStep
			lp := loss()
			v[i] = old - fdStep
			lm := loss()
			v[i] = old
			closeFD(t, what, i, grad[i], (lp-lm)/(2*fdStep))
		}
	}
	if len(dxc) > 0 {
		check("dx", x.Data, dxc)
	}
	for k, p := range l.Params() {
		check(p.Name, p.W, gs[k])
	}
}

func maxRel[A, B Float](a []A, b []B) float64 {
	var d, m float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		m = math.Max(m, math.Abs(float64(b[i])))
	}
	return d / math.Max(1, m)
}

// matchLayer32 runs the float32 layer and the float64 layer (weights copied
// from the float32 one) on the same input and upstream gradient and checks
// outputs and gradients agree within tol32.
func matchLayer32(t *testing.T, l32 Layer[float32], l64 Layer[float64], x32 Tensor[float32], r *RNG) {
	t.Helper()
	for i, p := range l32.Params() {
		copy(l64.Params()[i].W, convert[float64](p.W))
	}
	x64 := Tensor[float64]{Data: convert[float64](x32.Data), Shape: x32.Shape}
	y32 := l32.Forward(x32)
	y64 := l64.Forward(x64)
	if !sameShape(y32.Shape, y64.Shape) {
		t.Fatalf("shapes %v vs %v", y32.Shape, y64.Shape)
	}
	if e := maxRel(y32.Data, y64.Data); e > tol32 {
		t.Errorf("forward: float32 vs float64 rel error %.3g > %g", e, tol32)
	}
	dy32 := randTensor[float32](r, y32.Shape...)
	dy64 := Tensor[float64]{Data: convert[float64](dy32.Data), Shape: dy32.Shape}
	dx32 := l32.Backward(dy32)
	dx64 := l64.Backward(dy64)
	if len(dx64.Data) > 0 {
		if e := maxRel(dx32.Data, dx64.Data); e > tol32 {
			t.Errorf("input grad: float32 vs float64 rel error %.3g > %g", e, tol32)
		}
	}
	for i, p := range l32.Params() {
		if e := maxRel(p.G, l64.Params()[i].G); e > tol32 {
			t.Errorf("%s grad: float32 vs float64 rel error %.3g > %g", p.Name, e, tol32)
		}
	}
}

type layerCase struct {
	name  string
	shape []int
	mk32  func(r *RNG) Layer[float32]
	mk64  func(r *RNG) Layer[float64]
	eval  bool
}

func layerCases() []layerCase {
	return []layerCase{
		{"conv3x3s1p1bias", []int{2, 3, 7, 6},
			func(r *RNG) Layer[float32] { return NewConv2d[float32]("c", 3, 4, 3, 1, 1, true, r) },
			func(r *RNG) Layer[float64] { return NewConv2d[float64]("c", 3, 4, 3, 1, 1, true, r) }, false},
		{"conv3x3s2p1", []int{2, 2, 9, 8},
			func(r *RNG) Layer[float32] { return NewConv2d[float32]("c", 2, 5, 3, 2, 1, false, r) },
			func(r *RNG) Layer[float64] { return NewConv2d[float64]("c", 2, 5, 3, 2, 1, false, r) }, false},
		{"conv1x1s2", []int{2, 3, 6, 6},
			func(r *RNG) Layer[float32] { return NewConv2d[float32]("c", 3, 4, 1, 2, 0, false, r) },
			func(r *RNG) Layer[float64] { return NewConv2d[float64]("c", 3, 4, 1, 2, 0, false, r) }, false},
		{"convT2x2s2", []int{2, 3, 4, 3},
			func(r *RNG) Layer[float32] { return NewConvTranspose2d[float32]("t", 3, 2, 2, 2, 0, 0, true, r) },
			func(r *RNG) Layer[float64] { return NewConvTranspose2d[float64]("t", 3, 2, 2, 2, 0, 0, true, r) }, false},
		{"convT3x3s2p1op1", []int{2, 2, 3, 4},
			func(r *RNG) Layer[float32] { return NewConvTranspose2d[float32]("t", 2, 3, 3, 2, 1, 1, false, r) },
			func(r *RNG) Layer[float64] { return NewConvTranspose2d[float64]("t", 2, 3, 3, 2, 1, 1, false, r) }, false},
		{"bn2d", []int{3, 4, 5, 3},
			func(r *RNG) Layer[float32] { return NewBatchNorm[float32]("b", 4) },
			func(r *RNG) Layer[float64] { return NewBatchNorm[float64]("b", 4) }, false},
		{"bn2dEval", []int{3, 4, 5, 3},
			func(r *RNG) Layer[float32] { return NewBatchNorm[float32]("b", 4) },
			func(r *RNG) Layer[float64] { return NewBatchNorm[float64]("b", 4) }, true},
		{"bn1d", []int{6, 5},
			func(r *RNG) Layer[float32] { return NewBatchNorm[float32]("b", 5) },
			func(r *RNG) Layer[float64] { return NewBatchNorm[float64]("b", 5) }, false},
		{"relu", []int{2, 3, 4, 5},
			func(r *RNG) Layer[float32] { return NewReLU[float32]() },
			func(r *RNG) Layer[float64] { return NewReLU[float64]() }, false},
		{"maxpool", []int{2, 3, 6, 7},
			func(r *RNG) Layer[float32] { return NewMaxPool2d[float32]() },
			func(r *RNG) Layer[float64] { return NewMaxPool2d[float64]() }, false},
		{"avgpool", []int{2, 3, 4, 5},
			func(r *RNG) Layer[float32] { return NewGlobalAvgPool[float32]() },
			func(r *RNG) Layer[float64] { return NewGlobalAvgPool[float64]() }, false},
		{"upsample", []int{2, 3, 3, 4},
			func(r *RNG) Layer[float32] { return NewUpsample2x[float32]() },
			func(r *RNG) Layer[float64] { return NewUpsample2x[float64]() }, false},
		{"conv3x3wide", []int{3, 16, 9, 10},
			func(r *RNG) Layer[float32] { return NewConv2d[float32]("c", 16, 24, 3, 1, 1, false, r) },
			func(r *RNG) Layer[float64] { return NewConv2d[float64]("c", 16, 24, 3, 1, 1, false, r) }, false},
		{"basicblockDown", []int{2, 3, 6, 6},
			func(r *RNG) Layer[float32] { return NewBasicBlock[float32]("b", 3, 4, 2, r) },
			func(r *RNG) Layer[float64] { return NewBasicBlock[float64]("b", 3, 4, 2, r) }, false},
		{"basicblockIdentity", []int{2, 4, 5, 5},
			func(r *RNG) Layer[float32] { return NewBasicBlock[float32]("b", 4, 4, 1, r) },
			func(r *RNG) Layer[float64] { return NewBasicBlock[float64]("b", 4, 4, 1, r) }, false},
		{"smallcnn", []int{3, 1, 8, 8},
			func(r *RNG) Layer[float32] { return SmallCNN[float32]("", 1, r) },
			func(r *RNG) Layer[float64] { return SmallCNN[float64]("", 1, r) }, false},
		{"decoder", []int{2, 4, 2, 3},
			func(r *RNG) Layer[float32] { return InpaintingDecoder[float32]("d", 4, 3, 1, r) },
			func(r *RNG) Layer[float64] { return InpaintingDecoder[float64]("d", 4, 3, 1, r) }, false},
		{"projectionhead", []int{4, 6},
			func(r *RNG) Layer[float32] { return ProjectionHead[float32]("h", 6, r) },
			func(r *RNG) Layer[float64] { return ProjectionHead[float64]("h", 6, r) }, false},
		{"linear", []int{5, 7},
			func(r *RNG) Layer[float32] { return NewLinear[float32]("l", 7, 4, true, r) },
			func(r *RNG) Layer[float64] { return NewLinear[float64]("l", 7, 4, true, r) }, false},
	}
}

// prepare puts a BatchNorm case in evaluation mode with non-trivial running
// statistics and affine parameters.
func prepare[T Float](l Layer[T], eval bool, r *RNG) {
	if b, ok := l.(*BatchNorm[T]); ok {
		for i := range b.Weight.W {
			b.Weight.W[i] = T(float32(r.Uniform(0.5, 1.5)))
			b.Bias.W[i] = T(float32(r.Uniform(-0.5, 0.5)))
			b.RunningMean.Data[i] = T(float32(r.Uniform(-0.5, 0.5)))
			b.RunningVar.Data[i] = T(float32(r.Uniform(0.5, 2)))
		}
		b.SetTraining(!eval)
	}
}

func TestLayerGrad(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			r := NewRNG(1)
			l := c.mk64(r)
			prepare(l, c.eval, NewRNG(2))
			gradCheckLayer(t, l, randTensor[float64](r, c.shape...), r)
		})
	}
}

// forEachTier runs f with the float32 kernels forced to every tier this
// process can run (cputest.ForEachTier on kern's tier), each tier twice:
// with the float32 layers on kern's convolution and elementwise kernels,
// and on the generic layer code (GEMMs on kern).
func forEachTier(t *testing.T, f func(t *testing.T)) {
	cputest.ForEachTier(t, kern.TierVar(), kern.TopTier(), func(t *testing.T) {
		for _, k := range []bool{true, false} {
			t.Run(map[bool]string{true: "kern-layers", false: "generic-layers"}[k], func(t *testing.T) {
				oldK := useKern
				useKern = k
				defer func() { useKern = oldK }()
				f(t)
			})
		}
	})
}

func TestLayerFloat32MatchesFloat64(t *testing.T) {
	forEachTier(t, testLayerFloat32)
}

func testLayerFloat32(t *testing.T) {
	for _, c := range layerCases() {
		t.Run(c.name, func(t *testing.T) {
			l32, l64 := c.mk32(NewRNG(3)), c.mk64(NewRNG(3))
			prepare(l32, c.eval, NewRNG(2))
			prepare(l64, c.eval, NewRNG(2))
			r := NewRNG(4)
			matchLayer32(t, l32, l64, randTensor[float32](r, c.shape...), r)
		})
	}
}

// Losses: a loss is checked through a function from a flat input to the
// scalar loss and its analytic gradient.
type lossCase[T Float] struct {
	name string
	x    Tensor[T]
	f    func(x Tensor[T]) (float64, []T)
}

func lossCases[T Float](seed uint64) []lossCase[T] {
	r := NewRNG(seed)
	labels := []int{2, 0, 1, 2, 1}
	mask := make([]bool, 2*3*4)
	for i := range mask {
		mask[i] = r.Intn(3) > 0
	}
	target := randTensor[T](r, 2, 3, 4)
	nt := NewNTXent[T](0.5)
	nt2 := NewNTXent[T](0.1)
	ce := NewSoftmaxCrossEntropy[T]()
	mse := NewMaskedMSE[T]()
	return []lossCase[T]{
		{"ntxent", randTensor[T](r, 8, 5), func(x Tensor[T]) (float64, []T) {
			v := nt.Forward(x)
			return v, nt.Backward().Data
		}},
		{"ntxentTau0.1", randTensor[T](r, 6, 3), func(x Tensor[T]) (float64, []T) {
			v := nt2.Forward(x)
			return v, nt2.Backward().Data
		}},
		{"crossentropy", randTensor[T](r, 5, 3), func(x Tensor[T]) (float64, []T) {
			v := ce.Forward(x, labels)
			return v, ce.Backward().Data
		}},
		{"maskedmse", randTensor[T](r, 2, 3, 4), func(x Tensor[T]) (float64, []T) {
			v := mse.Forward(x, target, mask)
			return v, mse.Backward().Data
		}},
	}
}

func TestLossGrad(t *testing.T) {
	for _, c := range lossCases[float64](5) {
		t.Run(c.name, func(t *testing.T) {
			_, g := c.f(c.x)
			g = append([]float64(nil), g...)
			for i := range c.x.Data {
				old := c.x.Data[i]
				c.x.Data[i] = old + fdStep
				lp, _ := c.f(c.x)
				c.x.Data[i] = old - fdStep
				lm, _ := c.f(c.x)
				c.x.Data[i] = old
				closeFD(t, "dx", i, g[i], (lp-lm)/(2*fdStep))
			}
		})
	}
}

func TestLossFloat32MatchesFloat64(t *testing.T) {
	forEachTier(t, testLossFloat32)
}

func testLossFloat32(t *testing.T) {
	c32, c64 := lossCases[float32](5), lossCases[float64](5)
	for k := range c32 {
		t.Run(c32[k].name, func(t *testing.T) {
			l32, g32 := c32[k].f(c32[k].x)
			l64, g64 := c64[k].f(c64[k].x)
			if math.Abs(l32-l64) > tol32*math.Max(1, math.Abs(l64)) {
				t.Errorf("loss %v vs %v", l32, l64)
			}
			if e := maxRel(g32, g64); e > tol32 {
				t.Errorf("grad rel error %.3g > %g", e, tol32)
			}
		})
	}
}

// TestNTXentValue checks the loss against a direct transcription of SimCLR's
// Algorithm 1 (ℓ(i, j) summed over both orders of every positive pair).
func TestNTXentValue(t *testing.T) {
	r := NewRNG(9)
	z := randTensor[float64](r, 6, 4)
	tau := 0.3
	n2 := 6
	zn := make([][]float64, n2)
	for i := range zn {
		row := z.Data[i*4 : (i+1)*4]
		var q float64
		for _, v := range row {
			q += v * v
		}
		q = math.Sqrt(q)
		for _, v := range row {
			zn[i] = append(zn[i], v/q)
		}
	}
	sim := func(i, j int) float64 {
		var s float64
		for k := range zn[i] {
			s += zn[i][k] * zn[j][k]
		}
		return s
	}
	ell := func(i, j int) float64 {
		var den float64
		for k := 0; k < n2; k++ {
			if k != i {
				den += math.Exp(sim(i, k) / tau)
			}
		}
		return -math.Log(math.Exp(sim(i, j)/tau) / den)
	}
	var want float64
	for k := 0; k < n2/2; k++ {
		want += ell(k, k+n2/2) + ell(k+n2/2, k)
	}
	want /= float64(n2)
	got := NewNTXent[float64](tau).Forward(z)
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("NT-Xent %v, Algorithm 1 gives %v", got, want)
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	b := NewBatchNorm[float64]("b", 1)
	x := Tensor[float64]{Data: []float64{1, 2, 3, 6}, Shape: []int{4, 1}}
	b.Forward(x)
	// mean 3, biased var 3.5, unbiased 14/3.
	if got, want := b.RunningMean.Data[0], 0.3; math.Abs(got-want) > 1e-15 {
		t.Errorf("running mean %v, want %v", got, want)
	}
	if got, want := b.RunningVar.Data[0], 0.9+0.1*14.0/3; math.Abs(got-want) > 1e-15 {
		t.Errorf("running var %v, want %v", got, want)
	}
	y := b.Forward(x)
	if want := (1 - 3) / math.Sqrt(3.5+1e-5); math.Abs(y.Data[0]-want) > 1e-12 {
		t.Errorf("normalised %v, want %v", y.Data[0], want)
	}
	b.SetTraining(false)
	y = b.Forward(x)
	rm, rv := b.RunningMean.Data[0], b.RunningVar.Data[0]
	if want := (1 - rm) / math.Sqrt(rv+1e-5); math.Abs(y.Data[0]-want) > 1e-12 {
		t.Errorf("eval output %v, want %v", y.Data[0], want)
	}
	if b.Tracked != 2 {
		t.Errorf("tracked %d, want 2", b.Tracked)
	}
}

func TestGemmRefTransposes(t *testing.T) {
	r := NewRNG(11)
	for _, sz := range [][3]int{{1, 1, 1}, {7, 5, 3}, {17, 33, 9}, {4, 1, 6}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d/%v%v", m, n, k, tA, tB), func(t *testing.T) {
					a := randTensor[float64](r, m*k).Data
					b := randTensor[float64](r, k*n).Data
					c := randTensor[float64](r, m*n).Data
					want := make([]float64, m*n)
					for i := 0; i < m; i++ {
						for j := 0; j < n; j++ {
							var s float64
							for p := 0; p < k; p++ {
								av, bv := a[i*k+p], b[p*n+j]
								if tA {
									av = a[p*m+i]
								}
								if tB {
									bv = b[j*k+p]
								}
								s += av * bv
							}
							want[i*n+j] = 0.5*s + 2*c[i*n+j]
						}
					}
					lda, ldb := k, n
					if tA {
						lda = m
					}
					if tB {
						ldb = k
					}
					gemm(tA, tB, m, n, k, 0.5, a, lda, b, ldb, 2, c, n)
					if e := maxRel(c, want); e > 1e-13 {
						t.Fatalf("rel error %g", e)
					}
				})
			}
		}
	}
}
