package main

import (
	"fmt"
	"math/bits"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// tile describes one SGEMM register-tile kernel: mr rows by nv vectors of
// the tier's width. The AVX2 and AVX-512 kernels come from this one
// description; they differ in register file (16 ymm or 32 zmm) and in how
// edge tiles are masked (a mask table and VMASKMOVPS, or K registers).
type tile struct {
	mr, nv int
	zmm    bool
	// prefetchB: every p also prefetches (PREFETCHT1) the same row of the
	// next B panel, kc·nr floats on when B is packed (bStep = nr) and nr
	// floats on, the next columns of the row, when it is read in place. The
	// next kernel call on that panel then finds it in L2 rather than in
	// L3 or memory, which is what lets the AVX-512 plan read B in place
	// (packRuleAVX512). Needs R13, so tiles of at most 9 rows.
	prefetchB bool
	// lateC > 0: prefetch the C tile again when lateC values of p remain;
	// the lines the first prefetch brought in may have been pushed out of
	// L1 by the kc·(mr+nr) floats of A and B streamed since.
	lateC int
	// variant ends the kernel's name (tiles of one size with other options).
	variant string
}

func (t tile) lanes() int { return map[bool]int{false: 8, true: 16}[t.zmm] }
func (t tile) nr() int    { return t.nv * t.lanes() }
func (t tile) vbytes() int {
	return 4 * t.lanes()
}
func (t tile) suffix() string { return map[bool]string{false: "AVX2", true: "AVX512"}[t.zmm] }
func (t tile) name() string {
	return fmt.Sprintf("sgemmKernel%dx%d%s%s", t.mr, t.nr(), t.suffix(), t.variant)
}

// vreg is vector register i of the tile's width.
func (t tile) vreg(i int) VecPhysical {
	if t.zmm {
		return zmms[i]
	}
	return ymms[i]
}

var ymms = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
var zmms = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

// acc is the accumulator of row i, vector v: registers 4 upwards (0-1 hold
// a row of B, 2-3 the broadcast A values).
func (t tile) acc(i, v int) VecPhysical { return t.vreg(4 + i*t.nv + v) }

// aBases are the row pointers of A: rows 3j..3j+2 are (base j) + {0,1,2}·R8.
var aBases = []GPPhysical{RSI, R10, RBX, R13, R14}

// kernel emits the register-tile kernel for t. Reference: microKernelGo
// in gemm.go. Register use: CX kc, SI/R10/BX/R13/R14 A row pointers, R8 A
// row stride, R9 A step, DI B, R11 B step, DX C, R12 C row stride (bytes).
func kernel(t tile) {
	if 4+t.mr*t.nv > map[bool]int{false: 16, true: 32}[t.zmm] {
		panic("tile does not fit the register file")
	}
	if (t.mr+2)/3 > len(aBases) {
		panic("too many A rows")
	}
	TEXT(t.name(), NOSPLIT, "func(kc int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc, h, w int, alpha, beta float32, load int)")
	Pragma("noescape")
	doc := []string{
		fmt.Sprintf("%s is the %d×%d register-tile kernel of the %s plan; its reference", t.name(), t.mr, t.nr(), t.suffix()),
		"is microKernelGo (same arguments, strides in elements, load as 0 or 1).",
		fmt.Sprintf("It keeps the accumulator tile in %d vector registers, computes each", t.mr*t.nv),
		"element as a chain of fused multiply-adds over p = 0..kc-1 and stores",
		"c = fma(beta, c, alpha·acc) (alpha·acc alone when load is 0), the same",
		"operations in the same order on every tile size, so results are",
		"bit-identical to the other tiers' kernels. Edge tiles (h or w short)",
		"use masked loads and stores whose first lane is inside c, so no byte",
		"outside the h×w part of c is touched. kc must be ≥ 1.",
	}
	if t.prefetchB {
		doc = append(doc,
			"Each p also prefetches (PREFETCHT1) the same row of the next B panel:",
			"kc·nr floats on when B is packed (bStep = nr), else nr floats on.")
	}
	if t.lateC > 0 {
		doc = append(doc,
			fmt.Sprintf("When kc > %d it prefetches the C tile again once %d to %d values", t.lateC+3, t.lateC, t.lateC+3),
			"of p remain: the A and B streamed since the first prefetch may have",
			"pushed those lines out of L1.")
	}
	Doc(doc...)
	Load(Param("kc"), RCX)
	Load(Param("a"), RSI)
	Load(Param("aRow"), R8)
	SHLQ(Imm(2), R8)
	Load(Param("aStep"), R9)
	SHLQ(Imm(2), R9)
	Load(Param("b"), RDI)
	Load(Param("bStep"), R11)
	SHLQ(Imm(2), R11)
	nb := (t.mr + 2) / 3
	for j := 1; j < nb; j++ {
		Commentf("A rows %d..%d", 3*j, 3*j+2)
		LEAQ(Mem{Base: aBases[j-1], Index: R8, Scale: 2}, aBases[j])
		ADDQ(R8, aBases[j])
	}

	if t.prefetchB {
		if nb > 3 {
			panic("prefetchB needs R13, an A row pointer of tiles above 9 rows")
		}
		Comment("R13: from a row of this B panel to the same row of the next one:",
			"kc·nr floats when B is packed (bStep = nr), else nr floats (in place).")
		MOVQ(RCX, R13)
		SHLQ(Imm(uint64(bits.TrailingZeros(uint(4*t.nr())))), R13)
		CMPQ(R11, Imm(uint64(4*t.nr())))
		JEQ(LabelRef(t.name() + "_packedB"))
		MOVQ(U32(uint32(4*t.nr())), R13)
		Label(t.name() + "_packedB")
	}

	Comment("Prefetch the rows of the C tile (the stores at the end then hit L1);",
		"prefetches never fault, so rows beyond h are harmless.")
	Load(Param("c"), RDX)
	Load(Param("ldc"), R12)
	SHLQ(Imm(2), R12)
	prefetchC(t)

	for i := 0; i < t.mr; i++ {
		for v := 0; v < t.nv; v++ {
			a := t.acc(i, v)
			if t.zmm {
				VPXORD(a, a, a)
			} else {
				VXORPS(a, a, a)
			}
		}
	}

	if t.lateC > 0 {
		Commentf("Four p per iteration while more than %d remain, then prefetch C again", t.lateC+3)
		Comment("(not when kc is that short: the first prefetch is recent enough).")
		CMPQ(RCX, Imm(uint64(t.lateC+4)))
		JLT(LabelRef(t.name() + "_main"))
		Label(t.name() + "_loopC")
		for range 4 {
			step(t)
		}
		SUBQ(Imm(4), RCX)
		CMPQ(RCX, Imm(uint64(t.lateC+4)))
		JGE(LabelRef(t.name() + "_loopC"))
		Label(t.name() + "_lateC")
		prefetchC(t)
	}

	Label(t.name() + "_main")
	Comment("Four p per iteration while at least four remain, then one at a time.")
	CMPQ(RCX, Imm(4))
	JLT(LabelRef(t.name() + "_tail"))
	Label(t.name() + "_loop4")
	for range 4 {
		step(t)
	}
	SUBQ(Imm(4), RCX)
	CMPQ(RCX, Imm(4))
	JGE(LabelRef(t.name() + "_loop4"))
	TESTQ(RCX, RCX)
	JZ(LabelRef(t.name() + "_store"))
	Label(t.name() + "_tail")
	step(t)
	DECQ(RCX)
	JNZ(LabelRef(t.name() + "_tail"))

	Label(t.name() + "_store")
	Load(Param("h"), R13)
	Load(Param("w"), R14)
	Load(Param("load"), RAX)
	Comment("acc *= alpha")
	alpha, beta := t.vreg(0), t.vreg(1)
	VBROADCASTSS(addr(Param("alpha")), alpha)
	for i := 0; i < t.mr; i++ {
		for v := 0; v < t.nv; v++ {
			VMULPS(alpha, t.acc(i, v), t.acc(i, v))
		}
	}
	VBROADCASTSS(addr(Param("beta")), beta)

	full := t.name() + "_fullst"
	edge := t.name() + "_edge"
	done := t.name() + "_done"
	CMPQ(R13, Imm(uint64(t.mr)))
	JNE(LabelRef(edge))
	CMPQ(R14, Imm(uint64(t.nr())))
	JNE(LabelRef(edge))
	TESTQ(RAX, RAX)
	JZ(LabelRef(full))
	Comment("Full tile: c = fma(beta, c, acc)")
	for i := 0; i < t.mr; i++ {
		for v := 0; v < t.nv; v++ {
			m := Mem{Base: RDX, Disp: v * t.vbytes()}
			VFMADD231PS(m, beta, t.acc(i, v))
			VMOVUPS(t.acc(i, v), m)
		}
		if i+1 < t.mr {
			ADDQ(R12, RDX)
		}
	}
	VZEROUPPER()
	RET()
	Label(full)
	for i := 0; i < t.mr; i++ {
		for v := 0; v < t.nv; v++ {
			VMOVUPS(t.acc(i, v), Mem{Base: RDX, Disp: v * t.vbytes()})
		}
		if i+1 < t.mr {
			ADDQ(R12, RDX)
		}
	}
	VZEROUPPER()
	RET()

	Label(edge)
	edgeMasks(t)
	for _, ld := range []bool{true, false} {
		if ld {
			TESTQ(RAX, RAX)
			JZ(LabelRef(edge + "_st"))
		} else {
			Label(edge + "_st")
		}
		for i := 0; i < t.mr; i++ {
			rowEnd := fmt.Sprintf("%s_%v_row%d", edge, ld, i)
			for v := 0; v < t.nv; v++ {
				if v > 0 {
					// Vector v holds columns v·lanes and up: none when w ≤ v·lanes.
					CMPQ(R14, Imm(uint64(v*t.lanes())))
					JLE(LabelRef(rowEnd))
				}
				maskedRow(t, i, v, ld)
			}
			if t.nv > 1 {
				Label(rowEnd)
			}
			if i+1 < t.mr {
				CMPQ(R13, Imm(uint64(i+1)))
				JEQ(LabelRef(done))
				ADDQ(R12, RDX)
			}
		}
		if ld {
			JMP(LabelRef(done))
		}
	}
	Label(done)
	VZEROUPPER()
	RET()
}

// prefetchC prefetches the rows of the C tile at DX (row stride R12 bytes)
// through AX.
func prefetchC(t tile) {
	MOVQ(RDX, RAX)
	for i := 0; i < t.mr; i++ {
		for off := 0; off < 4*t.nr(); off += 64 {
			PREFETCHT0(Mem{Base: RAX, Disp: off})
		}
		PREFETCHT0(Mem{Base: RAX, Disp: 4*t.nr() - 1})
		if i+1 < t.mr {
			ADDQ(R12, RAX)
		}
	}
}

// step does one p of the tile: loads row p of B, broadcasts the mr values
// of column p of A two at a time, issues mr·nv independent FMAs, and
// advances A by R9 and B by R11 bytes.
func step(t tile) {
	for v := 0; v < t.nv; v++ {
		VMOVUPS(Mem{Base: RDI, Disp: v * t.vbytes()}, t.vreg(v))
	}
	for i := 0; i < t.mr; i++ {
		base := aBases[i/3]
		m := Mem{Base: base}
		if r := i % 3; r > 0 {
			m = Mem{Base: base, Index: R8, Scale: uint8(r)}
		}
		tmp := t.vreg(2 + i%2)
		VBROADCASTSS(m, tmp)
		for v := 0; v < t.nv; v++ {
			VFMADD231PS(t.vreg(v), tmp, t.acc(i, v))
		}
	}
	if t.prefetchB {
		for off := 0; off < 4*t.nr(); off += 64 {
			PREFETCHT1(Mem{Base: RDI, Index: R13, Scale: 1, Disp: off})
		}
	}
	for j := 0; j < (t.mr+2)/3; j++ {
		ADDQ(R9, aBases[j])
	}
	ADDQ(R11, RDI)
}

// edgeMasks sets the masks of a short row: AVX2, Y2 (lane < w) and Y3
// (lane + 8 < w) from maskTab; AVX-512, K1+v (lane + 16·v < w) by BZHI.
func edgeMasks(t tile) {
	if !t.zmm {
		if t.nv != 2 {
			panic("the AVX2 edge masks cover two vectors")
		}
		LEAQ(maskTab, RBX)
		MOVQ(U32(16), RCX)
		SUBQ(R14, RCX)
		VMOVUPS(Mem{Base: RBX, Index: RCX, Scale: 4}, Y2)
		VMOVUPS(Mem{Base: RBX, Index: RCX, Scale: 4, Disp: 32}, Y3)
		return
	}
	for v := 0; v < t.nv; v++ {
		// Used only when w > 16·v, so the count is positive; BZHI keeps
		// all 16 bits when it is 16 or more.
		MOVL(U32(0xffff), EBX)
		MOVQ(R14, RCX)
		if v > 0 {
			SUBQ(Imm(uint64(16*v)), RCX)
		}
		BZHIL(ECX, EBX, EBX)
		KMOVW(EBX, kregs[v])
	}
}

var kregs = []OpmaskPhysical{K1, K2, K3, K4, K5, K6}

// maskedRow stores vector v of row i of an edge tile under its mask, after
// c = fma(beta, c, acc) when ld; AVX2 stores a vector that is whole (all
// its columns below w) without the mask.
func maskedRow(t tile, i, v int, ld bool) {
	m := Mem{Base: RDX, Disp: v * t.vbytes()}
	acc, beta, tmp := t.acc(i, v), t.vreg(1), t.vreg(0)
	if t.zmm {
		k := kregs[v]
		if ld {
			VMOVUPS_Z(m, k, tmp)
			VFMADD231PS(tmp, beta, acc)
		}
		VMOVUPS(acc, k, m)
		return
	}
	mask := t.vreg(2 + v)
	masked := func() {
		if ld {
			VMASKMOVPS(m, mask, tmp)
			VFMADD231PS(tmp, beta, acc)
		}
		VMASKMOVPS(acc, mask, m)
	}
	// Vector v is whole when w ≥ 8·(v+1) (edge tiles short in h only, and
	// the first vector of rows 8 ≤ w < 16): it is loaded and stored plainly
	// then. VMASKMOVPS stores are microcoded (many µops) on AMD cores;
	// measured on Zen 4 the plain stores gave 1.06–1.10× on
	// the N = 27 shapes (conv1 and stem dX) of gemmbench, whose every row
	// tile has an 11-column edge; see docs/benchmarks-avx512.md.
	lbl := fmt.Sprintf("%s_%v_r%dv%d", t.name(), ld, i, v)
	CMPQ(R14, Imm(uint64(8*(v+1))))
	JL(LabelRef(lbl + "_m"))
	if ld {
		VFMADD231PS(m, beta, acc)
	}
	VMOVUPS(acc, m)
	JMP(LabelRef(lbl + "_n"))
	Label(lbl + "_m")
	masked()
	Label(lbl + "_n")
}

var maskTab Mem

// maskTable emits sixteen all-ones lanes followed by sixteen zero lanes:
// loading 8 lanes at maskTab + 4·(16-w) gives the mask "lane < w", and 32
// bytes further on the mask "lane + 8 < w".
func maskTable() {
	maskTab = GLOBL("maskTab", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(8*i, U64(map[bool]uint64{true: ^uint64(0), false: 0}[i < 8]))
	}
}
