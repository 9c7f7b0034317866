package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// genLUT8 emits cfLUT8AVX512: dst[i] = lut[src[i]] for n bytes (any n),
// with AVX-512 VBMI: the 256-byte table sits in four ZMM registers, one
// VPERMI2B looks a block of 64 bytes up in its low half and one in its
// high half (each uses the low 7 bits of the index), and the top bit of
// each byte (VPMOVB2M) picks between them. Only for AVX-512: AVX2 has no
// byte permutation across more than 16 bytes.
func genLUT8() {
	TEXT("cfLUT8AVX512", NOSPLIT, "func(dst, src *uint8, n int, lut *[256]uint8)")
	Pragma("noescape")
	Doc("cfLUT8AVX512 sets dst[i] = lut[src[i]] for i < n (any n; AVX-512 VBMI); it",
		"reads the n bytes of src and writes the n bytes of dst only. dst may be src.")
	dst := Mem{Base: Load(Param("dst"), GP64())}
	src := Mem{Base: Load(Param("src"), GP64())}
	n := Load(Param("n"), GP64())
	lut := Load(Param("lut"), GP64())
	var t [4]VecVirtual
	for i := range t {
		t[i] = ZMM()
		VMOVDQU8(Mem{Base: lut, Disp: 64 * i}, t[i])
	}
	// look writes the table entries of the 64 bytes in x (clobbered) to
	// x itself.
	look := func(x VecVirtual) {
		hi := K()
		VPMOVB2M(x, hi)
		y := ZMM()
		VMOVDQA64(x, y)
		VPERMI2B(t[1], t[0], x)
		VPERMI2B(t[3], t[2], y)
		VPBLENDMB(y, x, hi, x)
	}
	Label("loop")
	CMPQ(n, U8(64))
	JB(LabelRef("tail"))
	x := ZMM()
	VMOVDQU8(src, x)
	look(x)
	VMOVDQU8(x, dst)
	ADDQ(U8(64), src.Base)
	ADDQ(U8(64), dst.Base)
	SUBQ(U8(64), n)
	JMP(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	k := byteMask(n)
	x = ZMM()
	VMOVDQU8_Z(src, k, x)
	look(x)
	VMOVDQU8(x, k, dst)
	Label("done")
	ret()
}
