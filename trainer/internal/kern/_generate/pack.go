package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	"github.com/mmcloughlin/avo/gotypes"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func addr(c gotypes.Component) Mem {
	b, err := c.Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// packA6 emits packA6AVX2, ported from the hand-written AVX2 file: six rows
// of untransposed A, eight columns at a time, stored as 6-float columns
// with 32-byte stores whose last two floats the next store overwrites.
func packA6() {
	TEXT("packA6AVX2", NOSPLIT, "func(kc8 int, a *float32, lda int, dst *float32)")
	Pragma("noescape")
	Doc(
		"packA6AVX2 packs columns 0..kc8-1 (kc8 a positive multiple of 8) of six",
		"rows of A (row stride lda elements) into dst as kc8 groups of six floats:",
		"dst[p*6+r] = a[r*lda+p]. Reference: the full-panel loop of packABlock. Eight",
		"columns at a time: load 8 floats of each row, transpose the 6×8 block in",
		"registers, and store each 6-float column with a 32-byte store whose last",
		"two floats the next store overwrites, so the final store writes two",
		"floats past dst[kc8*6-1]: the caller leaves room for them.",
	)
	Load(Param("kc8"), RCX)
	Load(Param("a"), RSI)
	Load(Param("lda"), R8)
	SHLQ(Imm(2), R8)
	Load(Param("dst"), RDI)
	LEAQ(Mem{Base: RSI, Index: R8, Scale: 2}, R10)
	ADDQ(R8, R10)
	Label("packA6loop")
	VMOVUPS(Mem{Base: RSI}, Y0)
	VMOVUPS(Mem{Base: RSI, Index: R8, Scale: 1}, Y1)
	VMOVUPS(Mem{Base: RSI, Index: R8, Scale: 2}, Y2)
	VMOVUPS(Mem{Base: R10}, Y3)
	VMOVUPS(Mem{Base: R10, Index: R8, Scale: 1}, Y4)
	VMOVUPS(Mem{Base: R10, Index: R8, Scale: 2}, Y5)
	VUNPCKLPS(Y1, Y0, Y6)
	VUNPCKHPS(Y1, Y0, Y7)
	VUNPCKLPS(Y3, Y2, Y8)
	VUNPCKHPS(Y3, Y2, Y9)
	VUNPCKLPS(Y5, Y4, Y10)
	VUNPCKHPS(Y5, Y4, Y11)
	VSHUFPS(Imm(0x44), Y8, Y6, Y0)
	VSHUFPS(Imm(0xEE), Y8, Y6, Y1)
	VSHUFPS(Imm(0x44), Y9, Y7, Y2)
	VSHUFPS(Imm(0xEE), Y9, Y7, Y3)
	VSHUFPS(Imm(0xEE), Y10, Y10, Y12)
	VSHUFPS(Imm(0xEE), Y11, Y11, Y13)
	cols := []struct {
		lo, hi VecPhysical
	}{{Y0, Y10}, {Y1, Y12}, {Y2, Y11}, {Y3, Y13}}
	for half, sel := range []uint64{0x20, 0x31} {
		for j, c := range cols {
			VPERM2F128(Imm(sel), c.hi, c.lo, Y14)
			VMOVUPS(Y14, Mem{Base: RDI, Disp: 24 * (4*half + j)})
		}
	}
	ADDQ(Imm(32), RSI)
	ADDQ(Imm(32), R10)
	ADDQ(Imm(192), RDI)
	SUBQ(Imm(8), RCX)
	JNZ(LabelRef("packA6loop"))
	VZEROUPPER()
	RET()
}

// trans8 transposes the 8×8 block in Y0..Y7 (row i in Yi) and stores
// column j (8 floats) at dst + off + stride·j, using Y8..Y15 as scratch.
func trans8(dst GPPhysical, off, stride int) { trans8Masked(dst, off, stride, nil) }

// trans8Masked is trans8 that, when mask is not nil, ANDs each column with
// the 8 lanes at mask before storing it (Y9 holds them).
func trans8Masked(dst GPPhysical, off, stride int, mask *Mem) {
	VUNPCKLPS(Y1, Y0, Y8) // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS(Y1, Y0, Y9) // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS(Y3, Y2, Y10)
	VUNPCKHPS(Y3, Y2, Y11)
	VUNPCKLPS(Y5, Y4, Y12)
	VUNPCKHPS(Y5, Y4, Y13)
	VUNPCKLPS(Y7, Y6, Y14)
	VUNPCKHPS(Y7, Y6, Y15)
	VSHUFPS(Imm(0x44), Y10, Y8, Y0) // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS(Imm(0xee), Y10, Y8, Y1)
	VSHUFPS(Imm(0x44), Y11, Y9, Y2)
	VSHUFPS(Imm(0xee), Y11, Y9, Y3)
	VSHUFPS(Imm(0x44), Y14, Y12, Y4) // e0 f0 g0 h0 | e4 f4 g4 h4
	VSHUFPS(Imm(0xee), Y14, Y12, Y5)
	VSHUFPS(Imm(0x44), Y15, Y13, Y6)
	VSHUFPS(Imm(0xee), Y15, Y13, Y7)
	if mask != nil {
		VMOVUPS(*mask, Y9)
	}
	for half, sel := range []uint64{0x20, 0x31} {
		for j := 0; j < 4; j++ {
			VPERM2F128(Imm(sel), ymms[4+j], ymms[j], Y8)
			if mask != nil {
				VANDPS(Y9, Y8, Y8)
			}
			VMOVUPS(Y8, Mem{Base: dst, Disp: off + stride*(4*half+j)})
		}
	}
}

// load8 loads 8 floats from each of the eight rows at base, row stride R8
// bytes (R9 = 3·R8, far = base + 4 rows).
func load8(base, far GPPhysical) {
	VMOVUPS(Mem{Base: base}, Y0)
	VMOVUPS(Mem{Base: base, Index: R8, Scale: 1}, Y1)
	VMOVUPS(Mem{Base: base, Index: R8, Scale: 2}, Y2)
	VMOVUPS(Mem{Base: base, Index: R9, Scale: 1}, Y3)
	VMOVUPS(Mem{Base: far}, Y4)
	VMOVUPS(Mem{Base: far, Index: R8, Scale: 1}, Y5)
	VMOVUPS(Mem{Base: far, Index: R8, Scale: 2}, Y6)
	VMOVUPS(Mem{Base: far, Index: R9, Scale: 1}, Y7)
}

// packAT emits the packer of a full mr-row panel (mr ≥ 8) of untransposed
// A: 8×8 transposes of row blocks starting at 0, 8, … and mr-8 (the last
// block overlaps the one before it and rewrites the same values), so
// nothing is written outside the panel.
func packAT(mr int, suffix string) {
	name := fmt.Sprintf("packA%d%s", mr, suffix)
	TEXT(name, NOSPLIT, "func(kc8 int, a *float32, lda int, dst *float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s packs columns 0..kc8-1 (kc8 a positive multiple of 8) of %d", name, mr),
		fmt.Sprintf("rows of A (row stride lda elements) into dst: dst[p*%d+r] = a[r*lda+p].", mr),
		"Reference: the full-panel loop of packABlock. It writes nothing past",
		fmt.Sprintf("dst[kc8*%d-1] (row blocks of 8 by 8×8 transposes; the last block", mr),
		"overlaps the one before it).",
	)
	var starts []int
	for r := 0; r+8 <= mr; r += 8 {
		starts = append(starts, r)
	}
	if mr%8 != 0 {
		starts = append(starts, mr-8)
	}
	if 2*len(starts) > 4 {
		panic("packAT: too many row blocks")
	}
	bases := []GPPhysical{R10, R11, R12, R13}
	Load(Param("kc8"), RCX)
	Load(Param("a"), RSI)
	Load(Param("lda"), R8)
	SHLQ(Imm(2), R8)
	LEAQ(Mem{Base: R8, Index: R8, Scale: 2}, R9)
	Load(Param("dst"), RDI)
	for b, r0 := range starts {
		MOVQ(U32(uint32(r0)), RAX)
		IMULQ(R8, RAX)
		LEAQ(Mem{Base: RSI, Index: RAX, Scale: 1}, bases[2*b])
		LEAQ(Mem{Base: bases[2*b], Index: R8, Scale: 4}, bases[2*b+1])
	}
	Label(name + "loop")
	for b, r0 := range starts {
		load8(bases[2*b], bases[2*b+1])
		trans8(RDI, 4*r0, 4*mr)
	}
	for b := range starts {
		ADDQ(Imm(32), bases[2*b])
		ADDQ(Imm(32), bases[2*b+1])
	}
	ADDQ(U32(uint32(32*mr)), RDI)
	SUBQ(Imm(8), RCX)
	JNZ(LabelRef(name + "loop"))
	VZEROUPPER()
	RET()
}

// packAEdge emits the packer of up to eight rows of an edge panel (fewer
// rows than the tile's mr) of untransposed A, for panels of mr-float
// columns. Row i ≥ rows is read from row rows-1 (never past the last row)
// and stored as zeros, by one 8×8 transpose per eight columns with 8-float
// stores. A block starting at row r0 of the panel writes r0+8-mr floats
// past each column into the next column's first rows (and past the last
// column), which the caller rewrites by packing row block 0 last.
func packAEdge(mr int, suffix string) {
	name := fmt.Sprintf("packAEdge%d%s", mr, suffix)
	TEXT(name, NOSPLIT, "func(kc8 int, a *float32, lda, rows int, dst *float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s packs columns 0..kc8-1 (kc8 a positive multiple of 8) of", name),
		"rows 0..rows-1 (1 ≤ rows ≤ 8) of A (row stride lda elements) into dst",
		fmt.Sprintf("as columns of %d floats: dst[p*%d+r] = a[r*lda+p] for r < rows, 0 for", mr, mr),
		fmt.Sprintf("rows ≤ r < 8. Each column is one 8-float store, so with %d-float", mr),
		fmt.Sprintf("columns it writes max(0, 8-%d) floats past each column (and past", mr),
		"the last one). Reference: the edge-panel loop of packABlock.",
	)
	offs := []GPPhysical{RAX, RBX, RDX, R9, R10, R11, R12}
	Load(Param("kc8"), RCX)
	Load(Param("a"), RSI)
	Load(Param("lda"), R8)
	SHLQ(Imm(2), R8)
	Load(Param("rows"), R14)
	Load(Param("dst"), RDI)
	DECQ(R14)
	Comment("Row i is read at offset min(i, rows-1)·lda.")
	for i, r := range offs {
		MOVQ(U32(uint32(i+1)), r)
		CMPQ(r, R14)
		CMOVQGT(R14, r)
		IMULQ(R8, r)
	}
	Comment("R13 = the mask \"lane < rows\": maskTab + 4·(16-rows).")
	NEGQ(R14)
	ADDQ(Imm(15), R14)
	LEAQ(maskTab, R13)
	LEAQ(Mem{Base: R13, Index: R14, Scale: 4}, R13)
	mask := Mem{Base: R13}
	Label(name + "loop")
	VMOVUPS(Mem{Base: RSI}, Y0)
	for i, r := range offs {
		VMOVUPS(Mem{Base: RSI, Index: r, Scale: 1}, ymms[i+1])
	}
	trans8Masked(RDI, 0, 4*mr, &mask)
	ADDQ(Imm(32), RSI)
	ADDQ(U32(uint32(32*mr)), RDI)
	SUBQ(Imm(8), RCX)
	JNZ(LabelRef(name + "loop"))
	VZEROUPPER()
	RET()
}

// packB emits the copy of a full nr-column panel of untransposed B.
func packB(t tile) {
	name := fmt.Sprintf("packB%d%s", t.nr(), t.suffix())
	TEXT(name, NOSPLIT, "func(kc int, b *float32, ldb int, dst *float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s copies %d floats from each of kc ≥ 1 rows of B (row stride", name, t.nr()),
		fmt.Sprintf("ldb elements) into dst, contiguously: dst[p*%d+j] = b[p*ldb+j].", t.nr()),
		"Reference: the untransposed loop of packBBlock.",
	)
	Load(Param("kc"), RCX)
	Load(Param("b"), RSI)
	Load(Param("ldb"), R8)
	SHLQ(Imm(2), R8)
	Load(Param("dst"), RDI)
	Label(name + "loop")
	for v := 0; v < t.nv; v++ {
		VMOVUPS(Mem{Base: RSI, Disp: v * t.vbytes()}, t.vreg(v))
	}
	for v := 0; v < t.nv; v++ {
		VMOVUPS(t.vreg(v), Mem{Base: RDI, Disp: v * t.vbytes()})
	}
	ADDQ(R8, RSI)
	ADDQ(U32(uint32(4*t.nr())), RDI)
	DECQ(RCX)
	JNZ(LabelRef(name + "loop"))
	VZEROUPPER()
	RET()
}

// packBT emits the packer of a full nr-column panel of transposed B
// (column j of op(B) is storage row j): 8×8 transposes of nr/8 row blocks.
func packBT(nr int, suffix string) {
	name := fmt.Sprintf("packB%dT%s", nr, suffix)
	TEXT(name, NOSPLIT, "func(kc8 int, b *float32, ldb int, dst *float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s packs a full %d-column panel of op(B) = Bᵀ, where column j", name, nr),
		"of op(B) is storage row j of b (stride ldb elements):",
		fmt.Sprintf("dst[p*%d+j] = b[j*ldb+p] for p < kc8, a positive multiple of 8, by", nr),
		"8×8 register transposes. Reference: the transposed loop of packBBlock.",
	)
	Load(Param("kc8"), RCX)
	Load(Param("b"), RSI)
	Load(Param("ldb"), R8)
	SHLQ(Imm(2), R8)
	LEAQ(Mem{Base: R8, Index: R8, Scale: 2}, R9)
	Load(Param("dst"), RDI)
	Label(name + "loop")
	MOVQ(RSI, R10)
	for blk := 0; blk < nr/8; blk++ {
		LEAQ(Mem{Base: R10, Index: R8, Scale: 4}, R11)
		load8(R10, R11)
		trans8(RDI, 32*blk, 4*nr)
		if blk+1 < nr/8 {
			LEAQ(Mem{Base: R11, Index: R8, Scale: 4}, R10)
		}
	}
	ADDQ(Imm(32), RSI)
	ADDQ(U32(uint32(32*nr)), RDI)
	SUBQ(Imm(8), RCX)
	JNZ(LabelRef(name + "loop"))
	VZEROUPPER()
	RET()
}
