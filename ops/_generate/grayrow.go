package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 byte shuffles between gray and RGB rows (grayRowToRGBGo,
// rgbRowTakeRGo), ported instruction for instruction from the hand-written
// gray_amd64.s they replace: 16 pixels per step, three VPSHUFB each way.
// Byte moves only, so every tier writes the same bytes.

// genGrayExpand emits grayExpandAVX2.
func genGrayExpand() {
	TEXT("grayExpandAVX2", NOSPLIT, "func(out, in *uint8, n int)")
	Pragma("noescape")
	Doc("grayExpandAVX2 is grayRowToRGBGo over n pixels, n a multiple of 16:",
		"out[3x], out[3x+1], out[3x+2] = in[x], one 16-byte load, three shuffles",
		"and three 16-byte stores per 16 pixels.")
	out := Load(Param("out"), GP64())
	in := Load(Param("in"), GP64())
	n := Load(Param("n"), GP64())
	SHRQ(U8(4), n)
	JZ(LabelRef("gedone"))
	// Output bytes 0-15, 16-31 and 32-47 of 16 gray pixels, each byte j
	// taking input byte j/3.
	var exp [3]VecVirtual
	for i, t := range []Mem{
		bytes16("genGrayExp0", 0x0202010101000000, 0x0504040403030302),
		bytes16("genGrayExp1", 0x0707070606060505, 0x0a0a090909080808),
		bytes16("genGrayExp2", 0x0d0c0c0c0b0b0b0a, 0x0f0f0f0e0e0e0d0d),
	} {
		exp[i] = XMM()
		VMOVDQU(t, exp[i])
	}

	Label("geloop")
	x := XMM()
	VMOVDQU(Mem{Base: in}, x)
	var y [3]VecVirtual
	for i := range y {
		y[i] = XMM()
		VPSHUFB(exp[i], x, y[i])
	}
	for i := range y {
		VMOVDQU(y[i], Mem{Base: out, Disp: 16 * i})
	}
	ADDQ(U8(16), in)
	ADDQ(U8(48), out)
	DECQ(n)
	JNZ(LabelRef("geloop"))

	Label("gedone")
	ret()
}

// genRGBTakeR emits rgbTakeRAVX2.
func genRGBTakeR() {
	TEXT("rgbTakeRAVX2", NOSPLIT, "func(out, row *uint8, n int)")
	Pragma("noescape")
	Doc("rgbTakeRAVX2 is rgbRowTakeRGo over n pixels, n a multiple of 16:",
		"out[x] = row[3x]. Three 16-byte loads (exactly the 3n bytes of the",
		"pixels, no more), three shuffles, two ORs and one store per 16 pixels.")
	out := Load(Param("out"), GP64())
	row := Load(Param("row"), GP64())
	n := Load(Param("n"), GP64())
	SHRQ(U8(4), n)
	JZ(LabelRef("trdone"))
	// The red bytes of pixels 0-5 (in the first 16 bytes), 6-10 (in the
	// second) and 11-15 (in the third), each to its output position,
	// zeros elsewhere.
	var take [3]VecVirtual
	for i, t := range []Mem{
		bytes16("genGrayTakeA", 0x80800f0c09060300, 0x8080808080808080),
		bytes16("genGrayTakeB", 0x0502808080808080, 0x80808080800e0b08),
		bytes16("genGrayTakeC", 0x8080808080808080, 0x0d0a070401808080),
	} {
		take[i] = XMM()
		VMOVDQU(t, take[i])
	}

	Label("trloop")
	var x [3]VecVirtual
	for i := range x {
		x[i] = XMM()
		VMOVDQU(Mem{Base: row, Disp: 16 * i}, x[i])
	}
	for i := range x {
		VPSHUFB(take[i], x[i], x[i])
	}
	VPOR(x[1], x[0], x[0])
	VPOR(x[2], x[0], x[0])
	VMOVDQU(x[0], Mem{Base: out})
	ADDQ(U8(48), row)
	ADDQ(U8(16), out)
	DECQ(n)
	JNZ(LabelRef("trloop"))

	Label("trdone")
	ret()
}
