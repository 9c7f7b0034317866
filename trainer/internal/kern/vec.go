package kern

import "github.com/pairflow/pairflow/internal/cpu"

// Vector helpers behind the layer kernels. Each has a plain-Go body, the
// reference, and on amd64 generated AVX2 and AVX-512 bodies (gen_amd64.s):
// the elementwise AVX2 bodies take the first multiple of 8 elements and the
// Go body finishes the tail, the AVX-512 bodies take every element (masked
// tail); the float64 reductions take the first multiple of 16 on either
// width. The float32 helpers are bit-identical on every tier (same
// operations in the same order, no fusing); the float64 sums differ between
// plain Go and SIMD only in rounding (the SIMD bodies keep sixteen partial
// sums, in the same order on both widths), each order fixed by the length.

// vecReLU sets y[i] = max(x[i], 0), NaN kept.
func vecReLU(t cpu.Tier, y, x []float32) {
	y = y[:len(x)]
	i := reluSIMD(t, y, x)
	for ; i < len(x); i++ {
		v := x[i]
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

// vecReLUGrad sets dx[i] = dy[i] where y[i] > 0, else 0.
func vecReLUGrad(t cpu.Tier, dx, dy, y []float32) {
	dx, dy = dx[:len(y)], dy[:len(y)]
	i := reluGradSIMD(t, dx, dy, y)
	for ; i < len(y); i++ {
		g := dy[i]
		if !(y[i] > 0) {
			g = 0
		}
		dx[i] = g
	}
}

// vecAffine sets y[i] = (x[i] − m)·s + b, each operation rounded.
func vecAffine(t cpu.Tier, y, x []float32, m, s, b float32) {
	y = y[:len(x)]
	i := affineSIMD(t, y, x, m, s, b)
	for ; i < len(x); i++ {
		y[i] = (x[i]-m)*s + b
	}
}

// vecAffineReLU sets y[i] = max((x[i] − m)·s + b, 0), each operation
// rounded, NaN and −0 kept: vecAffine then vecReLU, in one pass.
func vecAffineReLU(t cpu.Tier, y, x []float32, m, s, b float32) {
	y = y[:len(x)]
	i := affineReLUSIMD(t, y, x, m, s, b)
	for ; i < len(x); i++ {
		v := (x[i]-m)*s + b
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

// vecAddConst adds c to every y[i].
func vecAddConst(t cpu.Tier, y []float32, c float32) {
	i := addConstSIMD(t, y, c)
	for ; i < len(y); i++ {
		y[i] += c
	}
}

// vecAdd sets dst[i] += src[i].
func vecAdd(t cpu.Tier, dst, src []float32) {
	dst = dst[:len(src)]
	i := addSIMD(t, dst, src)
	for ; i < len(src); i++ {
		dst[i] += src[i]
	}
}

// vecBNBack sets dx[i] = c1·dy[i] + c2·(x[i] − m) + c0, each operation
// rounded, left to right.
func vecBNBack(t cpu.Tier, dx, dy, x []float32, m, c1, c2, c0 float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	i := bnBackSIMD(t, dx, dy, x, m, c1, c2, c0)
	for ; i < len(x); i++ {
		dx[i] = c1*dy[i] + c2*(x[i]-m) + c0
	}
}

// sum64 is Σ x[i] in float64.
func sum64(t cpu.Tier, x []float32) float64 {
	s, i := sumSIMD(t, x)
	for ; i < len(x); i++ {
		s += float64(x[i])
	}
	return s
}

// sqDev64 is Σ (x[i] − m)² in float64.
func sqDev64(t cpu.Tier, x []float32, m float64) float64 {
	s, i := sqDevSIMD(t, x, m)
	for ; i < len(x); i++ {
		d := float64(x[i]) - m
		s += d * d
	}
	return s
}

// dotDev64 returns Σ dy[i] and Σ dy[i]·(x[i] − m) in float64.
func dotDev64(t cpu.Tier, dy, x []float32, m float64) (sdy, sdx float64) {
	dy = dy[:len(x)]
	sdy, sdx, i := dotDevSIMD(t, dy, x, m)
	for ; i < len(x); i++ {
		g := float64(dy[i])
		sdy += g
		sdx += g * (float64(x[i]) - m)
	}
	return sdy, sdx
}

// momentumZMM says whether the AVX-512 tier runs the AVX-512 bodies of
// momentumStep (amd64). It does not: streaming three arrays, they ran at
// 0.94–0.97× the AVX2 bodies' speed on Zen 4 (docs/benchmarks-avx512.md).
// The bodies are bit-identical; the tests run both.
var momentumZMM = false

// momentumStep is the momentum update of SGD and LARS: for every i,
// g' = grad[i] + wd·w[i] (not done when wd is 0), v[i] = mu·v[i] + cg·g',
// w[i] = w[i] − cv·v[i], each operation rounded (the explicit conversions
// keep the compiler from fusing them), left to right. grad is not written.
func momentumStep(t cpu.Tier, w, grad, v []float32, wd, mu, cg, cv float32) {
	grad, v = grad[:len(w)], v[:len(w)]
	i := momentumSIMD(t, w, grad, v, wd, mu, cg, cv)
	for ; i < len(w); i++ {
		g := grad[i]
		if wd != 0 {
			g += float32(wd * w[i])
		}
		v[i] = float32(mu*v[i]) + float32(cg*g)
		w[i] -= float32(cv * v[i])
	}
}
