package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The vertical pass of the bilinear resampler (resizeVRef): integer, so
// every tier gives the same bytes by construction:
//
//	acc = 1<<20 + Σ_j w[j]·mid[j*stride+i]   (int32, no overflow)
//	dst[i] = clamp(acc>>21, 0, 255)
//
// Taps go in pairs: the rows j and j+1 interleaved word by word
// (VPUNPCKLWD/HWD, in-lane) meet the broadcast weight pair (w[j], w[j+1])
// in one VPMADDWD; VPACKSSDW undoes the in-lane interleave, VPACKUSWB
// clamps to bytes and a qword permutation gathers each lane's 8 bytes.

// genResizeV emits resizeV<ISA>, or with vnni (AVX-512 only)
// resizeVVNNIAVX512, which adds each product pair to its sum with one
// VPDPWSSD instead of VPMADDWD and VPADDD (the same int32 sums).
func genResizeV(a *isa, vnni bool) {
	G := a.lanes * 2 // int16 samples per vector: one group of outputs
	name := "resizeV" + a.name
	if vnni {
		name = "resizeVVNNI" + a.name
	}
	TEXT(name, NOSPLIT, "func(dst *uint8, mid *int16, stride int, w *int16, k, m int)")
	Pragma("noescape")
	Doc(name+" is resizeVRef over the first m samples (m a multiple of "+fmt.Sprint(G)+") of one",
		"output row, k even: two groups of "+fmt.Sprint(G)+" samples per column while they last,",
		"then one.")
	dst := Load(Param("dst"), GP64())
	mid := Load(Param("mid"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(1), stride) // bytes
	w := Load(Param("w"), GP64())
	k := Load(Param("k"), GP64())
	m := Load(Param("m"), GP64())
	c := a.consts(map[string]Mem{
		"round": splat("genResizeVRound", 1<<20),                              // int32 1<<20 in every lane
		"qperm": table("genResizeVQPerm", [16]uint32{0, 0, 2, 0, 4, 0, 6, 0}), // qwords 0 2 4 6 (AVX-512)
	})
	c.keep("round")
	i := GP64()
	XORQ(i, i)
	col := func(groups int, label string) {
		next := GP64()
		Label(label)
		LEAQ(Mem{Base: i, Disp: groups * G}, next)
		CMPQ(next, m)
		if groups == 2 {
			JGT(LabelRef("col1"))
		} else {
			JGT(LabelRef("done"))
		}
		acc := make([]VecVirtual, 2*groups)
		for j := range acc {
			acc[j] = a.vec()
			if a.z {
				VMOVDQA32(c.reg("round"), acc[j])
			} else {
				VMOVDQA(c.reg("round"), acc[j])
			}
		}
		p, wp, taps := GP64(), GP64(), GP64()
		LEAQ(Mem{Base: mid, Index: i, Scale: 2}, p)
		MOVQ(w, wp)
		MOVQ(k, taps)
		Label(label + "tap")
		wv := a.vec()
		VPBROADCASTD(Mem{Base: wp}, wv)
		for g := 0; g < groups; g++ {
			r0, r1 := a.vec(), a.vec()
			load := func(m Mem, r VecVirtual) {
				if a.z {
					VMOVDQU16(m, r)
				} else {
					VMOVDQU(m, r)
				}
			}
			load(Mem{Base: p, Disp: g * a.bytes()}, r0)
			load(Mem{Base: p, Index: stride, Scale: 1, Disp: g * a.bytes()}, r1)
			lo, hi := a.vec(), a.vec()
			VPUNPCKLWD(r1, r0, lo)
			VPUNPCKHWD(r1, r0, hi)
			if vnni {
				VPDPWSSD(wv, lo, acc[2*g])
				VPDPWSSD(wv, hi, acc[2*g+1])
				continue
			}
			VPMADDWD(wv, lo, lo)
			VPMADDWD(wv, hi, hi)
			VPADDD(lo, acc[2*g], acc[2*g])
			VPADDD(hi, acc[2*g+1], acc[2*g+1])
		}
		LEAQ(Mem{Base: p, Index: stride, Scale: 2}, p)
		ADDQ(U8(4), wp)
		SUBQ(U8(2), taps)
		JNZ(LabelRef(label + "tap"))
		for g := 0; g < groups; g++ {
			lo, hi := acc[2*g], acc[2*g+1]
			VPSRAD(U8(21), lo, lo)
			VPSRAD(U8(21), hi, hi)
			VPACKSSDW(hi, lo, lo)
			VPACKUSWB(lo, lo, lo)
			out := Mem{Base: dst, Index: i, Scale: 1, Disp: g * G}
			if a.z {
				VPERMQ(lo, c.reg("qperm"), lo)
				VMOVDQU(lo.AsY(), out)
			} else {
				VPERMQ(U8(0x08), lo, lo)
				VMOVDQU(lo.AsX(), out)
			}
		}
		ADDQ(U32(groups*G), i)
		JMP(LabelRef(label))
	}
	col(2, "col2")
	col(1, "col1")
	Label("done")
	ret()
}

// genResizeH3Q4x2 emits resizeH3Q4x2AVX512: the horizontal pass of two RGB
// rows for plans with k == 4, four outputs per step, on AVX-512 with VBMI
// and VNNI. One masked 64-byte load per row, from the window of A or D
// (whichever starts first), holds the windows of the four outputs A-D;
// two VPERMB with the plan's byte indices (resizePlan.q4) put, in 128-bit
// lane X, output X's taps 0 and 1, then its taps 2 and 3, as word pairs
// per channel (r, g, b, 0: the AVX2 kernel's VPSHUFB layout); two VPDPWSSD
// with the paired weights add both pairs' products to 64 in each channel's
// int32; then >>7 and a saturating pack of both rows, as resizeHRef, and
// one VPERMB that packs each row's 12 int16 together for one store.
//
// With k == 2 (resizeH3P4x2AVX512) there is one pair of taps: one VPERMB
// and one VPDPWSSD per row.
func genResizeH3Q4x2(k int) {
	name := map[int]string{2: "resizeH3P4x2AVX512", 4: "resizeH3Q4x2AVX512"}[k]
	TEXT(name, NOSPLIT, "func(dst0, dst1 *int16, src0, src1 *uint8, nb int, start *int32, q4 *int32, groups int)")
	Pragma("noescape")
	Doc(name+" is resizeHRef (c == 3, k == "+fmt.Sprint(k)+") on the rows src0 and src1",
		"for the first 4*groups outputs, with the plan's start and q4; it reads the",
		"rows' first nb bytes only and writes the 12*groups int16 of each output only.")
	dst0 := Load(Param("dst0"), GP64())
	dst1 := Load(Param("dst1"), GP64())
	src0 := Load(Param("src0"), GP64())
	src1 := Load(Param("src1"), GP64())
	nb := Load(Param("nb"), GP64())
	start := Load(Param("start"), GP64())
	q4 := Load(Param("q4"), GP64())
	g := Load(Param("groups"), GP64())
	// kz: the bytes VPERMB keeps, the low byte of words 0-5 of each lane.
	kzr := GP64()
	MOVQ(U64(0x0555055505550555), kzr)
	kz := K()
	KMOVQ(kzr, kz)
	round := ZMM()
	c64 := GP32()
	MOVL(U32(64), c64)
	VPBROADCASTD(c64, round)
	ax, rem, lim := GP64(), GP64(), GP64()
	MOVQ(U32(64), lim)
	// cat: byte 6X+j of row 0 from lane X's byte j (j < 6), of row 1 (at
	// 32) from its byte 8+j.
	var cb [64]uint8
	for x := 0; x < 4; x++ {
		for j := 0; j < 6; j++ {
			cb[6*x+j] = uint8(16*x + j)
			cb[32+6*x+j] = uint8(16*x + 8 + j)
		}
	}
	var cd [16]uint32
	for i := range cd {
		cd[i] = uint32(cb[4*i]) | uint32(cb[4*i+1])<<8 | uint32(cb[4*i+2])<<16 | uint32(cb[4*i+3])<<24
	}
	cat := ZMM()
	VMOVDQU64(table("genResizeQ4Cat", cd), cat)
	k24r := GP64()
	MOVQ(U32(1<<24-1), k24r)
	k24 := K()
	KMOVQ(k24r, k24)
	Label("grp")
	TESTQ(g, g)
	JZ(LabelRef("done"))
	// The first byte of the window of A or D, whichever starts first.
	MOVLQSX(Mem{Base: start}, ax)
	MOVLQSX(Mem{Base: start, Disp: 12}, rem)
	CMPQ(ax, rem)
	CMOVQGT(rem, ax)
	LEAQ(Mem{Base: ax, Index: ax, Scale: 2}, ax)
	MOVQ(nb, rem)
	SUBQ(ax, rem)
	CMPQ(rem, lim)
	CMOVQGT(lim, rem) // min(bytes left in the row, 64): BZHI reads 8 bits of it
	m := GP64()
	MOVQ(I64(-1), m)
	BZHIQ(rem, m, m)
	kl := K()
	KMOVQ(m, kl)
	idx := make([]VecVirtual, k/2)
	for h := range idx {
		idx[h] = ZMM()
		VMOVDQU64(Mem{Base: q4, Disp: 64 * h}, idx[h])
	}
	var acc [2]VecVirtual
	for r, src := range []Register{src0, src1} {
		win := ZMM()
		VMOVDQU8_Z(Mem{Base: src, Index: ax, Scale: 1}, kl, win)
		acc[r] = ZMM()
		VMOVDQA64(round, acc[r])
		for h := range idx {
			x := ZMM()
			VPERMB_Z(win, idx[h], kz, x)
			VPDPWSSD(Mem{Base: q4, Disp: 32*k + 64*h}, x, acc[r])
		}
		VPSRAD(U8(7), acc[r], acc[r])
	}
	// Lane X: row 0's output X (4 words), then row 1's; VPERMB joins each
	// row's 4x3 words into 24 bytes (row 0 at byte 0, row 1 at 32), stored
	// under a 24-byte mask.
	VPACKSSDW(acc[1], acc[0], acc[0])
	VPERMB(acc[0], cat, acc[0])
	VMOVDQU8(acc[0].AsY(), k24, Mem{Base: dst0})
	y := YMM()
	VEXTRACTI64X4(U8(1), acc[0], y)
	VMOVDQU8(y, k24, Mem{Base: dst1})
	ADDQ(U8(24), dst0)
	ADDQ(U8(24), dst1)
	ADDQ(U8(16), start)
	ADDQ(U32(64*k), q4)
	DECQ(g)
	JMP(LabelRef("grp"))
	Label("done")
	ret()
}
