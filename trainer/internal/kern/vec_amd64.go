//go:build amd64 && !purego && !noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

// The SIMD bodies of the vec helpers in vec.go (their references). The
// elementwise ones are generated for both tiers (gen_amd64.s): the AVX2
// body takes n, a positive multiple of 8, the AVX-512 body any n ≥ 1 (a
// masked tail). The float64 reductions are generated for both tiers too,
// with the same sixteen partial sums and combining order (bit-identical to
// each other); they take a positive multiple of 16 elements and the Go
// loop adds the rest. Each touches only elements 0..n-1.

// simdLen is how many leading elements of an n-element operation the AVX2
// bodies take: 0 below the AVX2 tier or when there are fewer than 8.
func simdLen(t cpu.Tier, n int) int {
	if t < cpu.AVX2 {
		return 0
	}
	return n &^ 7
}

// ewLen is how many leading elements of an n-element elementwise operation
// tier t's generated body takes: all of them on AVX-512 (masked tail),
// simdLen's multiple of 8 on AVX2.
func ewLen(t cpu.Tier, n int) int {
	if t >= cpu.AVX512 {
		return n
	}
	return simdLen(t, n)
}

func reluSIMD(t cpu.Tier, y, x []float32) int {
	n := ewLen(t, len(x))
	if n > 0 {
		_ = y[n-1]
		if t >= cpu.AVX512 {
			reluAVX512(&y[0], &x[0], n)
		} else {
			reluAVX2(&y[0], &x[0], n)
		}
	}
	return n
}

func reluGradSIMD(t cpu.Tier, dx, dy, y []float32) int {
	n := ewLen(t, len(y))
	if n > 0 {
		_, _ = dx[n-1], dy[n-1]
		if t >= cpu.AVX512 {
			reluGradAVX512(&dx[0], &dy[0], &y[0], n)
		} else {
			reluGradAVX2(&dx[0], &dy[0], &y[0], n)
		}
	}
	return n
}

func affineSIMD(t cpu.Tier, y, x []float32, m, s, b float32) int {
	n := ewLen(t, len(x))
	if n > 0 {
		_ = y[n-1]
		if t >= cpu.AVX512 {
			affineAVX512(&y[0], &x[0], n, m, s, b)
		} else {
			affineAVX2(&y[0], &x[0], n, m, s, b)
		}
	}
	return n
}

func affineReLUSIMD(t cpu.Tier, y, x []float32, m, s, b float32) int {
	n := ewLen(t, len(x))
	if n > 0 {
		_ = y[n-1]
		if t >= cpu.AVX512 {
			affineReLUAVX512(&y[0], &x[0], n, m, s, b)
		} else {
			affineReLUAVX2(&y[0], &x[0], n, m, s, b)
		}
	}
	return n
}

func addConstSIMD(t cpu.Tier, y []float32, c float32) int {
	n := ewLen(t, len(y))
	if n > 0 {
		if t >= cpu.AVX512 {
			addConstAVX512(&y[0], n, c)
		} else {
			addConstAVX2(&y[0], n, c)
		}
	}
	return n
}

func addSIMD(t cpu.Tier, dst, src []float32) int {
	n := ewLen(t, len(src))
	if n > 0 {
		_ = dst[n-1]
		if t >= cpu.AVX512 {
			addAVX512(&dst[0], &src[0], n)
		} else {
			addAVX2(&dst[0], &src[0], n)
		}
	}
	return n
}

func bnBackSIMD(t cpu.Tier, dx, dy, x []float32, m, c1, c2, c0 float32) int {
	n := ewLen(t, len(x))
	if n > 0 {
		_, _ = dx[n-1], dy[n-1]
		if t >= cpu.AVX512 {
			bnBackAVX512(&dx[0], &dy[0], &x[0], n, m, c1, c2, c0)
		} else {
			bnBackAVX2(&dx[0], &dy[0], &x[0], n, m, c1, c2, c0)
		}
	}
	return n
}

// reduceLen is how many leading elements of an n-element float64 reduction
// the generated bodies take: a multiple of 16 (0 below the AVX2 tier).
func reduceLen(t cpu.Tier, n int) int {
	if t < cpu.AVX2 {
		return 0
	}
	return n &^ 15
}

// reduceZMM says whether the AVX-512 tier runs the AVX-512 bodies of the
// reductions. It does not: they are bound by the float32 → float64
// conversions (VCVTPS2PD), which Zen 4 (the machine this was measured on)
// runs as two 256-bit halves on zmm, and the zmm bodies ran at 0.90× the
// ymm ones (BenchmarkBodies, docs/benchmarks-avx512.md). Both bodies give
// bit-identical results, so the choice is speed only; the tests run both.
var reduceZMM = false

func sumSIMD(t cpu.Tier, x []float32) (float64, int) {
	n := reduceLen(t, len(x))
	if n == 0 {
		return 0, 0
	}
	if t >= cpu.AVX512 && reduceZMM {
		return sum16AVX512(&x[0], n), n
	}
	return sum16AVX2(&x[0], n), n
}

func sqDevSIMD(t cpu.Tier, x []float32, m float64) (float64, int) {
	n := reduceLen(t, len(x))
	if n == 0 {
		return 0, 0
	}
	if t >= cpu.AVX512 && reduceZMM {
		return sqDev16AVX512(&x[0], n, m), n
	}
	return sqDev16AVX2(&x[0], n, m), n
}

func dotDevSIMD(t cpu.Tier, dy, x []float32, m float64) (float64, float64, int) {
	n := reduceLen(t, len(x))
	if n == 0 {
		return 0, 0, 0
	}
	_ = dy[n-1]
	if &dy[0] == &x[0] {
		// Batch-norm statistics: one conversion per element instead of
		// two, 1.29–1.31× dotDev(x, x) on AVX2 (BenchmarkBodies).
		if t >= cpu.AVX512 && reduceZMM {
			sdy, sdx := sumDev16AVX512(&x[0], n, m)
			return sdy, sdx, n
		}
		sdy, sdx := sumDev16AVX2(&x[0], n, m)
		return sdy, sdx, n
	}
	if t >= cpu.AVX512 && reduceZMM {
		sdy, sdx := dotDev16AVX512(&dy[0], &x[0], n, m)
		return sdy, sdx, n
	}
	sdy, sdx := dotDev16AVX2(&dy[0], &x[0], n, m)
	return sdy, sdx, n
}

// poolZMM reports whether tier t pools a row of n outputs with the AVX-512
// bodies: rows of 16 outputs or more (all of them, the tail masked; on Zen 4
// 1.00–1.04× the AVX2 bodies' speed on 32×32 inputs, 0.85–1.28× on 64×64).
// On narrower rows most of a zmm register's lanes would be masked off, and
// on Zen 4 a zmm operation costs two ymm ones.
func poolZMM(t cpu.Tier, n int) bool { return t >= cpu.AVX512 && n >= 16 }

// maxPool2RowSIMD pools the outputs of one output row (see MaxPool2) that
// the tier's body takes, all of them or the first multiple of 8, and
// returns how many it did; arg may be nil.
func maxPool2RowSIMD(t cpu.Tier, y []float32, arg []uint8, r0, r1 []float32) int {
	zmm := poolZMM(t, len(y))
	n := simdLen(t, len(y))
	if zmm {
		n = len(y)
	}
	if n == 0 {
		return 0
	}
	_, _ = r0[2*n-1], r1[2*n-1]
	var scratch [16]uint8
	ap, step := &scratch[0], 0
	if arg != nil {
		_ = arg[n-1]
		ap, step = &arg[0], 8
		if zmm {
			step = 16
		}
	}
	if zmm {
		maxPool2RowAVX512(&y[0], ap, step, &r0[0], &r1[0], n)
	} else {
		maxPool2RowAVX2(&y[0], ap, step, &r0[0], &r1[0], n)
	}
	return n
}

// maxPool2AffineReLURowSIMD is maxPool2RowSIMD with every input element
// first mapped to max((v − m)·s + b, 0) (see BatchNormReLUMaxPool2).
func maxPool2AffineReLURowSIMD(t cpu.Tier, y []float32, arg []uint8, r0, r1 []float32, m, s, b float32) int {
	zmm := poolZMM(t, len(y))
	n := simdLen(t, len(y))
	if zmm {
		n = len(y)
	}
	if n == 0 {
		return 0
	}
	_, _ = r0[2*n-1], r1[2*n-1]
	var scratch [16]uint8
	ap, step := &scratch[0], 0
	if arg != nil {
		_ = arg[n-1]
		ap, step = &arg[0], 8
		if zmm {
			step = 16
		}
	}
	if zmm {
		maxPool2AffineReLURowAVX512(&y[0], ap, step, &r0[0], &r1[0], n, m, s, b)
	} else {
		maxPool2AffineReLURowAVX2(&y[0], ap, step, &r0[0], &r1[0], n, m, s, b)
	}
	return n
}

// maxPool2BackRowSIMD does the windows of one output row of
// maxPool2BackwardPlane (y may be nil) that the tier's body takes, all of
// them or the first multiple of 8, and returns how many it did.
func maxPool2BackRowSIMD(t cpu.Tier, d0, d1, dy, y []float32, arg []uint8) int {
	zmm := poolZMM(t, len(dy))
	n := simdLen(t, len(dy))
	if zmm {
		n = len(dy)
	}
	if n == 0 {
		return 0
	}
	_, _, _ = d0[2*n-1], d1[2*n-1], arg[n-1]
	yp, useY := &dy[0], 0
	if y != nil {
		_ = y[n-1]
		yp, useY = &y[0], 1
	}
	if zmm {
		maxPool2BackRowAVX512(&d0[0], &d1[0], &dy[0], yp, useY, &arg[0], n)
	} else {
		maxPool2BackRowAVX2(&d0[0], &d1[0], &dy[0], yp, useY, &arg[0], n)
	}
	return n
}

func momentumSIMD(t cpu.Tier, w, grad, v []float32, wd, mu, cg, cv float32) int {
	zmm := t >= cpu.AVX512 && momentumZMM
	n := simdLen(t, len(w))
	if zmm {
		n = len(w)
	}
	if n == 0 {
		return 0
	}
	_, _ = grad[n-1], v[n-1]
	switch {
	case wd != 0 && zmm:
		momentumWDAVX512(&w[0], &grad[0], &v[0], n, wd, mu, cg, cv)
	case wd != 0:
		momentumWDAVX2(&w[0], &grad[0], &v[0], n, wd, mu, cg, cv)
	case zmm:
		momentumAVX512(&w[0], &grad[0], &v[0], n, mu, cg, cv)
	default:
		momentumAVX2(&w[0], &grad[0], &v[0], n, mu, cg, cv)
	}
	return n
}
