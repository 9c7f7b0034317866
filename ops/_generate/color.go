package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// float32 bit patterns of the constants the colour kernels use.
const (
	f1       = 0x3f800000
	f2       = 0x40000000
	f4       = 0x40800000
	f6       = 0x40c00000
	f255     = 0x437f0000
	inv255   = 0x3b808081 // float32(1/255)
	inv255Lo = 0xaf7efeff // float32(1/255 - float64(float32(1/255)))
	inv6     = 0x3e2aaaab
	inv6Lo   = 0xb1aaaaab
	lumaR    = 0x3e99096c // 0.2989
	lumaG    = 0x3f1645a2 // 0.587
	lumaB    = 0x3de978d5 // 0.114
	fm1      = 0xbf800000
)

// loadTables adds the tables of loadRGB to t, storeTables those of
// storeRGB.
func loadTables(t map[string]Mem) map[string]Mem {
	// loadRGB: VPERMD puts pixels 4l..4l+3 (bytes 12l..12l+11) in 128-bit
	// lane l; one in-lane VPSHUFB per channel picks the channel's bytes as
	// zero-extended int32s.
	t["ldPerm"] = table("genLdPerm", [16]uint32{0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9, 10, 11, 11})
	t["ldR"] = bytes16("genLdR", 0x8080800380808000, 0x8080800980808006)
	t["ldG"] = bytes16("genLdG", 0x8080800480808001, 0x8080800a80808007)
	t["ldB"] = bytes16("genLdB", 0x8080800580808002, 0x8080800b80808008)
	return t
}

func storeTables(t map[string]Mem) map[string]Mem {
	// storeRGB: per lane the packs give R G B B of four pixels, VPSHUFB
	// interleaves them into 12 bytes, VPERMD joins the lanes' 12 bytes.
	t["stI"] = bytes16("genStI", 0x0602090501080400, 0x808080800b07030a)
	t["stPerm"] = table("genStPerm", [16]uint32{0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 15, 15, 15, 15})
	return t
}

// loadRGB reads a block of a.lanes RGB pixels at src into three vectors of
// float32 (R, G, B). AVX2 loads 32 bytes for 24 (the callers guarantee 8
// readable bytes after each block, see cfWideLoadPixels); AVX-512 loads
// the bytes of k only.
func loadRGB(a *isa, c *consts, src Mem, k Register) (r, g, b VecVirtual) {
	t := a.vec()
	if a.z {
		VMOVDQU8_Z(src, k, t)
		VPERMD(t, c.reg("ldPerm"), t)
	} else {
		VMOVDQU(c.op("ldPerm"), t)
		VPERMD(src, t, t)
	}
	r, g, b = a.vec(), a.vec(), a.vec()
	VPSHUFB(c.op("ldR"), t, r)
	VPSHUFB(c.op("ldG"), t, g)
	VPSHUFB(c.op("ldB"), t, b)
	VCVTDQ2PS(r, r)
	VCVTDQ2PS(g, g)
	VCVTDQ2PS(b, b)
	return r, g, b
}

// storeRGB packs the int32 samples (0..255, negatives saturate to 0) of r,
// g, b and writes the block of interleaved RGB pixels at dst: 24 bytes for
// AVX2, 48 for a whole AVX-512 block, the bytes of k for the last
// one. Clobbers r, g, b.
func storeRGB(a *isa, c *consts, r, g, b VecVirtual, dst Mem, k Register, whole bool) {
	VPACKUSDW(g, r, r)
	VPACKUSDW(b, b, b)
	VPACKUSWB(b, r, r)
	VPSHUFB(c.op("stI"), r, r)
	VPERMD(r, c.reg("stPerm"), r)
	if a.z {
		storeBlock48(r, dst, k, whole)
		return
	}
	VMOVDQU(r.AsX(), dst)
	x := XMM()
	VEXTRACTI128(U8(1), r, x)
	VMOVQ(x, dst.Offset(16))
}

// luma returns (lumaR*r + lumaG*g) + lumaB*b, each product rounded, as
// float32 (cfLuma before its truncation).
func luma(a *isa, c *consts, r, g, b VecVirtual) VecVirtual {
	l, t := a.vec(), a.vec()
	VMULPS(c.op("lumaR"), r, l)
	VMULPS(c.op("lumaG"), g, t)
	VADDPS(t, l, l)
	VMULPS(c.op("lumaB"), b, t)
	VADDPS(t, l, l)
	return l
}

func genSaturate(a *isa) {
	TEXT("cfSaturate"+a.name, NOSPLIT, "func(dst, src *uint8, n int, a, c float32)")
	Pragma("noescape")
	if a.z {
		Doc("cfSaturateAVX512 is cfSaturateRef over n pixels (any n); it reads",
			"and writes the 3*n bytes only.")
	} else {
		Doc("cfSaturateAVX2 is cfSaturateRef over n pixels, n a multiple of 8; like",
			"every AVX2 kernel that loads pixels with loadRGB (the gray, hue and",
			"luma-sum ones too), it reads 8 bytes past the n pixels (see",
			"cfWideLoadPixels).")
	}
	dst := Mem{Base: Load(Param("dst"), GP64())}
	src := Mem{Base: Load(Param("src"), GP64())}
	n := Load(Param("n"), GP64())
	fa, fc := a.broadcast("a"), a.broadcast("c")
	c := a.consts(storeTables(loadTables(map[string]Mem{
		"f255":  splat("genF255", f255),
		"lumaR": splat("genLumaR", lumaR),
		"lumaG": splat("genLumaG", lumaG),
		"lumaB": splat("genLumaB", lumaB),
	})))
	c.keep("stPerm", "f255")
	a.pixelLoop(n, func(k Register, whole bool) {
		r, g, b := loadRGB(a, c, src, k)
		l := luma(a, c, r, g, b)
		a.round(3, l, l) // the truncated luma, in float32
		VMULPS(fc, l, l) // c*gray
		VMULPS(fa, r, r)
		VMULPS(fa, g, g)
		VMULPS(fa, b, b)
		VADDPS(l, r, r)
		VADDPS(l, g, g)
		VADDPS(l, b, b)
		// Only the upper clamp in float32: a negative sum truncates to
		// a negative int32 (or 0), which VPACKUSDW saturates to 0.
		max255 := c.reg("f255")
		VMINPS(max255, r, r)
		VMINPS(max255, g, g)
		VMINPS(max255, b, b)
		VCVTTPS2DQ(r, r)
		VCVTTPS2DQ(g, g)
		VCVTTPS2DQ(b, b)
		storeRGB(a, c, r, g, b, dst, k, whole)
	}, func() {
		ADDQ(U8(3*a.lanes), src.Base)
		ADDQ(U8(3*a.lanes), dst.Base)
	})
	ret()
}

// divExact2 returns x/D correctly rounded, for the D whose float32
// reciprocal is inv and low part lo, in two operations: x*inv +
// float32(x*lo) by one FMA. That this equals VDIVPS is not assumed: it is
// used for x/255 (x an integer in [0, 255]) and h/6, and
// TestHueFwdAllColours compares the result bit for bit with the
// reference's divisions on all 2^24 colours.
func divExact2(a *isa, x VecVirtual, inv, lo Op) VecVirtual {
	t := a.vec()
	VMULPS(lo, x, t)
	VFMADD231PS(inv, x, t)
	return t
}

// hueFwdTables and hueInvTables are the constants of the two halves.
func hueFwdTables() map[string]Mem {
	return loadTables(map[string]Mem{
		"one":      splat("genF1", f1),
		"two":      splat("genF2", f2),
		"four":     splat("genF4", f4),
		"inv255":   splat("genInv255", inv255),
		"inv255Lo": splat("genInv255Lo", inv255Lo),
		"inv6":     splat("genInv6", inv6),
		"inv6Lo":   splat("genInv6Lo", inv6Lo),
	})
}

// Sector tables, indexed by the sector i = floor(h*6) in 0..6 (6 is sector
// 0): channel c of sector i takes the value v*(1 - s*x) with x = A[i] +
// B[i]*f, which is x = 0 (v), 1 (p), f (q) or 1-f (t): red v q p p t v,
// green t v v q p p, blue p p t v v q.
func hueInvTables(t map[string]Mem) map[string]Mem {
	t["one"] = splat("genF1", f1)
	t["six"] = splat("genF6", f6)
	t["f255"] = splat("genF255", f255)
	t["AR"] = table("genHueAR", [16]uint32{0, 0, f1, f1, f1, 0, 0})
	t["BR"] = table("genHueBR", [16]uint32{0, f1, 0, 0, fm1, 0, 0})
	t["AG"] = table("genHueAG", [16]uint32{f1, 0, 0, 0, f1, f1, f1})
	t["BG"] = table("genHueBG", [16]uint32{fm1, 0, 0, f1, 0, 0, fm1})
	t["AB"] = table("genHueAB", [16]uint32{f1, f1, f1, 0, 0, 0, f1})
	t["BB"] = table("genHueBB", [16]uint32{0, 0, fm1, 0, 0, f1, 0})
	return storeTables(t)
}

// zeroVec returns a zeroed vector register: for AVX-512 one made before
// the loop (pass it as z), for AVX2 a fresh one at the point of use.
func zeroVec(a *isa, z VecVirtual) VecVirtual {
	if a.z {
		return z
	}
	z = YMM()
	VXORPS(z, z, z)
	return z
}

// hueFwd is cfHueFwd on the block of pixels at src: it returns h (in [0,
// 1), before the shift), s and v. sv, when not nil, is called as soon as s
// and v are known (to store them and free their registers).
func hueFwd(a *isa, c *consts, zero VecVirtual, src Mem, k Register, sv func(s, v VecVirtual)) (h, s, v VecVirtual) {
	r, g, b := loadRGB(a, c, src, k)
	r = divExact2(a, r, c.op("inv255"), c.op("inv255Lo"))
	g = divExact2(a, g, c.op("inv255"), c.op("inv255Lo"))
	b = divExact2(a, b, c.op("inv255"), c.op("inv255Lo"))
	maxc, minc := a.vec(), a.vec()
	VMAXPS(g, r, maxc)
	VMAXPS(b, maxc, maxc)
	VMINPS(g, r, minc)
	VMINPS(b, minc, minc)
	cr := a.vec()
	VSUBPS(minc, maxc, cr)
	eqc := a.cmp(0, maxc, minc) // maxc == minc
	one := c.reg("one")
	den, crd := a.vec(), a.vec()
	a.blend(eqc, one, maxc, den) // eqc ? 1 : maxc
	a.blend(eqc, one, cr, crd)   // eqc ? 1 : cr
	s = a.vec()
	VDIVPS(den, cr, s) // s = cr / den
	if sv != nil {
		sv(s, maxc)
	}
	// Only two quotients per lane: h = (off + P/crd) - N/crd with (off,
	// P, N) = (0, maxc-b, maxc-g) if maxc == r, else (2, maxc-r, maxc-b)
	// if maxc == g, else (4, maxc-g, maxc-r): torchvision's bc-gc,
	// (2+rc)-bc and (4+gc)-rc, rounded the same way.
	mr, mg, mb := a.vec(), a.vec(), a.vec()
	VSUBPS(r, maxc, mr)
	VSUBPS(g, maxc, mg)
	VSUBPS(b, maxc, mb)
	isG := a.cmp(0, maxc, g)
	isR := a.cmp(0, maxc, r)
	p, q := a.vec(), a.vec()
	a.blend(isG, mr, mg, p)
	a.blend(isR, mb, p, p) // P
	a.blend(isG, mb, mr, q)
	a.blend(isR, mg, q, q) // N
	off := a.vec()
	if a.z {
		a.blend(isG, c.op("two"), c.reg("four"), off)
	} else {
		VMOVUPS(c.op("four"), off)
		a.blend(isG, c.op("two"), off, off)
	}
	a.blend(isR, zeroVec(a, zero), off, off)
	VDIVPS(crd, p, p)
	VADDPS(p, off, p) // off + P/crd
	VDIVPS(crd, q, q)
	VSUBPS(q, p, q) // h
	h = divExact2(a, q, c.op("inv6"), c.op("inv6Lo"))
	VADDPS(one, h, h) // h/6 + 1
	a.subIf(a.cmp(0x0d, h, one), h, one)
	return h, s, maxc
}

// hueInv is cfHueInv on a block: it shifts h by hue and writes the RGB
// pixels of (h, s, v) at dst.
func hueInv(a *isa, c *consts, zero, hue, h, s, v VecVirtual, dst Mem, k Register, whole bool) {
	one := c.reg("one")
	VADDPS(hue, h, h)                              // h + hue
	a.subIf(a.cmp(0x0d, h, one), h, one)           // h >= 1 ? h-1 : h
	a.addIf(a.cmp(1, h, zeroVec(a, zero)), h, one) // h < 0 ? h+1 : h
	// The reference clamps p, q and t to [0, 1] as torchvision does; the
	// clamps are left out because they never change a value: v and s lie
	// in [0, 1], f in [0, 1), and float32 products and differences of
	// numbers in [0, 1] round to values in [0, 1].
	//
	// Each channel is v*(1 - s*x) with x = A[i] + B[i]*f (one FMA: B is 0,
	// 1 or -1, so x is exactly 0, 1, f or float32(1-f)).
	VMULPS(c.op("six"), h, h) // h6
	fi := a.vec()
	a.round(1, h, fi) // floor(h6)
	VSUBPS(fi, h, h)  // f
	VCVTTPS2DQ(fi, fi)
	xs := [3]VecVirtual{}
	for ch, tab := range [3][2]string{{"AR", "BR"}, {"AG", "BG"}, {"AB", "BB"}} {
		x, bt := a.vec(), a.vec()
		VPERMPS(c.op(tab[0]), fi, x)
		VPERMPS(c.op(tab[1]), fi, bt)
		VFMADD231PS(h, bt, x)
		xs[ch] = x
	}
	for _, x := range xs {
		VMULPS(s, x, x) // s*x
	}
	for _, x := range xs {
		VSUBPS(x, one, x) // 1 - s*x
	}
	for _, x := range xs {
		VMULPS(v, x, x) // v*(1 - s*x)
	}
	m := c.reg("f255")
	for _, x := range xs {
		VMULPS(m, x, x)
	}
	for _, x := range xs {
		VCVTTPS2DQ(x, x)
	}
	storeRGB(a, c, xs[0], xs[1], xs[2], dst, k, whole)
}

func zeroBefore(a *isa) VecVirtual {
	if !a.z {
		return nil
	}
	z := ZMM()
	VXORPS(z, z, z)
	return z
}

func genHueFwd(a *isa) {
	TEXT("cfHueFwd"+a.name, NOSPLIT, "func(hsv *float32, src *uint8, n int)")
	Pragma("noescape")
	if a.z {
		Doc("cfHueFwdAVX512 is the first half of cfHuePixel over n pixels (any n):",
			"for each block of 16 it writes h (in [0, 1), before the shift), s and",
			"v, 16 float32s each, to hsv, which must hold 48 float32s per started",
			"block. It reads the 3*n bytes of src only.")
	} else {
		Doc("cfHueFwdAVX2 is the first half of cfHuePixel over n pixels (n a multiple",
			"of 8): for each block of 8 it writes h (in [0, 1), before the shift), s and",
			"v, 8 float32s each, to hsv (3*n float32s).")
	}
	dst := Mem{Base: Load(Param("hsv"), GP64())}
	src := Mem{Base: Load(Param("src"), GP64())}
	n := Load(Param("n"), GP64())
	c := a.consts(hueFwdTables())
	zero := zeroBefore(a)
	w := a.bytes()
	a.pixelLoop(n, func(k Register, whole bool) {
		h, _, _ := hueFwd(a, c, zero, src, k, func(s, v VecVirtual) {
			VMOVUPS(v, dst.Offset(2*w))
			VMOVUPS(s, dst.Offset(w))
		})
		VMOVUPS(h, dst)
	}, func() {
		ADDQ(U8(3*a.lanes), src.Base)
		ADDQ(U32(3*w), dst.Base)
	})
	ret()
}

func genHueInv(a *isa) {
	TEXT("cfHueInv"+a.name, NOSPLIT, "func(dst *uint8, hsv *float32, n int, hue float32)")
	Pragma("noescape")
	if a.z {
		Doc("cfHueInvAVX512 is the second half: it shifts the h of each block of",
			"cfHueFwdAVX512 by hue and writes the n RGB pixels (3*n bytes, any n).")
	} else {
		Doc("cfHueInvAVX2 is the second half: it shifts the h of each block by hue",
			"and writes the RGB pixels (n a multiple of 8).")
	}
	dst := Mem{Base: Load(Param("dst"), GP64())}
	src := Mem{Base: Load(Param("hsv"), GP64())}
	n := Load(Param("n"), GP64())
	hue := a.broadcast("hue")
	c := a.consts(hueInvTables(map[string]Mem{}))
	zero := zeroBefore(a)
	c.keep("stPerm")
	w := a.bytes()
	a.pixelLoop(n, func(k Register, whole bool) {
		h, s, v := a.vec(), a.vec(), a.vec()
		VMOVUPS(src, h)
		VMOVUPS(src.Offset(w), s)
		VMOVUPS(src.Offset(2*w), v)
		hueInv(a, c, zero, hue, h, s, v, dst, k, whole)
	}, func() {
		ADDQ(U32(3*w), src.Base)
		ADDQ(U8(3*a.lanes), dst.Base)
	})
	ret()
}

// packConsts are the constants of a float-to-byte store of four vectors
// (genAffine, genBlurV2): the clamp at 255 (f255), and the VPERMD order
// (perm) that undoes the packs — after VPACKUSDW and VPACKUSWB, 128-bit
// lane l holds dword l of each of the four vectors; the permutation puts
// them back in source order.
func packConsts(a *isa) map[string]Mem {
	return map[string]Mem{
		"f255": splat("genF255", f255),
		"perm": map[bool]Mem{
			false: table("genAffPerm2", [16]uint32{0, 4, 1, 5, 2, 6, 3, 7}),
			true:  table("genAffPerm5", [16]uint32{0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}),
		}[a.z],
	}
}

// pack4 packs the four vectors of int32 in xs (each lane at most 255;
// negative lanes saturate to 0) into the bytes of xs[0], in source order,
// with packConsts' perm, and returns xs[0].
func pack4(c *consts, xs [4]VecVirtual) VecVirtual {
	VPACKUSDW(xs[1], xs[0], xs[0])
	VPACKUSDW(xs[3], xs[2], xs[2])
	VPACKUSWB(xs[2], xs[0], xs[0])
	VPERMD(xs[0], c.reg("perm"), xs[0])
	return xs[0]
}

// genAffine emits cfAffine<ISA> (scale false) or cfScale<ISA> (scale true,
// b == 0 left out: float32(a*x) + 0 is float32(a*x) for a*x >= 0).
func genAffine(a *isa, scale bool) {
	name, sig := "cfAffine", "func(dst, src *uint8, n int, a, b float32)"
	if scale {
		name, sig = "cfScale", "func(dst, src *uint8, n int, a float32)"
	}
	TEXT(name+a.name, NOSPLIT, sig)
	Pragma("noescape")
	switch {
	case a.z && scale:
		Doc("cfScaleAVX512 is cfAffineRef with b == 0 and a >= 0 over n bytes (any n).")
	case a.z:
		Doc("cfAffineAVX512 is cfAffineRef over n bytes (any n).")
	case scale:
		Doc("cfScaleAVX2 is cfAffineRef with b == 0 and a >= 0 over n bytes, n a",
			"multiple of 32.")
	default:
		Doc("cfAffineAVX2 is cfAffineRef over n bytes, n a multiple of 32.")
	}
	dst := Mem{Base: Load(Param("dst"), GP64())}
	src := Mem{Base: Load(Param("src"), GP64())}
	n := Load(Param("n"), GP64())
	fa := a.broadcast("a")
	var fb VecVirtual
	if !scale {
		fb = a.broadcast("b")
	}
	c := a.consts(packConsts(a))
	c.keep("perm", "f255")
	step := 4 * a.lanes // bytes per block
	// body converts the four vectors of a block, the references' order:
	// a*x (+ b), the upper clamp (a negative sum truncates to a negative
	// int32 or 0, which VPACKUSDW saturates to 0), truncation.
	body := func(xs [4]VecVirtual, store func(VecVirtual)) {
		for _, x := range xs {
			VCVTDQ2PS(x, x)
		}
		for _, x := range xs {
			VMULPS(fa, x, x)
		}
		if !scale {
			for _, x := range xs {
				VADDPS(fb, x, x)
			}
		}
		m := c.reg("f255")
		for _, x := range xs {
			VMINPS(m, x, x)
		}
		for _, x := range xs {
			VCVTTPS2DQ(x, x)
		}
		store(pack4(c, xs))
	}
	wide := func() (xs [4]VecVirtual) {
		for i := range xs {
			xs[i] = a.vec()
			VPMOVZXBD(src.Offset(i*a.lanes), xs[i])
		}
		return xs
	}
	if !a.z {
		SHRQ(U8(5), n)
		JZ(LabelRef("done"))
		Label("loop")
		body(wide(), func(x VecVirtual) { VMOVDQU(x, dst) })
		ADDQ(U8(step), src.Base)
		ADDQ(U8(step), dst.Base)
		DECQ(n)
		JNZ(LabelRef("loop"))
		Label("done")
		VZEROUPPER()
		RET()
		return
	}
	Label("loop")
	CMPQ(n, U8(step))
	JB(LabelRef("tail"))
	body(wide(), func(x VecVirtual) { VMOVDQU32(x, dst) })
	ADDQ(U8(step), src.Base)
	ADDQ(U8(step), dst.Base)
	SUBQ(U8(step), n)
	JMP(LabelRef("loop"))
	// The last n < 64 bytes: one masked load of exactly those bytes,
	// widened from its four 16-byte quarters, and a masked store.
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	k := byteMask(n)
	t := ZMM()
	VMOVDQU8_Z(src, k, t)
	var xs [4]VecVirtual
	for i := range xs {
		xs[i] = ZMM()
		q := t.AsX()
		if i > 0 {
			q = XMM()
			VEXTRACTI32X4(U8(i), t, q)
		}
		VPMOVZXBD(q, xs[i])
	}
	body(xs, func(x VecVirtual) { VMOVDQU8(x, k, dst) })
	Label("done")
	VZEROUPPER()
	RET()
}
