package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Gray and sums: the kernels that take the truncated luma of RGB pixels
// (cfGrayRef, cfLumaSumRef) and the byte sum (cfSumU8Ref).

// lumaInt returns the truncated luma (int32 lanes) of the block at src.
func lumaInt(a *isa, c *consts, src Mem, k Register) VecVirtual {
	r, g, b := loadRGB(a, c, src, k)
	l := luma(a, c, r, g, b)
	VCVTTPS2DQ(l, l)
	return l
}

func lumaTables() map[string]Mem {
	return loadTables(map[string]Mem{
		"lumaR": splat("genLumaR", lumaR),
		"lumaG": splat("genLumaG", lumaG),
		"lumaB": splat("genLumaB", lumaB),
	})
}

// genGray emits cfGray1<ISA> (outC 1) and cfGray3<ISA> (outC 3).
func genGray(a *isa, outC int) {
	name := "cfGray1" + a.name
	if outC == 3 {
		name = "cfGray3" + a.name
	}
	TEXT(name, NOSPLIT, "func(dst, src *uint8, n int)")
	Pragma("noescape")
	if a.z {
		Doc(name+" is cfGrayRef(dst, src, "+string(rune('0'+outC))+") over n pixels (any n); it reads",
			"the 3*n bytes of src and writes the first "+string(rune('0'+outC))+"*n bytes of dst only.")
	} else {
		Doc(name + " is cfGrayRef(dst, src, " + string(rune('0'+outC)) + ") over n pixels, n a multiple of 8.")
	}
	dst := Mem{Base: Load(Param("dst"), GP64())}
	src := Mem{Base: Load(Param("src"), GP64())}
	n := Load(Param("n"), GP64())
	tabs := lumaTables()
	// Gray3: the 8 (AVX2) or 16 (AVX-512, each 128-bit lane holding all
	// 16) luma bytes spread to 24 or 48, byte j of the output taking luma
	// j/3.
	var dw [16]uint32
	for j := 0; j < 64; j++ {
		v := uint32(j / 3)
		if j >= 48 {
			v = 0x80
		}
		dw[j/4] |= v << (8 * (j % 4))
	}
	if outC == 3 {
		tabs["g3"] = table("genGray3", dw)
		if !a.z {
			// AVX2: the 8 luma bytes in one XMM; the first 16 output
			// bytes, then the next 8.
			tabs["g3b"] = table("genGray3b", [16]uint32{0x06060505, 0x07070706, 0x80808080, 0x80808080})
		}
	}
	c := a.consts(tabs)
	a.pixelLoop(n, func(k Register, whole bool) {
		l := lumaInt(a, c, src, k)
		x := XMM()
		if a.z {
			VPMOVDB(l, x) // 16 lumas, 0..255
		} else {
			VEXTRACTI128(U8(1), l, x)
			VPACKUSDW(x, l.AsX(), x)
			VPACKUSWB(x, x, x)
		}
		switch {
		case outC == 1 && a.z && whole:
			VMOVDQU32(x, dst)
		case outC == 1 && a.z:
			VMOVDQU8(x, byteMask(n), dst)
		case outC == 1:
			VMOVQ(x, dst)
		case a.z:
			z := ZMM()
			VSHUFI32X4(U8(0), x.AsZ(), x.AsZ(), z) // all four lanes: the 16 lumas
			VPSHUFB(c.op("g3"), z, z)
			storeBlock48(z, dst, k, whole)
		default:
			y := XMM()
			VPSHUFB(c.op("g3b"), x, y)
			VPSHUFB(c.op("g3"), x, x)
			VMOVDQU(x, dst)
			VMOVQ(y, dst.Offset(16))
		}
	}, func() {
		ADDQ(U8(3*a.lanes), src.Base)
		ADDQ(U8(outC*a.lanes), dst.Base)
	})
	ret()
}

// storeBlock48 writes the first 48 bytes of z at dst: 32 + 16 bytes for a
// whole block, else the bytes of k. (A masked 64-byte store of a whole
// block makes the next block's load of the bytes behind it wait for the
// store on Zen 4 when dst is src: saturation ran at half the AVX2 speed.)
func storeBlock48(z VecVirtual, dst Mem, k Register, whole bool) {
	if whole {
		VMOVDQU32(z.AsY(), dst)
		x := XMM()
		VEXTRACTI32X4(U8(2), z, x)
		VMOVDQU32(x, dst.Offset(32))
		return
	}
	VMOVDQU8(z, k, dst)
}

func genLumaSum(a *isa) {
	TEXT("cfLumaSum"+a.name, NOSPLIT, "func(p *uint8, n int) uint64")
	Pragma("noescape")
	if a.z {
		Doc("cfLumaSumAVX512 is cfLumaSumRef over n pixels (any n up to 1<<24: the",
			"per-lane int32 sums cannot overflow); it reads the 3*n bytes only.")
	} else {
		Doc("cfLumaSumAVX2 is cfLumaSumRef over n pixels, n a multiple of 8 and at",
			"most 1<<24 (the per-lane int32 sums cannot overflow).")
	}
	src := Mem{Base: Load(Param("p"), GP64())}
	n := Load(Param("n"), GP64())
	c := a.consts(lumaTables())
	acc := a.vec()
	a.zero(acc)
	a.pixelLoop(n, func(k Register, whole bool) {
		VPADDD(lumaInt(a, c, src, k), acc, acc)
	}, func() {
		ADDQ(U8(3*a.lanes), src.Base)
	})
	y := acc
	if a.z {
		// 16 lane sums below 2^28 each: add the halves in int32.
		y = YMM()
		VEXTRACTI64X4(U8(1), acc, y)
		VPADDD(acc.AsY(), y, y)
	}
	// Widen the eight int32 sums to int64 and add them.
	zero, lo, hi := XMM(), YMM(), YMM()
	a.zero(zero)
	VPUNPCKLDQ(zero.AsY(), y, lo)
	VPUNPCKHDQ(zero.AsY(), y, hi)
	VPADDQ(hi, lo, lo)
	reduceQ(a, lo)
}

// reduceQ adds the four int64 lanes of y and returns the sum.
func reduceQ(a *isa, y VecVirtual) {
	x := XMM()
	if a.z {
		VEXTRACTI32X4(U8(1), y, x)
	} else {
		VEXTRACTI128(U8(1), y, x)
	}
	VPADDQ(x, y.AsX(), x)
	t := XMM()
	VPSHUFD(U8(0x4e), x, t)
	VPADDQ(t, x, x)
	r := GP64()
	VMOVQ(x, r)
	Store(r, ReturnIndex(0))
	ret()
}

func genSumU8(a *isa) {
	TEXT("cfSumU8"+a.name, NOSPLIT, "func(p *uint8, n int) uint64")
	Pragma("noescape")
	if a.z {
		Doc("cfSumU8AVX512 is cfSumU8Ref over n bytes (any n); it reads them only.")
	} else {
		Doc("cfSumU8AVX2 is cfSumU8Ref over n bytes, n a multiple of 32.")
	}
	src := Mem{Base: Load(Param("p"), GP64())}
	n := Load(Param("n"), GP64())
	acc, zero := a.vec(), a.vec()
	a.zero(acc)
	a.zero(zero)
	step := a.bytes()
	sad := func(v VecVirtual) {
		VPSADBW(zero, v, v) // 64-bit partial sums of 8 bytes each
		VPADDQ(v, acc, acc)
	}
	if !a.z {
		SHRQ(U8(5), n)
		JZ(LabelRef("done"))
		Label("loop")
		v := YMM()
		VMOVDQU(src, v)
		sad(v)
		ADDQ(U8(step), src.Base)
		DECQ(n)
		JNZ(LabelRef("loop"))
		Label("done")
		reduceQ(a, acc)
		return
	}
	Label("loop")
	CMPQ(n, U8(step))
	JB(LabelRef("tail"))
	v := ZMM()
	VMOVDQU8(src, v)
	sad(v)
	ADDQ(U8(step), src.Base)
	SUBQ(U8(step), n)
	JMP(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	t := ZMM()
	VMOVDQU8_Z(src, byteMask(n), t)
	sad(t)
	Label("done")
	y := YMM()
	VEXTRACTI64X4(U8(1), acc, y)
	VPADDQ(acc.AsY(), y, y)
	reduceQ(a, y)
}
