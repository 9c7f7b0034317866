package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// wino4Consts holds 4, 5 and 8 (float32) for the F(4×4,3×3) transforms.
var wino4Consts Mem

func wino4ConstTable() {
	wino4Consts = GLOBL("wino4Consts", RODATA|NOPTR)
	for i, c := range []float32{4, 5, 8} {
		DATA(4*i, F32(c))
	}
}

// rows6 returns the addresses base + k·s (k < 6) of six rows s bytes
// apart: base, base+s, base+2s, b3, base+4s, b3+2s with b3 = base+3s
// (which it computes into b3).
func rows6(base, s, b3 GPPhysical) [6]Mem {
	LEAQ(Mem{Base: base, Index: s, Scale: 2}, b3)
	ADDQ(s, b3)
	return [6]Mem{
		{Base: base}, {Base: base, Index: s, Scale: 1}, {Base: base, Index: s, Scale: 2},
		{Base: b3}, {Base: base, Index: s, Scale: 4}, {Base: b3, Index: s, Scale: 2},
	}
}

// bt4V emits winograd4.go's bt4 on vectors d[0..5] (kept), writing t0..t5
// to the addresses out[0..5]; c4, c5 hold 4 and 5; s0..s5 are scratch.
// The operations are bt4's, in its order, none fused.
func bt4V(d [6]VecPhysical, c4, c5 VecPhysical, s [6]VecPhysical, out [6]Mem) {
	a, b, c, e, t, u := s[0], s[1], s[2], s[3], s[4], s[5]
	// t0 = (4·d0 + d4) − 5·d2
	VMULPS(c4, d[0], t)
	VADDPS(d[4], t, t)
	VMULPS(c5, d[2], u)
	VSUBPS(u, t, t)
	VMOVUPS(t, out[0])
	// t5 = (4·d1 + d5) − 5·d3
	VMULPS(c4, d[1], t)
	VADDPS(d[5], t, t)
	VMULPS(c5, d[3], u)
	VSUBPS(u, t, t)
	VMOVUPS(t, out[5])
	// a = d4 − 4·d2, b = d3 − 4·d1, c = d4 − d2, e = 2·(d3 − d1)
	VMULPS(c4, d[2], a)
	VSUBPS(a, d[4], a)
	VMULPS(c4, d[1], b)
	VSUBPS(b, d[3], b)
	VSUBPS(d[2], d[4], c)
	VSUBPS(d[1], d[3], e)
	VADDPS(e, e, e)
	VADDPS(b, a, t)
	VMOVUPS(t, out[1])
	VSUBPS(b, a, u)
	VMOVUPS(u, out[2])
	VADDPS(e, c, t)
	VMOVUPS(t, out[3])
	VSUBPS(e, c, u)
	VMOVUPS(u, out[4])
}

// wino4In emits wino4InColsAVX2 and wino4InColsAVX512: the F(4×4,3×3)
// input transform V = Bᵀ·d·B of n tiles whose 36 window elements are rows
// of d (element 6i+j of tile T at d[(6i+j)·ds + T]), written to x
// (element ξ of tile T at x[ξ·xs + T]), L = 8 or 16 tiles per iteration
// in whole vectors. Pass 1 writes Bᵀ·d (bt4 down each column) into x,
// pass 2 reads it back and writes (Bᵀ·d)·B (bt4 along each row) over it.
func wino4In(zmm bool) {
	t := tile{zmm: zmm}
	name := "wino4InCols" + t.suffix()
	TEXT(name, NOSPLIT, "func(d *float32, ds, n int, x *float32, xs int)")
	Pragma("noescape")
	Doc(name+" is wino4InColsGo for n ≥ 1 in whole vectors of "+fmt.Sprint(t.lanes())+" tiles:",
		"it reads d and writes x up to ⌈n/L⌉·L − 1 tiles past n in every row",
		"(L the vector width). ds and xs are in elements.")
	L := t.lanes()
	v := t.vreg
	Load(Param("d"), RSI)
	Load(Param("ds"), R8)
	SHLQ(Imm(2), R8)
	LEAQ(Mem{Base: R8, Index: R8, Scale: 2}, R9) // 3·ds
	ADDQ(R9, R9)                                 // 6·ds
	Load(Param("n"), RCX)
	Load(Param("x"), RDI)
	Load(Param("xs"), R10)
	SHLQ(Imm(2), R10)
	LEAQ(Mem{Base: R10, Index: R10, Scale: 2}, R11) // 3·xs
	ADDQ(R11, R11)                                  // 6·xs
	LEAQ(wino4Consts, RAX)
	c4, c5 := v(14), v(15)
	VBROADCASTSS(Mem{Base: RAX}, c4)
	VBROADCASTSS(Mem{Base: RAX, Disp: 4}, c5)
	d := [6]VecPhysical{v(0), v(1), v(2), v(3), v(4), v(5)}
	s := [6]VecPhysical{v(6), v(7), v(8), v(9), v(10), v(11)}

	chunk := name + "_chunk"
	Label(chunk)
	// Pass 1: column j of every tile, rows 6i+j of d → rows 6i+j of x.
	MOVQ(RSI, RAX) // d + j·ds
	MOVQ(RDI, RDX) // x + j·xs
	for j := 0; j < 6; j++ {
		in := rows6(RAX, R9, RBX)
		for i := 0; i < 6; i++ {
			VMOVUPS(in[i], d[i])
		}
		out := rows6(RDX, R11, R12)
		bt4V(d, c4, c5, s, out)
		ADDQ(R8, RAX)
		ADDQ(R10, RDX)
	}
	// Pass 2: row i, elements 6i..6i+5 of x, in place.
	MOVQ(RDI, RDX) // x + 6i·xs
	for i := 0; i < 6; i++ {
		row := rows6(RDX, R10, RBX)
		for j := 0; j < 6; j++ {
			VMOVUPS(row[j], d[j])
		}
		bt4V(d, c4, c5, s, row)
		ADDQ(R11, RDX)
	}
	ADDQ(Imm(uint64(4*L)), RSI)
	ADDQ(Imm(uint64(4*L)), RDI)
	SUBQ(Imm(uint64(L)), RCX)
	JG(LabelRef(chunk))
	VZEROUPPER()
	RET()
}

// at4V emits winograd4.go's at4 on vectors m[0..5] (kept), writing y0..y3
// to the addresses out[0..3]; c4, c8 hold 4 and 8; s0..s5 are scratch.
// The operations are at4's, in its order, none fused.
func at4V(m [6]VecPhysical, c4, c8 VecPhysical, s [6]VecPhysical, out [4]Mem) {
	a, b, c, e, t, u := s[0], s[1], s[2], s[3], s[4], s[5]
	VADDPS(m[2], m[1], a)
	VSUBPS(m[2], m[1], b)
	VADDPS(m[4], m[3], c)
	VSUBPS(m[4], m[3], e)
	// y0 = (m0 + a) + c
	VADDPS(a, m[0], t)
	VADDPS(c, t, t)
	VMOVUPS(t, out[0])
	// y1 = b + 2·e
	VADDPS(e, e, u)
	VADDPS(u, b, u)
	VMOVUPS(u, out[1])
	// y2 = a + 4·c
	VMULPS(c4, c, t)
	VADDPS(t, a, t)
	VMOVUPS(t, out[2])
	// y3 = (b + 8·e) + m5
	VMULPS(c8, e, u)
	VADDPS(u, b, u)
	VADDPS(m[5], u, u)
	VMOVUPS(u, out[3])
}

// wino4Out emits wino4OutColsAVX2 and wino4OutColsAVX512: the
// F(4×4,3×3) output transform Aᵀ·M·A of n tiles (element ξ of tile T at
// m[ξ·ms + T]), output element 4r+k of tile T written to y[(4r+k)·ys + T],
// L = 8 or 16 tiles per iteration in whole vectors. Pass 1 writes Aᵀ·M
// (at4 down each column j) over rows 6r+j of m (r < 4), pass 2 reads them
// back and writes (Aᵀ·M)·A (at4 along each row) to y.
func wino4Out(zmm bool) {
	t := tile{zmm: zmm}
	name := "wino4OutCols" + t.suffix()
	TEXT(name, NOSPLIT, "func(m *float32, ms, n int, y *float32, ys int)")
	Pragma("noescape")
	Doc(name+" is wino4OutColsGo for n ≥ 1 in whole vectors of "+fmt.Sprint(t.lanes())+" tiles:",
		"it reads m and writes y up to ⌈n/L⌉·L − 1 tiles past n in every row",
		"(L the vector width), and overwrites rows 6r+j (r < 4) of m with",
		"Aᵀ·M. ms and ys are in elements.")
	L := t.lanes()
	v := t.vreg
	Load(Param("m"), RSI)
	Load(Param("ms"), R8)
	SHLQ(Imm(2), R8)
	LEAQ(Mem{Base: R8, Index: R8, Scale: 2}, R9) // 3·ms
	ADDQ(R9, R9)                                 // 6·ms
	Load(Param("n"), RCX)
	Load(Param("y"), RDI)
	Load(Param("ys"), R10)
	SHLQ(Imm(2), R10)
	LEAQ(wino4Consts, RAX)
	c4, c8 := v(14), v(15)
	VBROADCASTSS(Mem{Base: RAX}, c4)
	VBROADCASTSS(Mem{Base: RAX, Disp: 8}, c8)
	mv := [6]VecPhysical{v(0), v(1), v(2), v(3), v(4), v(5)}
	s := [6]VecPhysical{v(6), v(7), v(8), v(9), v(10), v(11)}

	chunk := name + "_chunk"
	Label(chunk)
	// Pass 1: column j, rows 6i+j of m → rows 6r+j of m.
	MOVQ(RSI, RAX)
	for j := 0; j < 6; j++ {
		in := rows6(RAX, R9, RBX)
		for i := 0; i < 6; i++ {
			VMOVUPS(in[i], mv[i])
		}
		at4V(mv, c4, c8, s, [4]Mem{in[0], in[1], in[2], in[3]})
		ADDQ(R8, RAX)
	}
	// Pass 2: row r, elements 6r..6r+5 of m → rows 4r..4r+3 of y.
	MOVQ(RSI, RAX)
	MOVQ(RDI, RDX)
	for r := 0; r < 4; r++ {
		row := rows6(RAX, R8, RBX)
		for j := 0; j < 6; j++ {
			VMOVUPS(row[j], mv[j])
		}
		out := rows6(RDX, R10, R12)
		at4V(mv, c4, c8, s, [4]Mem(out[:4]))
		ADDQ(R9, RAX)
		LEAQ(Mem{Base: RDX, Index: R10, Scale: 4}, RDX)
	}
	ADDQ(Imm(uint64(4*L)), RSI)
	ADDQ(Imm(uint64(4*L)), RDI)
	SUBQ(Imm(uint64(L)), RCX)
	JG(LabelRef(chunk))
	VZEROUPPER()
	RET()
}

func wino4Kernels() {
	wino4ConstTable()
	wino4In(false)
	wino4In(true)
	wino4Out(false)
	wino4Out(true)
	wino4GatherTable()
	wino4Gather(6)
	wino4Gather(4)
	wino4GradOut(false)
	wino4GradOut(true)
}

// wino4GatherIdx holds the VPERMI2PS indices 4l + j (l < 8, j < 4) that
// pick column j of 8 consecutive 4-column groups from two zmm registers.
var wino4GatherIdx Mem

func wino4GatherTable() {
	wino4GatherIdx = GLOBL("wino4GatherIdx", RODATA|NOPTR)
	for j := 0; j < 4; j++ {
		for l := 0; l < 16; l++ {
			DATA(64*j+4*l, U32(uint32(4*(l%8)+j)))
		}
	}
}

// wino4Gather emits wino4GatherAVX512 (win = 6: the 6×6 input windows of
// wino4Gather) and wino4GatherOutAVX512 (win = 4: the 4×4 output-gradient
// tiles of wino4GatherOut) from one description: the copy loops, no AVX2
// twin (the AVX2 tier runs the Go loops; the bytes are the same).
func wino4Gather(win int) {
	name := "wino4GatherAVX512"
	if win == 4 {
		name = "wino4GatherOutAVX512"
	}
	TEXT(name, NOSPLIT, "func(p *float32, pw, th, tw int, d *float32, ds int)")
	Pragma("noescape")
	Doc(name+fmt.Sprintf(" is %s's loop for th, tw ≥ 1: d[(%di+j)·ds + ty·tw + tx]", map[int]string{6: "wino4Gather", 4: "wino4GatherOut"}[win], win),
		fmt.Sprintf("= p[(4ty+i)·pw + 4tx + j] (i, j < %d), 8 tiles at a time, the last tw mod 8 under a", win),
		"K mask. It writes d only there, and reads p up to "+map[int]string{6: "30", 4: "28"}[win]+" elements past the",
		"end of a row ("+map[int]string{6: "4tw+2", 4: "4tw"}[win]+" elements): the next row, or the caller's slack after",
		"the last. pw and ds are in elements.")
	Load(Param("p"), RSI)
	Load(Param("pw"), R8)
	SHLQ(Imm(2), R8)
	Load(Param("th"), R9)
	Load(Param("tw"), R10)
	Load(Param("d"), RDI)
	Load(Param("ds"), R11)
	SHLQ(Imm(2), R11)
	if win == 6 {
		LEAQ(Mem{Base: R11, Index: R11, Scale: 2}, R12)
		ADDQ(R12, R12) // 6·ds
	} else {
		MOVQ(R11, R12)
		SHLQ(Imm(2), R12) // 4·ds
	}
	LEAQ(wino4GatherIdx, RAX)
	for j := 0; j < 4; j++ {
		VMOVUPS(Mem{Base: RAX, Disp: 64 * j}, zmms[16+j])
	}
	body := func(masked bool) {
		VMOVUPS(Mem{Base: R14}, Z0)
		VMOVUPS(Mem{Base: R14, Disp: 64}, Z1)
		if win == 6 {
			VMOVUPS(Mem{Base: R14, Disp: 16}, Z2)
			VMOVUPS(Mem{Base: R14, Disp: 80}, Z3)
		}
		LEAQ(Mem{Base: R13, Index: R11, Scale: 2}, RAX)
		ADDQ(R11, RAX) // + 3·ds
		out := []Mem{
			{Base: R13}, {Base: R13, Index: R11, Scale: 1}, {Base: R13, Index: R11, Scale: 2},
			{Base: RAX}, {Base: R13, Index: R11, Scale: 4}, {Base: RAX, Index: R11, Scale: 2},
		}
		ys := []VecPhysical{Y4, Y5, Y6, Y7, Y8, Y9}
		for j := 0; j < win; j++ {
			z := zmms[4+j]
			VMOVAPS(zmms[16+j%4], z)
			if j < 4 {
				VPERMI2PS(Z1, Z0, z)
			} else {
				VPERMI2PS(Z3, Z2, z)
			}
			storeV(masked, ys[j], K1, out[j])
		}
	}
	rowT := name + "_ty"
	Label(rowT)
	MOVQ(RSI, RBX)
	MOVQ(RDI, RDX)
	for i := 0; i < win; i++ {
		chunk, tail, done := fmt.Sprintf("%s_c%d", name, i), fmt.Sprintf("%s_t%d", name, i), fmt.Sprintf("%s_d%d", name, i)
		MOVQ(RBX, R14)
		MOVQ(RDX, R13)
		MOVQ(R10, RCX)
		Label(chunk)
		CMPQ(RCX, Imm(8))
		JLT(LabelRef(tail))
		body(false)
		ADDQ(Imm(128), R14)
		ADDQ(Imm(32), R13)
		SUBQ(Imm(8), RCX)
		JMP(LabelRef(chunk))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(done))
		MOVL(U32(0xff), EAX)
		BZHIL(ECX, EAX, EAX)
		KMOVW(EAX, K1)
		body(true)
		Label(done)
		ADDQ(R8, RBX)
		ADDQ(R12, RDX)
	}
	// Next row of tiles: 4 rows of p down, tw tiles along d.
	LEAQ(Mem{Base: RSI, Index: R8, Scale: 4}, RSI)
	LEAQ(Mem{Base: RDI, Index: R10, Scale: 4}, RDI)
	DECQ(R9)
	JNZ(LabelRef(rowT))
	VZEROUPPER()
	RET()
}

// a4V emits winograd4_dw.go's a4 on vectors u[0..3] (kept), writing
// t0..t5 to the addresses out[0..5]; c4 holds 4; s0..s4 are scratch. The
// operations are a4's, in its order (the products by 4 are exact, so
// fusing them would not change a bit either).
func a4V(u [4]VecPhysical, c4 VecPhysical, s [5]VecPhysical, out [6]Mem) {
	p, q, r, e, t := s[0], s[1], s[2], s[3], s[4]
	VMOVUPS(u[0], out[0])
	VADDPS(u[2], u[0], p) // p = u0 + u2
	VADDPS(u[3], u[1], q) // q = u1 + u3
	VMULPS(c4, u[2], r)
	VADDPS(r, u[0], r) // r = u0 + 4·u2
	VMULPS(c4, u[3], e)
	VADDPS(e, u[1], e)
	VADDPS(e, e, e) // e = 2·(u1 + 4·u3)
	VADDPS(q, p, t)
	VMOVUPS(t, out[1]) // p + q
	VSUBPS(q, p, p)
	VMOVUPS(p, out[2]) // p − q
	VADDPS(e, r, q)
	VMOVUPS(q, out[3]) // r + e
	VSUBPS(e, r, r)
	VMOVUPS(r, out[4]) // r − e
	VMOVUPS(u[3], out[5])
}

// wino4GradOut emits wino4GradOutColsAVX2 and wino4GradOutColsAVX512: the
// weight gradient's output-gradient transform E = A·e·Aᵀ of n 4×4 tiles
// (element 4r+k of tile T at e[(4r+k)·es + T]), element ξ of E written to
// x[ξ·xs + T], L = 8 or 16 tiles per iteration in whole vectors. Pass 1
// writes A·e (a4 down each column k) to rows 6i+k of x (k < 4), pass 2
// reads them back and writes (A·e)·Aᵀ (a4 along each row) over row i.
func wino4GradOut(zmm bool) {
	t := tile{zmm: zmm}
	name := "wino4GradOutCols" + t.suffix()
	TEXT(name, NOSPLIT, "func(e *float32, es, n int, x *float32, xs int)")
	Pragma("noescape")
	Doc(name+" is wino4GradOutColsGo for n ≥ 1 in whole vectors of "+fmt.Sprint(t.lanes())+" tiles:",
		"it reads e and writes x up to ⌈n/L⌉·L − 1 tiles past n in every row",
		"(L the vector width). es and xs are in elements.")
	L := t.lanes()
	v := t.vreg
	Load(Param("e"), RSI)
	Load(Param("es"), R8)
	SHLQ(Imm(4), R8) // 4·es bytes: rows 4r+k, r = 0..3, of one column k
	Load(Param("n"), RCX)
	Load(Param("x"), RDI)
	Load(Param("xs"), R10)
	SHLQ(Imm(2), R10)
	LEAQ(Mem{Base: R10, Index: R10, Scale: 2}, R11) // 3·xs
	ADDQ(R11, R11)                                  // 6·xs
	Load(Param("es"), R9)
	SHLQ(Imm(2), R9) // es bytes
	LEAQ(wino4Consts, RAX)
	c4 := v(14)
	VBROADCASTSS(Mem{Base: RAX}, c4)
	u := [4]VecPhysical{v(0), v(1), v(2), v(3)}
	s := [5]VecPhysical{v(6), v(7), v(8), v(9), v(10)}

	chunk := name + "_chunk"
	Label(chunk)
	// Pass 1: column k, rows 4r+k of e → rows 6i+k of x.
	MOVQ(RSI, RAX) // e + k·es
	MOVQ(RDI, RDX) // x + k·xs
	for k := 0; k < 4; k++ {
		LEAQ(Mem{Base: RAX, Index: R8, Scale: 2}, RBX)
		VMOVUPS(Mem{Base: RAX}, u[0])
		VMOVUPS(Mem{Base: RAX, Index: R8, Scale: 1}, u[1])
		VMOVUPS(Mem{Base: RBX}, u[2])
		VMOVUPS(Mem{Base: RBX, Index: R8, Scale: 1}, u[3])
		a4V(u, c4, s, rows6(RDX, R11, R12))
		ADDQ(R9, RAX)
		ADDQ(R10, RDX)
	}
	// Pass 2: row i, elements 6i..6i+3 of x → 6i..6i+5, in place.
	MOVQ(RDI, RDX) // x + 6i·xs
	for i := 0; i < 6; i++ {
		row := rows6(RDX, R10, RBX)
		for k := 0; k < 4; k++ {
			VMOVUPS(row[k], u[k])
		}
		a4V(u, c4, s, row)
		ADDQ(R11, RDX)
	}
	ADDQ(Imm(uint64(4*L)), RSI)
	ADDQ(Imm(uint64(4*L)), RDI)
	SUBQ(Imm(uint64(L)), RCX)
	JG(LabelRef(chunk))
	VZEROUPPER()
	RET()
}
