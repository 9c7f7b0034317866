//go:build amd64 && !purego && !noasm

package ops

import "github.com/pairflow/pairflow/internal/cpu"

const haveResizeAsm = true

// The kernels these wrappers call (resizeH3AVX2, resizeH3QAVX2,
// resizeH3Q2AVX2, resizeH3P2AVX2, resizeH1x2AVX2, resizeV<ISA> and the
// AVX-512 RGB pair kernels) are generated: ops/_generate/resizeh.go and
// resize.go, declared in generated_amd64.go.

// resizeWantQ4 reports whether plans should carry q4 (the tier's RGB
// kernels use it). A plan built without it still works on any tier: the
// AVX2 kernels take it.
func resizeWantQ4() bool { return tier >= cpu.AVX512 && haveVBMI && haveVNNI }

// resizeH3x2 runs the horizontal pass on two rows with the same (fast)
// plan, four taps per step when the plan has them, else two.
func resizeH3x2(dst0, dst1 []int16, src0, src1 []uint8, p *resizePlan) bool {
	if p.out == 0 || !p.fast {
		return false
	}
	_, _ = dst0[p.out*3], dst1[p.out*3]
	if p.q4 != nil && resizeWantQ4() {
		// Four outputs per step; the last out%4 go to the AVX2 kernels.
		groups := p.out / 4
		_ = p.q4[groups*16*p.k-1]
		// The kernels mask their loads to the first nb bytes; every
		// window (start+k <= in) lies in the rows' first 3*in.
		_, _ = src0[3*p.in-1], src1[3*p.in-1]
		nb := min(len(src0), len(src1))
		if p.k == 4 {
			resizeH3Q4x2AVX512(&dst0[0], &dst1[0], &src0[0], &src1[0], nb, &p.start[0], &p.q4[0], groups)
		} else {
			resizeH3P4x2AVX512(&dst0[0], &dst1[0], &src0[0], &src1[0], nb, &p.start[0], &p.q4[0], groups)
		}
		resizeH3x2AVX2(dst0, dst1, src0, src1, p, groups*4)
		return true
	}
	resizeH3x2AVX2(dst0, dst1, src0, src1, p, 0)
	return true
}

// resizeH3x2AVX2 runs the AVX2 pair kernels over outputs t.. of p (all of
// them, or the out%4 that the AVX-512 four-output kernels leave).
func resizeH3x2AVX2(dst0, dst1 []int16, src0, src1 []uint8, p *resizePlan, t int) {
	if t == p.out {
		return
	}
	if p.wq != nil {
		last := int(p.start[p.out-1])*3 + (p.k-4)*3 + 15
		_, _ = src0[last], src1[last]
		_ = p.wq[p.out*p.k*2-1]
		resizeH3Q2AVX2(&dst0[3*t], &dst1[3*t], &src0[0], &src1[0], &p.start[t], &p.wq[t*p.k*2], p.out-t, p.k)
		return
	}
	last := int(p.start[p.out-1])*3 + (p.k-2)*3 + 7
	_, _ = src0[last], src1[last]
	resizeH3P2AVX2(&dst0[3*t], &dst1[3*t], &src0[0], &src1[0], &p.start[t], &p.w[t*p.k], p.out-t, p.k)
}

func resizeH3(dst []int16, src []uint8, p *resizePlan) {
	if p.out == 0 {
		return
	}
	// Bounds the kernels rely on (checked, not assumed).
	_ = dst[p.out*3]
	if p.wq != nil {
		_ = src[int(p.start[p.out-1])*3+(p.k-4)*3+15]
		_ = p.wq[p.out*p.k*2-1]
		resizeH3QAVX2(&dst[0], &src[0], &p.start[0], &p.wq[0], p.out, p.k)
		return
	}
	_ = src[int(p.start[p.out-1])*3+(p.k-2)*3+7]
	resizeH3AVX2(&dst[0], &src[0], &p.start[0], &p.w[0], p.out, p.k)
}

// resizeV is resizeVRef (k even) on the first n samples of one output row
// with the tier's kernel (generated, see _generate/resize.go); it returns
// n, or 0 when the row is too short for the kernel.
func resizeV(out []uint8, mid []int16, stride, n int, w []int16) int {
	if tier < cpu.AVX2 {
		return 0
	}
	if tier >= cpu.AVX512 && n >= 32 {
		_ = out[n-1]
		_ = mid[(len(w)-1)*stride+n-1]
		m := n &^ 31
		f := resizeVAVX512
		if haveVNNI {
			f = resizeVVNNIAVX512
		}
		f(&out[0], &mid[0], stride, &w[0], len(w), m)
		if m < n {
			// The tail: redo the last 32 samples, overlapping.
			f(&out[n-32], &mid[n-32], stride, &w[0], len(w), 32)
		}
		return n
	}
	m := n &^ 15
	if m == 0 {
		return 0
	}
	_ = out[n-1]
	_ = mid[(len(w)-1)*stride+n-1]
	resizeVAVX2(&out[0], &mid[0], stride, &w[0], len(w), m)
	if m < n {
		// The tail: redo the last 16 samples, overlapping (each output
		// sample depends only on mid, so rewriting one is harmless).
		resizeVAVX2(&out[n-16], &mid[n-16], stride, &w[0], len(w), 16)
	}
	return n
}

func resizeH1x2(dst0, dst1 []int16, src0, src1 []uint8, p *resizePlan) {
	out := p.out
	_, _ = dst0[out-1], dst1[out-1]
	last := int(p.start[out-1]) + 7
	_, _ = src0[last], src1[last]
	_ = p.w8[out*8-1]
	m := out &^ 3
	resizeH1x2AVX2(&dst0[0], &dst1[0], &src0[0], &src1[0], &p.start[0], &p.w8[0], m)
	if m < out {
		// The tail: redo the last four outputs, overlapping (idempotent).
		t := out - 4
		resizeH1x2AVX2(&dst0[t], &dst1[t], &src0[0], &src1[0], &p.start[t], &p.w8[t*8], 4)
	}
}
