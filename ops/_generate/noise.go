package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// genNoiseAdd emits cfNoiseAddAVX2 (cfNoiseAddRef), ported instruction for
// instruction from the hand-written noise_amd64.s it replaces: 32 samples
// per step widened to float32, the noise added (one rounding, as the
// reference), rounded half to even, clamped to 0..255 and packed to bytes
// (pack4).
func genNoiseAdd() {
	TEXT("cfNoiseAddAVX2", NOSPLIT, "func(dst, src *uint8, noise *float32, n int)")
	Pragma("noescape")
	Doc("cfNoiseAddAVX2 is cfNoiseAddRef over n samples, n a multiple of 32:",
		"dst[i] = clamp(roundeven(float32(src[i]) + noise[i]), 0, 255).")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	noise := Load(Param("noise"), GP64())
	n := Load(Param("n"), GP64())
	c := avx2.consts(packConsts(avx2))
	zero := YMM()
	VXORPS(zero, zero, zero)
	hi := YMM()
	VMOVUPS(c.mem["f255"], hi)
	c.keep("perm")
	SHRQ(U8(5), n)
	JZ(LabelRef("nadone"))

	Label("naloop")
	var x [4]VecVirtual
	for i := range x {
		x[i] = YMM()
		VPMOVZXBD(Mem{Base: src, Disp: 8 * i}, x[i])
	}
	for _, v := range x {
		VCVTDQ2PS(v, v)
	}
	for i, v := range x {
		VADDPS(Mem{Base: noise, Disp: 32 * i}, v, v)
	}
	for _, v := range x {
		VROUNDPS(U8(0), v, v)
	}
	for _, v := range x {
		VMAXPS(zero, v, v)
	}
	for _, v := range x {
		VMINPS(hi, v, v)
	}
	for _, v := range x {
		VCVTTPS2DQ(v, v)
	}
	VMOVDQU(pack4(c, x), Mem{Base: dst})
	ADDQ(U8(32), src)
	ADDQ(U8(32), dst)
	ADDQ(U32(128), noise)
	DECQ(n)
	JNZ(LabelRef("naloop"))

	Label("nadone")
	ret()
}
