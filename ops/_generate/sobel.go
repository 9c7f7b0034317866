package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// genSobelRow emits cfSobelRowAVX2 (cfSobelRowRef), ported instruction for
// instruction from the hand-written sobel_amd64.s it replaces: 16 outputs
// per step, the derivatives in int16 (|g| <= 1020), gx²+gy² with VPMADDWD
// (exact int32), then float32: VSQRTPS (correctly rounded, as the
// reference), round half to even, min 255.
func genSobelRow() {
	TEXT("cfSobelRowAVX2", NOSPLIT, "func(dst, a, b, c *uint8, n int)")
	Pragma("noescape")
	Doc("cfSobelRowAVX2 is cfSobelRowRef over n outputs, n a multiple of 16; it",
		"reads n+2 samples of a, b and c.")
	dst := Load(Param("dst"), GP64())
	a := Load(Param("a"), GP64())
	b := Load(Param("b"), GP64())
	c := Load(Param("c"), GP64())
	n := Load(Param("n"), GP64())
	hi := YMM()
	VMOVUPS(splat("genF255", f255), hi)
	SHRQ(U8(4), n)
	JZ(LabelRef("sdone"))

	Label("sloop")
	load := func(row Register, disp int) VecVirtual {
		r := YMM()
		VPMOVZXBW(Mem{Base: row, Disp: disp}, r)
		return r
	}
	a0, a1, a2 := load(a, 0), load(a, 1), load(a, 2)
	b0, b2 := load(b, 0), load(b, 2)
	c0, c1, c2 := load(c, 0), load(c, 1), load(c, 2)
	// side returns x + 2*m + y (m doubled by adding it to itself).
	side := func(m, x, y VecVirtual) VecVirtual {
		s := YMM()
		VPADDW(m, m, s)
		VPADDW(x, s, s)
		VPADDW(y, s, s)
		return s
	}
	// gx = (a2 + 2*b2 + c2) - (a0 + 2*b0 + c0)
	gx := side(b2, a2, c2)
	VPSUBW(side(b0, a0, c0), gx, gx)
	// gy = (c0 + 2*c1 + c2) - (a0 + 2*a1 + a2)
	gy := side(c1, c0, c2)
	VPSUBW(side(a1, a0, a2), gy, gy)
	lo, up := YMM(), YMM()
	VPUNPCKLWD(gy, gx, lo) // [gx,gy] pairs of samples 0-3 | 8-11
	VPUNPCKHWD(gy, gx, up) // samples 4-7 | 12-15
	VPMADDWD(lo, lo, lo)
	VPMADDWD(up, up, up)
	VCVTDQ2PS(lo, lo)
	VCVTDQ2PS(up, up)
	VSQRTPS(lo, lo)
	VSQRTPS(up, up)
	VROUNDPS(U8(0), lo, lo)
	VROUNDPS(U8(0), up, up)
	VMINPS(hi, lo, lo)
	VMINPS(hi, up, up)
	VCVTTPS2DQ(lo, lo)
	VCVTTPS2DQ(up, up)
	VPACKUSDW(up, lo, lo) // samples 0-7 | 8-15 as words
	VPACKUSWB(lo, lo, lo)
	VPERMQ(U8(0x08), lo, lo)
	VMOVDQU(lo.AsX(), Mem{Base: dst})
	ADDQ(U8(16), dst)
	ADDQ(U8(16), a)
	ADDQ(U8(16), b)
	ADDQ(U8(16), c)
	DECQ(n)
	JNZ(LabelRef("sloop"))

	Label("sdone")
	ret()
}
