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
		load := func(m Mem, dst VecPhysical) {
			if masked {
				VMOVUPS_Z(m, K1, dst)
			} else {
				VMOVUPS(m, dst)
			}
		}
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
				if masked {
					VMOVUPS(Z14, K2, out)
					VMOVUPS(Z15, K3, out.Offset(64))
				} else {
					VMOVUPS(Z14, out)
					VMOVUPS(Z15, out.Offset(64))
				}
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
		MOVL(U32(0xffff), EAX)
		BZHIL(ECX, EAX, EAX)
		KMOVW(EAX, K1)
		LEAL(Mem{Base: RCX, Index: RCX, Scale: 1}, R12L)
		MOVL(U32(0xffffffff), EAX)
		BZHIL(R12L, EAX, EAX)
		KMOVW(EAX, K2)
		SHRL(Imm(16), EAX)
		KMOVW(EAX, K3)
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

func winoKernels() {
	interleaveTable()
	winoOut(false)
	winoOut(true)
}
