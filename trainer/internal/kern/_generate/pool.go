package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// poolIdx holds int32 lanes of 1, 2 and 3 (window indices), 8 of each, for
// the AVX2 pooling bodies.
var poolIdx Mem

func poolIdxTable() {
	poolIdx = GLOBL("poolIdx", RODATA|NOPTR)
	for i := 0; i < 24; i++ {
		DATA(4*i, U32(uint32(1+i/8)))
	}
}

// maxPool2Row emits maxPool2Row{,AffineReLU}Row{AVX2,AVX512} from one
// description (the AVX2 bodies ported from the hand-written ones): 2×2 max
// pooling of one output row from input rows r0 and r1, L = 8 or 16 outputs
// per iteration, taking candidate v over the best so far exactly where the
// Go loop does (v > best, or v NaN and best not), window indices to arg as
// bytes; with affine each input element is first mapped to
// max((v − m)·s + b, 0) as affineReLU does.
func maxPool2Row(zmm, affine bool) {
	t := tile{zmm: zmm}
	name := "maxPool2Row" + t.suffix()
	sig := "func(y *float32, arg *uint8, argStep int, r0, r1 *float32, n int)"
	if affine {
		name = "maxPool2AffineReLURow" + t.suffix()
		sig = "func(y *float32, arg *uint8, argStep int, r0, r1 *float32, n int, m, s, b float32)"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	what := "Reference: the row loop of maxPool2Plane in layers.go"
	if affine {
		what += " with a non-nil poolAffine (each input element first mapped to max((v − m)·s + b, 0))"
	}
	if zmm {
		Doc(name+": "+what+".",
			"n ≥ 1 outputs of 2×2 max pooling from rows r0 and r1 (2n floats each), 16",
			"per iteration and the last n mod 16 under K masks (nothing touched past",
			"output n−1 or input 2n−1); the window index of each winner goes to arg,",
			"which advances by argStep (16, or 0 to discard) per 16 outputs.")
	} else {
		Doc(name+": "+what+".",
			"n (a positive multiple of 8) outputs of 2×2 max pooling from rows r0 and",
			"r1 (2n floats each); the window index of each winner goes to arg, which",
			"advances by argStep (8, or 0 to discard) per 8 outputs.")
	}
	L := t.lanes()
	v := t.vreg
	Load(Param("y"), RDI)
	Load(Param("arg"), R8)
	Load(Param("argStep"), R9)
	Load(Param("r0"), RSI)
	Load(Param("r1"), RDX)
	Load(Param("n"), RCX)
	var idx [4]Op // window index vectors 1..3 (idx[0] unused: arg starts at 0)
	var ms, ss, bs, zero VecPhysical
	if affine {
		ms, ss, bs, zero = v(12), v(13), v(14), v(15)
		VBROADCASTSS(addr(Param("m")), ms)
		VBROADCASTSS(addr(Param("s")), ss)
		VBROADCASTSS(addr(Param("b")), bs)
		VXORPS(zero, zero, zero)
	}
	if zmm {
		LEAQ(evenOddTab, RAX)
		VMOVUPS(Mem{Base: RAX}, Z22)
		VMOVUPS(Mem{Base: RAX, Disp: 64}, Z23)
		for k := 1; k <= 3; k++ {
			MOVL(U32(uint32(k)), EAX)
			VPBROADCASTD(EAX, zmms[15+k])
			idx[k] = zmms[15+k]
		}
	} else {
		LEAQ(poolIdx, RAX)
		for k := 1; k <= 3; k++ {
			if affine {
				idx[k] = Mem{Base: RAX, Disp: 32 * (k - 1)}
			} else {
				VMOVUPS(Mem{Base: RAX, Disp: 32 * (k - 1)}, v(11+k))
				idx[k] = v(11 + k)
			}
		}
	}
	affRelu := func(r VecPhysical) {
		VSUBPS(ms, r, r)
		VMULPS(ss, r, r)
		VADDPS(bs, r, r)
		VMAXPS(r, zero, r)
	}
	best, arg := v(2), v(6)
	// step folds candidate c (window index idx) into best and arg.
	step := func(c VecPhysical, idx Op) {
		if zmm {
			VCMPPS(Imm(0x1e), best, c, K4) // c > best (ordered)
			VCMPPS(Imm(0x03), c, c, K5)    // c is NaN
			VCMPPS(Imm(0x07), best, best, K6)
			KANDW(K6, K5, K5)
			KORW(K5, K4, K4)
			VMOVAPS(c, K4, best)
			VMOVDQA32(idx, K4, arg)
			return
		}
		VCMPPS(Imm(0x1e), best, c, v(7)) // c > best (ordered)
		VCMPPS(Imm(0x03), c, c, v(8))    // c is NaN
		VCMPPS(Imm(0x07), best, best, v(9))
		VANDPS(v(9), v(8), v(8))
		VORPS(v(8), v(7), v(7))
		VBLENDVPS(v(7), c, best, best)
		VBLENDVPS(v(7), idx, arg, arg)
	}
	body := func(masked bool) {
		rows := []struct {
			base      GPPhysical
			even, odd VecPhysical
		}{{RSI, v(2), v(3)}, {RDX, v(4), v(5)}}
		for _, r := range rows {
			loadV(masked, Mem{Base: r.base}, K2, v(0))
			loadV(masked, Mem{Base: r.base, Disp: 4 * L}, K3, v(1))
			if affine {
				affRelu(v(0))
				affRelu(v(1))
			}
			evenOdd(zmm, v(0), v(1), r.even, r.odd)
		}
		if zmm {
			VPXORD(arg, arg, arg)
		} else {
			VXORPS(arg, arg, arg) // arg = 0 (a)
		}
		step(v(3), idx[1])
		step(v(4), idx[2])
		step(v(5), idx[3])
		if zmm {
			if masked {
				VMOVUPS(best, K1, Mem{Base: RDI})
				VPMOVDB(arg, K1, Mem{Base: R8})
			} else {
				VMOVUPS(best, Mem{Base: RDI})
				VPMOVDB(arg, Mem{Base: R8})
			}
			return
		}
		VMOVUPS(best, Mem{Base: RDI})
		// eight int32 window indices → eight bytes
		VEXTRACTF128(Imm(1), arg, X7)
		VPACKSSDW(X7, X6, X6)
		VPACKUSWB(X6, X6, X6)
		VMOVQ(X6, Mem{Base: R8})
	}
	loop, tail, done := name+"_loop", name+"_tail", name+"_done"
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JLT(LabelRef(tail))
	}
	Label(loop)
	body(false)
	ADDQ(Imm(uint64(8*L)), RSI)
	ADDQ(Imm(uint64(8*L)), RDX)
	ADDQ(Imm(uint64(4*L)), RDI)
	ADDQ(R9, R8)
	SUBQ(Imm(uint64(L)), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JGE(LabelRef(loop))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(done))
		tailMasks(false, RAX, R10)
		body(true)
		Label(done)
	} else {
		JNZ(LabelRef(loop))
	}
	VZEROUPPER()
	RET()
}

// maxPool2BackRow emits maxPool2BackRowAVX2 (ported) and
// maxPool2BackRowAVX512 from one description. Reference: the window loop of
// maxPool2BackwardPlane in layers.go. For n windows: g = dy, zeroed where
// useY != 0 and !(y > 0); the winner (arg: 0, 1 on row d0; 2, 3 on row d1)
// gets g's bits, the other three +0. Writes 2n floats to each of d0 and
// d1, d0 first.
func maxPool2BackRow(zmm bool) {
	t := tile{zmm: zmm}
	name := "maxPool2BackRow" + t.suffix()
	TEXT(name, NOSPLIT, "func(d0, d1, dy, y *float32, useY int, arg *uint8, n int)")
	Pragma("noescape")
	if zmm {
		Doc(name+": reference: the window loop of maxPool2BackwardPlane in",
			"layers.go. For n ≥ 1 windows (16 per iteration, the last n mod 16 under K",
			"masks, nothing touched past them): g = dy, zeroed where useY != 0 and",
			"!(y > 0); the winner (arg: 0, 1 on row d0; 2, 3 on row d1) gets g's bits,",
			"the other three +0. Writes 2n floats to each of d0 and d1, d0 first.")
	} else {
		Doc(name+": reference: the window loop of maxPool2BackwardPlane in",
			"layers.go. For n (a positive multiple of 8) windows: g = dy, zeroed where",
			"useY != 0 and !(y > 0); the winner (arg: 0, 1 on row d0; 2, 3 on row d1)",
			"gets g's bits, the other three +0. Writes 2n floats to each of d0 and d1,",
			"d0 first.")
	}
	L := t.lanes()
	v := t.vreg
	Load(Param("d0"), RDI)
	Load(Param("d1"), RBX)
	Load(Param("dy"), RSI)
	Load(Param("y"), RDX)
	Load(Param("useY"), R10)
	Load(Param("arg"), R8)
	Load(Param("n"), RCX)
	zero := v(15)
	if zmm {
		VPXORD(zero, zero, zero)
		LEAQ(interleaveTab, RAX)
		VMOVUPS(Mem{Base: RAX}, Z20)
		VMOVUPS(Mem{Base: RAX, Disp: 64}, Z21)
		for k := 1; k <= 3; k++ {
			MOVL(U32(uint32(k)), EAX)
			VPBROADCASTD(EAX, zmms[15+k])
		}
	} else {
		LEAQ(poolIdx, RAX)
		VXORPS(zero, zero, zero)
	}
	g := v(0)
	body := func(masked bool, noMask string) {
		loadV(masked, Mem{Base: RSI}, K1, g)
		TESTQ(R10, R10)
		JZ(LabelRef(noMask))
		if zmm {
			loadV(masked, Mem{Base: RDX}, K1, v(1))
			VCMPPS(Imm(0x1e), zero, v(1), K4) // y > 0 (ordered: NaN gives 0)
			VMOVAPS_Z(g, K4, g)
		} else {
			VMOVUPS(Mem{Base: RDX}, v(1))
			VCMPPS(Imm(0x1e), zero, v(1), v(1))
			VANDPS(v(1), g, g)
		}
		ADDQ(Imm(uint64(4*L)), RDX)
		Label(noMask)
		// v3..v6: g where the window index is 0..3, else +0.
		if zmm {
			if masked {
				VPMOVZXBD_Z(Mem{Base: R8}, K1, v(2))
			} else {
				VPMOVZXBD(Mem{Base: R8}, v(2))
			}
			ks := []Op{K4, K5, K6, K7}
			VPCMPEQD(zero, v(2), ks[0])
			for k := 1; k <= 3; k++ {
				VPCMPEQD(zmms[15+k], v(2), ks[k])
			}
			for k := 0; k < 4; k++ {
				VMOVAPS_Z(g, ks[k], v(3+k))
			}
		} else {
			VPMOVZXBD(Mem{Base: R8}, v(2))
			VPCMPEQD(zero, v(2), v(3))
			for k := 1; k <= 3; k++ {
				VPCMPEQD(Mem{Base: RAX, Disp: 32 * (k - 1)}, v(2), v(3+k))
			}
			for k := 0; k < 4; k++ {
				VANDPS(g, v(3+k), v(3+k))
			}
		}
		// Row d0: v0_0 v1_0 v0_1 v1_1 …; row d1 from v2, v3.
		for r, base := range []GPPhysical{RDI, RBX} {
			a, b := v(3+2*r), v(4+2*r)
			if zmm {
				VMOVAPS(Z20, Z9)
				VPERMI2PS(b, a, Z9)
				VMOVAPS(Z21, Z10)
				VPERMI2PS(b, a, Z10)
				storeV(masked, Z9, K2, Mem{Base: base})
				storeV(masked, Z10, K3, Mem{Base: base, Disp: 64})
				continue
			}
			VUNPCKLPS(b, a, Y7)
			VUNPCKHPS(b, a, Y8)
			VPERM2F128(Imm(0x20), Y8, Y7, Y9)
			VPERM2F128(Imm(0x31), Y8, Y7, Y10)
			VMOVUPS(Y9, Mem{Base: base})
			VMOVUPS(Y10, Mem{Base: base, Disp: 32})
		}
	}
	loop, tail, done := name+"_loop", name+"_tail", name+"_done"
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JLT(LabelRef(tail))
	}
	Label(loop)
	body(false, name+"_nomask")
	ADDQ(Imm(uint64(4*L)), RSI)
	ADDQ(Imm(uint64(L)), R8)
	ADDQ(Imm(uint64(8*L)), RDI)
	ADDQ(Imm(uint64(8*L)), RBX)
	SUBQ(Imm(uint64(L)), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JGE(LabelRef(loop))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(done))
		tailMasks(false, RAX, R11)
		body(true, name+"_tailnomask")
		Label(done)
	} else {
		JNZ(LabelRef(loop))
	}
	VZEROUPPER()
	RET()
}

func poolKernels() {
	poolIdxTable()
	for _, zmm := range []bool{false, true} {
		maxPool2Row(zmm, false)
		maxPool2Row(zmm, true)
		maxPool2BackRow(zmm)
	}
}
