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

// genResizeV emits resizeV<ISA>.
func genResizeV(a *isa) {
	G := a.lanes * 2 // int16 samples per vector: one group of outputs
	name := "resizeV" + a.name
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
		"round": table("genResizeVRound", [16]uint32{
			1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20,
			1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20}),
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
