package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Conversion to float32 (ToFloat32CHW): convertRow3Ref and convertRow1Ref,
// dst = (float32(v)/255 - mean)/std per channel, or float32(v)/255 when
// mean is 0 and std 1 ("plain": (q-0)/1 is q, so the plain kernels stop
// after the first step).
//
// v/255 is divExact2 (a multiplication and an FMA), which equals the
// division for every byte v (TestConvertAllBytes checks all 256 on every
// tier); the subtraction of the mean and the division by std stay VSUBPS
// and VDIVPS, as the reference, so the normalised outputs are bit-identical
// whatever the constants.

func convertTables() map[string]Mem {
	return map[string]Mem{
		"inv255":   splat("genInv255", inv255),
		"inv255Lo": splat("genInv255Lo", inv255Lo),
	}
}

// convertNorm takes q = v/255 (v the float32 lanes of x, whole numbers
// 0..255) to the output of channel ch: q, or (q - mean)/std with the constants in
// ms (nil for plain kernels).
func convertNorm(a *isa, c *consts, x VecVirtual, ms []VecVirtual, ch int) VecVirtual {
	q := divExact2(a, x, c.op("inv255"), c.op("inv255Lo"))
	if ms != nil {
		VSUBPS(ms[ch], q, q)
		VDIVPS(ms[3+ch], q, q)
	}
	return q
}

// convertParams broadcasts mean[0..c) and std[0..c) from ms (a *[6]float32)
// into registers, or returns nil for a plain kernel.
func convertParams(a *isa, norm bool, c int) []VecVirtual {
	if !norm {
		return nil
	}
	p := Load(Param("ms"), GP64())
	ms := make([]VecVirtual, 6)
	for ch := 0; ch < c; ch++ {
		for _, i := range []int{ch, 3 + ch} {
			ms[i] = a.vec()
			VBROADCASTSS(Mem{Base: p, Disp: 4 * i}, ms[i])
		}
	}
	return ms
}

// storeF32 writes the float32 lanes of x at dst: all of them, or those of
// the lane mask k (AVX-512's last block).
func storeF32(a *isa, x VecVirtual, dst Mem, k Register, whole bool) {
	if !a.z || whole {
		VMOVUPS(x, dst)
	} else {
		VMOVUPS(x, k, dst)
	}
}

// convertHead opens kernel fn+"Plain"<ISA> (signature params) or
// fn+"Norm"<ISA> (params and ms) and returns the start of its doc
// sentence, "<name> is <ref>" (ref with mean 0 and std 1 when plain).
func convertHead(a *isa, norm bool, fn, params, ref string) string {
	name, sig, what := fn+"Plain"+a.name, "func("+params+")", ref+" with mean 0 and std 1"
	if norm {
		name, sig, what = fn+"Norm"+a.name, "func("+params+", ms *[6]float32)", ref
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	return name + " is " + what
}

// genConvert3 emits convertRow3Plain<ISA> or convertRow3Norm<ISA>.
func genConvert3(a *isa, norm bool) {
	head := convertHead(a, norm, "convertRow3", "d0, d1, d2 *float32, row *uint8, n int",
		"convertRow3Ref(d0, d1, d2, row, ms, 0)")
	if a.z {
		Doc(head+" over n pixels (any n);",
			"it reads the 3*n bytes of row and writes n floats of each plane only.")
	} else {
		Doc(head+" over n pixels,",
			"n a multiple of 8; it reads 8 bytes past the n pixels (see cfWideLoadPixels).")
	}
	d := [3]Mem{}
	for i, p := range []string{"d0", "d1", "d2"} {
		d[i] = Mem{Base: Load(Param(p), GP64())}
	}
	src := Mem{Base: Load(Param("row"), GP64())}
	n := Load(Param("n"), GP64())
	ms := convertParams(a, norm, 3)
	c := a.consts(loadTables(convertTables()))
	c.keep("inv255", "inv255Lo")
	a.pixelLoop(n, func(k Register, whole bool) {
		var lanes Register
		if !whole {
			lanes = byteMask(n) // the n pixels left, one bit per float
		}
		r, g, b := loadRGB(a, c, src, k)
		for ch, x := range []VecVirtual{r, g, b} {
			storeF32(a, convertNorm(a, c, x, ms, ch), d[ch], lanes, whole)
		}
	}, func() {
		ADDQ(U8(3*a.lanes), src.Base)
		for _, m := range d {
			ADDQ(U8(4*a.lanes), m.Base)
		}
	})
	ret()
}

// genConvert1 emits convertRow1Plain<ISA> or convertRow1Norm<ISA>: two
// vectors of bytes per step, then (AVX-512) one masked block of the rest.
func genConvert1(a *isa, norm bool) {
	head := convertHead(a, norm, "convertRow1", "d *float32, row *uint8, n int", "convertRow1Ref(d, row, ms, 0)")
	if a.z {
		Doc(head+" over n bytes (any n);",
			"it reads the n bytes of row and writes n floats of d only.")
	} else {
		Doc(head + " over n bytes, n a multiple of 8.")
	}
	dst := Mem{Base: Load(Param("d"), GP64())}
	src := Mem{Base: Load(Param("row"), GP64())}
	n := Load(Param("n"), GP64())
	ms := convertParams(a, norm, 1)
	c := a.consts(convertTables())
	c.keep("inv255", "inv255Lo")
	L := a.lanes
	one := func(off int, k Register, whole bool) {
		x := a.vec()
		if whole {
			VPMOVZXBD(src.Offset(off), x)
		} else {
			t := XMM()
			VMOVDQU8_Z(src.Offset(off), k, t)
			VPMOVZXBD(t, x)
		}
		VCVTDQ2PS(x, x)
		storeF32(a, convertNorm(a, c, x, ms, 0), dst.Offset(4*off), k, whole)
	}
	Label("loop2")
	CMPQ(n, U8(2*L))
	JB(LabelRef("one"))
	one(0, nil, true)
	one(L, nil, true)
	ADDQ(U8(2*L), src.Base)
	ADDQ(U8(8*L), dst.Base)
	SUBQ(U8(2*L), n)
	JMP(LabelRef("loop2"))
	Label("one")
	CMPQ(n, U8(L))
	JB(LabelRef("tail"))
	one(0, nil, true)
	ADDQ(U8(L), src.Base)
	ADDQ(U8(4*L), dst.Base)
	SUBQ(U8(L), n)
	Label("tail")
	if a.z {
		TESTQ(n, n)
		JZ(LabelRef("done"))
		one(0, byteMask(n), false)
	}
	Label("done")
	ret()
}
