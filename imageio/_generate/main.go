// Command _generate writes imageio's one amd64 kernel, the YCbCr → RGB row
// conversion of 4:2:0 JPEG rows (imageio/ycc_amd64.s and its Go
// declaration), with avo. It was hand-written; this description emits it
// instruction for instruction, on the same registers, so it computes
// exactly what yccRow2Ref does (the same 32-bit integer arithmetic). The
// folder is its own module so that avo stays out of pairflow's go.mod, as
// in ops/_generate and trainer/internal/kern/_generate. Run it with
// `go generate ./imageio` from the repository root; CI regenerates and
// fails when the committed files differ.
package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("amd64,!purego,!noasm")
	genYCCRow2()
	Generate()
}

// genYCCRow2 emits yccRow2AVX2: eight pixels per step, each pair of them
// sharing one Cb and one Cr sample.
func genYCCRow2() {
	// VPSHUFB mask packing four 0x00BBGGRR dwords of a lane into 12 bytes.
	pack := GLOBL("yccPack", RODATA|NOPTR)
	for lane := 0; lane < 2; lane++ {
		DATA(16*lane, U64(0x0908060504020100))
		DATA(16*lane+8, U64(0x808080800e0d0c0a))
	}

	TEXT("yccRow2AVX2", NOSPLIT, "func(o, y, cb, cr *uint8, n int)")
	Pragma("noescape")
	Doc("yccRow2AVX2 is yccRow2Ref over the first n pixels (n a multiple of 8,",
		"chroma from cb[0:n/2], cr[0:n/2]), eight pixels per step with the same",
		"exact 32-bit integer arithmetic:",
		"",
		"\tyy = y*0x10101; b1 = cb-128; r1 = cr-128",
		"\tR = clamp(yy + 91881*r1), G = clamp(yy - 22554*b1 - 46802*r1),",
		"\tB = clamp(yy + 116130*b1), clamp(v) = min(max(v, 0), 0xffffff) >> 16",
		"",
		"It writes o[0 : 3n+4]: the last 4 bytes are scratch, to be overwritten.")
	Load(Param("o"), RDI)
	Load(Param("y"), RSI)
	Load(Param("cb"), RDX)
	Load(Param("cr"), R8)
	Load(Param("n"), RCX)

	// Y8..Y14: the constants, broadcast from EAX; Y15 = 0; Y7 the mask.
	for _, c := range []struct {
		v    int32
		x, y VecPhysical
	}{
		{0x10101, X8, Y8}, {128, X9, Y9}, {91881, X10, Y10}, {-22554, X11, Y11},
		{-46802, X12, Y12}, {116130, X13, Y13}, {0xffffff, X14, Y14},
	} {
		MOVL(U32(uint32(c.v)), EAX)
		VMOVD(EAX, c.x)
		VPBROADCASTD(c.x, c.y)
	}
	VPXOR(Y15, Y15, Y15)
	VMOVDQU(pack, Y7)

	Label("loop")
	CMPQ(RCX, U8(8))
	JL(LabelRef("done"))

	Comment("yy = y * 0x10101")
	VPMOVZXBD(Mem{Base: RSI}, Y0)
	VPMULLD(Y8, Y0, Y0)

	Comment("b1, r1: four chroma samples, each for two pixels, minus 128.")
	VMOVD(Mem{Base: RDX}, X1)
	VPUNPCKLBW(X1, X1, X1)
	VPMOVZXBD(X1, Y1)
	VPSUBD(Y9, Y1, Y1)
	VMOVD(Mem{Base: R8}, X2)
	VPUNPCKLBW(X2, X2, X2)
	VPMOVZXBD(X2, Y2)
	VPSUBD(Y9, Y2, Y2)

	VPMULLD(Y10, Y2, Y3) // 91881*r1
	VPMULLD(Y11, Y1, Y4) // -22554*b1
	VPMULLD(Y12, Y2, Y5) // -46802*r1
	VPADDD(Y5, Y4, Y4)
	VPMULLD(Y13, Y1, Y5) // 116130*b1
	VPADDD(Y0, Y3, Y3)
	VPADDD(Y0, Y4, Y4)
	VPADDD(Y0, Y5, Y5)

	for _, v := range []VecPhysical{Y3, Y4, Y5} {
		VPMAXSD(Y15, v, v)
		VPMINSD(Y14, v, v)
		VPSRLD(U8(16), v, v)
	}

	Comment("0x00BBGGRR per pixel, then 12 bytes per lane.")
	VPSLLD(U8(8), Y4, Y4)
	VPSLLD(U8(16), Y5, Y5)
	VPOR(Y4, Y3, Y3)
	VPOR(Y5, Y3, Y3)
	VPSHUFB(Y7, Y3, Y3)
	VMOVDQU(X3, Mem{Base: RDI})
	VEXTRACTI128(U8(1), Y3, X4)
	VMOVDQU(X4, Mem{Base: RDI, Disp: 12})

	ADDQ(U8(8), RSI)
	ADDQ(U8(4), RDX)
	ADDQ(U8(4), R8)
	ADDQ(U8(24), RDI)
	SUBQ(U8(8), RCX)
	JMP(LabelRef("loop"))

	Label("done")
	VZEROUPPER()
	RET()
}
