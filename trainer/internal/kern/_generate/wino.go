package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// interleaveTab holds the VPERMI2PS indices that interleave two zmm
// registers a, b: lo = a0 b0 a1 b1 … a7 b7, hi = a8 b8 … a15 b15.
var interleaveTab Mem

func interleaveTable() {
	interleaveTab = GLOBL("interleaveTab", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		DATA(4*i, U32(uint32(i/2+16*(i%2))))
	}
}

// winoOut emits winoOutAVX2 (ported from the hand-written body, the same
// instructions) and winoOutAVX512 from one description: the output
// transform Aᵀ·M·A of a row of tiles, L = 8 or 16 tiles per iteration.
// The AVX2 body runs whole vectors to the row's end (up to 7 tiles past
// it); the AVX-512 body runs whole vectors while 16 tiles remain and the
// rest under K masks, touching nothing past the row's last tile. Both do
// the additions of winoOutTileGo in its order, so all three agree bit for
// bit.
func winoOut(zmm bool) {
	t := tile{zmm: zmm}
	name := "winoOut" + t.suffix()
	TEXT(name, NOSPLIT, "func(m *float32, ms, th, tw int, y *float32, yw int)")
	Pragma("noescape")
	if zmm {
		Doc(name+" is winoOutTileGo for th, tw ≥ 1 on 16 tiles at a time, the",
			"last tw mod 16 under K masks: it reads m and writes y only inside the",
			"th×tw tiles (2·tw columns of 2·th rows of y). ms and yw are in elements.")
	} else {
		Doc(name+" is winoOutTileGo for th, tw ≥ 1 on 8 tiles at a time: each",
			"row of tiles reads ⌈tw/8⌉ whole vectors of m (up to 7 tiles past the",
			"row's end) and writes 2·⌈tw/8⌉·8 columns of two rows of y. ms and yw",
			"are in elements.")
	}
	L := t.lanes()
	v := t.vreg
	Load(Param("m"), RSI)
	Load(Param("ms"), R8)
	SHLQ(Imm(2), R8)
	LEAQ(Mem{Base: R8, Index: R8, Scale: 2}, R9)
	Load(Param("th"), RBX)
	Load(Param("y"), RDI)
	Load(Param("yw"), R10)
	SHLQ(Imm(2), R10)
	if zmm {
		LEAQ(interleaveTab, RAX)
		VMOVUPS(Mem{Base: RAX}, Z20)
		VMOVUPS(Mem{Base: RAX, Disp: 64}, Z21)
	}

	row, chunk, tail, rowDone := name+"_row", name+"_chunk", name+"_tail", name+"_rowdone"
	Label(row)
	MOVQ(RSI, RDX)
	MOVQ(RDI, R11)
	Load(Param("tw"), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JLT(LabelRef(tail))
	}

	// body emits one chunk; masked: loads under K1, stores under K2
	// (first vector of a row) and K3 (second).
	body := func(masked bool) {
		LEAQ(Mem{Base: RDX, Index: R8, Scale: 4}, R12)
		LEAQ(Mem{Base: R12, Index: R8, Scale: 4}, R13)
		LEAQ(Mem{Base: R13, Index: R8, Scale: 4}, RAX)
		col := func(base GPPhysical, j int) Mem {
			switch j {
			case 0:
				return Mem{Base: base}
			case 1:
				return Mem{Base: base, Index: R8, Scale: 1}
			case 2:
				return Mem{Base: base, Index: R8, Scale: 2}
			}
			return Mem{Base: base, Index: R9, Scale: 1}
		}
		// first := a; then op(b) for the two operands; masked loads go
		// through a scratch register.
		load := func(m Mem, dst VecPhysical) { loadV(masked, m, K1, dst) }
		var scratch VecPhysical = Z16 // masked (AVX-512) loads only
		op := func(add bool, m Mem, dst VecPhysical) {
			var src Op = m
			if masked {
				VMOVUPS_Z(m, K1, scratch)
				src = scratch
			}
			if add {
				VADDPS(src, dst, dst)
			} else {
				VSUBPS(src, dst, dst)
			}
		}
		// p_j = (M0j + M1j) + M2j
		for j := 0; j < 4; j++ {
			load(col(RDX, j), v(j))
			op(true, col(R12, j), v(j))
			op(true, col(R13, j), v(j))
		}
		// q_j = (M1j − M2j) − M3j
		for j := 0; j < 4; j++ {
			load(col(R12, j), v(4+j))
			op(false, col(R13, j), v(4+j))
			op(false, col(RAX, j), v(4+j))
		}
		VADDPS(v(1), v(0), v(8))
		VADDPS(v(2), v(8), v(8))
		VSUBPS(v(2), v(1), v(9))
		VSUBPS(v(3), v(9), v(9))
		VADDPS(v(5), v(4), v(10))
		VADDPS(v(6), v(10), v(10))
		VSUBPS(v(6), v(5), v(11))
		VSUBPS(v(7), v(11), v(11))
		// Row 2ty: y00, y01 interleaved; row 2ty+1: y10, y11.
		for r := 0; r < 2; r++ {
			a, b := v(8+2*r), v(9+2*r)
			out := Mem{Base: R11}
			if r == 1 {
				out = Mem{Base: R11, Index: R10, Scale: 1}
			}
			if zmm {
				VMOVAPS(Z20, Z14)
				VPERMI2PS(b, a, Z14)
				VMOVAPS(Z21, Z15)
				VPERMI2PS(b, a, Z15)
				storeV(masked, Z14, K2, out)
				storeV(masked, Z15, K3, out.Offset(64))
				continue
			}
			VUNPCKLPS(b, a, Y12)
			VUNPCKHPS(b, a, Y13)
			VPERM2F128(Imm(0x20), Y13, Y12, Y14)
			VPERM2F128(Imm(0x31), Y13, Y12, Y15)
			VMOVUPS(Y14, out)
			VMOVUPS(Y15, out.Offset(32))
		}
	}

	Label(chunk)
	body(false)
	ADDQ(Imm(uint64(4*L)), RDX)
	ADDQ(Imm(uint64(8*L)), R11)
	SUBQ(Imm(uint64(L)), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JGE(LabelRef(chunk))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(rowDone))
		// K1: the r = CX tiles left; K2, K3: the 2r output columns.
		tailMasks(false, RAX, R12)
		body(true)
		Label(rowDone)
	} else {
		JG(LabelRef(chunk))
	}

	Load(Param("tw"), RCX)
	LEAQ(Mem{Base: RSI, Index: RCX, Scale: 4}, RSI)
	LEAQ(Mem{Base: RDI, Index: R10, Scale: 2}, RDI)
	DECQ(RBX)
	JNZ(LabelRef(row))
	VZEROUPPER()
	RET()
}

// evenOddTab holds the VPERMI2PS indices that split two zmm registers
// a, b (32 consecutive floats) into their even and odd elements.
var evenOddTab Mem

func evenOddTable() {
	evenOddTab = GLOBL("evenOddTab", RODATA|NOPTR)
	for i := 0; i < 32; i++ {
		DATA(4*i, U32(uint32(2*(i%16)+i/16)))
	}
}

// evenOdd splits 2L consecutive floats a, b into even = a0 a2 … b(L−2)
// and odd = a1 a3 … b(L−1). AVX2: VSHUFPS works within 128-bit lanes,
// VPERMPD puts the 64-bit pairs back in order; AVX-512: VPERMI2PS with the
// index vectors in Z22 (even) and Z23 (odd).
func evenOdd(zmm bool, a, b, even, odd VecPhysical) {
	if zmm {
		VMOVAPS(Z22, even)
		VPERMI2PS(b, a, even)
		VMOVAPS(Z23, odd)
		VPERMI2PS(b, a, odd)
		return
	}
	VSHUFPS(Imm(0x88), b, a, even)
	VSHUFPS(Imm(0xDD), b, a, odd)
	VPERMPD(Imm(0xD8), even, even)
	VPERMPD(Imm(0xD8), odd, odd)
}

// loadEvenOdd loads the evenOdd halves for the 2L floats at m, under the
// masks ka (first L) and kb (second L) when masked.
func loadEvenOdd(zmm, masked bool, m Mem, ka, kb Op, even, odd, t0, t1 VecPhysical) {
	L := tile{zmm: zmm}.lanes()
	loadV(masked, m, ka, t0)
	loadV(masked, m.Offset(4*L), kb, t1)
	evenOdd(zmm, t0, t1, even, odd)
}

// loadV loads v from m, zeroing the lanes outside mask k when masked.
func loadV(masked bool, m Mem, k Op, v VecPhysical) {
	if masked {
		VMOVUPS_Z(m, k, v)
	} else {
		VMOVUPS(m, v)
	}
}

// storeV stores v at m, under mask k when masked.
func storeV(masked bool, v VecPhysical, k Op, m Mem) {
	if masked {
		VMOVUPS(v, k, m)
	} else {
		VMOVUPS(v, m)
	}
}

// tailMasks sets, for r = CX tiles left (1 ≤ r < 16): K1 = r lanes,
// K2/K3 = the first/second 16 of 2r lanes and, with plus2, K4/K5 = the
// first/second 16 of 2r+2 lanes. It overwrites the registers val and cnt.
func tailMasks(plus2 bool, val, cnt GPPhysical) {
	v32, c32 := val.As32(), cnt.As32()
	MOVL(U32(0xffff), v32)
	BZHIL(ECX, v32, v32)
	KMOVW(v32, K1)
	LEAL(Mem{Base: RCX, Index: RCX, Scale: 1}, c32)
	MOVL(U32(0xffffffff), v32)
	BZHIL(c32, v32, v32)
	KMOVW(v32, K2)
	SHRL(Imm(16), v32)
	KMOVW(v32, K3)
	if plus2 {
		ADDL(Imm(2), c32)
		MOVL(U32(0xffffffff), v32)
		BZHIL(c32, v32, v32)
		KMOVW(v32, K4)
		SHRL(Imm(16), v32)
		KMOVW(v32, K5)
	}
}

// winoIn emits winoInAVX2 (ported from the hand-written body) and
// winoInAVX512 from one description: the input transform V = Bᵀ·d·B of a
// row of tiles, L = 8 or 16 tiles per iteration, the same additions in the
// order of winoInTileGo.
func winoIn(zmm bool) {
	t := tile{zmm: zmm}
	name := "winoIn" + t.suffix()
	TEXT(name, NOSPLIT, "func(p *float32, pw, th, tw int, dst *float32, xs int)")
	Pragma("noescape")
	if zmm {
		Doc(name+" is winoInTileGo for th, tw ≥ 1 on 16 tiles at a time, the",
			"last tw mod 16 under K masks: it writes only the th·tw tiles of each ξ",
			"row of dst and reads p only up to column 2·tw+1 of each row. pw and xs",
			"are in elements.")
	} else {
		Doc(name+" is winoInTileGo for th, tw ≥ 1 on 8 tiles at a time: each",
			"row of tiles is written in ⌈tw/8⌉ whole vectors (up to 7 elements past",
			"the row's end in each ξ row of dst, which the next row or the caller's",
			"slack absorbs), reading p up to column 2·⌈tw/8⌉·8+1 of each row. pw",
			"and xs are in elements.")
	}
	L := t.lanes()
	v := t.vreg
	Load(Param("p"), RSI)
	Load(Param("pw"), R9)
	SHLQ(Imm(2), R9)
	LEAQ(Mem{Base: R9, Index: R9, Scale: 2}, R11)
	Load(Param("th"), RBX)
	Load(Param("dst"), RDI)
	Load(Param("xs"), R10)
	SHLQ(Imm(2), R10)
	if zmm {
		LEAQ(evenOddTab, RAX)
		VMOVUPS(Mem{Base: RAX}, Z22)
		VMOVUPS(Mem{Base: RAX, Disp: 64}, Z23)
	}
	row, chunk, tail, rowDone := name+"_row", name+"_chunk", name+"_tail", name+"_rowdone"
	Label(row)
	MOVQ(RSI, RAX)
	MOVQ(RDI, RDX)
	Load(Param("tw"), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JLT(LabelRef(tail))
	}
	body := func(masked bool) {
		// loadRow: d_i0, d_i1 from columns 2tx, 2tx+1 and d_i2, d_i3 from
		// 2tx+2, 2tx+3 of the padded row at m.
		loadRow := func(m Mem, d0, d1, d2, d3 VecPhysical) {
			loadEvenOdd(zmm, masked, m, K4, K5, d0, d1, v(12), v(13))
			loadEvenOdd(zmm, masked, m.Offset(8), K2, K3, d2, d3, v(12), v(13))
		}
		// cols applies ·B to v8..v11 into v12..v15 and stores them at R8,
		// R8+xs, R8+2xs, R8+3xs, leaving R8 at R8+4xs.
		cols := func() {
			VSUBPS(v(10), v(8), v(12))
			VADDPS(v(10), v(9), v(13))
			VSUBPS(v(9), v(10), v(14))
			VSUBPS(v(11), v(9), v(15))
			for i := 0; i < 4; i++ {
				storeV(masked, v(12+i), K1, Mem{Base: R8})
				ADDQ(R10, R8)
			}
		}
		loadRow(Mem{Base: RAX, Index: R9, Scale: 1}, v(0), v(1), v(2), v(3))
		loadRow(Mem{Base: RAX, Index: R9, Scale: 2}, v(4), v(5), v(6), v(7))
		MOVQ(RDX, R8)
		// a_j = d0j − d2j → ξ 0..3
		loadRow(Mem{Base: RAX}, v(8), v(9), v(10), v(11))
		for j := 0; j < 4; j++ {
			VSUBPS(v(4+j), v(8+j), v(8+j))
		}
		cols()
		// b_j = d1j + d2j → ξ 4..7
		for j := 0; j < 4; j++ {
			VADDPS(v(4+j), v(j), v(8+j))
		}
		cols()
		// c_j = d2j − d1j → ξ 8..11
		for j := 0; j < 4; j++ {
			VSUBPS(v(j), v(4+j), v(8+j))
		}
		cols()
		// e_j = d1j − d3j → ξ 12..15
		loadRow(Mem{Base: RAX, Index: R11, Scale: 1}, v(8), v(9), v(10), v(11))
		for j := 0; j < 4; j++ {
			VSUBPS(v(8+j), v(j), v(8+j))
		}
		cols()
	}
	Label(chunk)
	body(false)
	ADDQ(Imm(uint64(8*L)), RAX)
	ADDQ(Imm(uint64(4*L)), RDX)
	SUBQ(Imm(uint64(L)), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JGE(LabelRef(chunk))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(rowDone))
		tailMasks(true, R12, R13)
		body(true)
		Label(rowDone)
	} else {
		JG(LabelRef(chunk))
	}
	LEAQ(Mem{Base: RSI, Index: R9, Scale: 2}, RSI)
	Load(Param("tw"), R8)
	SHLQ(Imm(2), R8)
	ADDQ(R8, RDI)
	DECQ(RBX)
	JNZ(LabelRef(row))
	VZEROUPPER()
	RET()
}

// winoGradOut emits winoGradOutAVX2 (ported from the hand-written body) and
// winoGradOutAVX512 from one description: the output-gradient transform
// A'·e·A'ᵀ, L = 8 or 16 tiles per iteration, the additions of
// winoGradOutTileGo in its order.
func winoGradOut(zmm bool) {
	t := tile{zmm: zmm}
	name := "winoGradOut" + t.suffix()
	TEXT(name, NOSPLIT, "func(r0, r1 *float32, n int, dst *float32, xs int)")
	Pragma("noescape")
	if zmm {
		Doc(name+" is winoGradOutTileGo for n ≥ 1 on 16 tiles at a time, the",
			"last n mod 16 under K masks: it reads 2n elements of r0 and of r1 and",
			"writes n elements of each ξ row of dst. xs is in elements.")
	} else {
		Doc(name+" is winoGradOutTileGo for n ≥ 1 on 8 tiles at a time: it",
			"reads 16·⌈n/8⌉ elements of r0 and of r1 and writes 8·⌈n/8⌉ elements",
			"of each ξ row of dst (up to 7 past the last tile). xs is in elements.")
	}
	L := t.lanes()
	v := t.vreg
	Load(Param("r0"), RSI)
	Load(Param("r1"), RDI)
	Load(Param("n"), RCX)
	Load(Param("dst"), RDX)
	Load(Param("xs"), R10)
	SHLQ(Imm(2), R10)
	loop, tail, done := name+"_loop", name+"_tail", name+"_done"
	if zmm {
		LEAQ(evenOddTab, RAX)
		VMOVUPS(Mem{Base: RAX}, Z22)
		VMOVUPS(Mem{Base: RAX, Disp: 64}, Z23)
		CMPQ(RCX, Imm(uint64(L)))
		JLT(LabelRef(tail))
	}
	body := func(masked bool) {
		// grow4 stores u0, u0+u1, u0−u1, u1 (one row of A'·e·A'ᵀ) at R8,
		// R8+xs, R8+2xs, R8+3xs, leaving R8 at R8+4xs.
		grow4 := func(u0, u1 VecPhysical) {
			VADDPS(u1, u0, v(8))
			VSUBPS(u1, u0, v(9))
			for _, r := range []VecPhysical{u0, v(8), v(9), u1} {
				storeV(masked, r, K1, Mem{Base: R8})
				ADDQ(R10, R8)
			}
		}
		loadEvenOdd(zmm, masked, Mem{Base: RSI}, K2, K3, v(2), v(3), v(0), v(1))
		loadEvenOdd(zmm, masked, Mem{Base: RDI}, K2, K3, v(4), v(5), v(0), v(1))
		MOVQ(RDX, R8)
		grow4(v(2), v(3))
		VADDPS(v(4), v(2), v(6)) // s0 = e00 + e10
		VADDPS(v(5), v(3), v(7)) // s1 = e01 + e11
		grow4(v(6), v(7))
		VSUBPS(v(4), v(2), v(6)) // f0 = e00 − e10
		VSUBPS(v(5), v(3), v(7)) // f1 = e01 − e11
		grow4(v(6), v(7))
		grow4(v(4), v(5))
	}
	Label(loop)
	body(false)
	ADDQ(Imm(uint64(8*L)), RSI)
	ADDQ(Imm(uint64(8*L)), RDI)
	ADDQ(Imm(uint64(4*L)), RDX)
	SUBQ(Imm(uint64(L)), RCX)
	if zmm {
		CMPQ(RCX, Imm(uint64(L)))
		JGE(LabelRef(loop))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(done))
		tailMasks(false, RAX, R8)
		body(true)
		Label(done)
	} else {
		JG(LabelRef(loop))
	}
	VZEROUPPER()
	RET()
}

func winoKernels() {
	interleaveTable()
	evenOddTable()
	winoIn(false)
	winoIn(true)
	winoOut(false)
	winoOut(true)
	winoGradOut(false)
	winoGradOut(true)
}
