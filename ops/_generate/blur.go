package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The vertical pass of the Gaussian blur that makes two output rows per
// sweep of the ring (cfBlurV2Ref). Each output lane is its first tap's
// product, then every further product rounded (VMULPS) and added (VADDPS)
// in tap order, no FMA, as cfBlurVRef; then rounded half to even and
// clamped to 0..255 (cfRound).
//
// On Zen 4 the AVX2 loop runs at about 0.9 cycles per tap and output vector
// against the 0.5 its two multiply and two add pipes allow: it is bound by
// the instructions it issues (loads, broadcasts, counters around each
// VMULPS/VADDPS pair), not by the pipes, so the ZMM loop, with the same
// instruction count per block for twice the lanes, gains.

// blurV2Vecs is the number of vectors per output row in one block:
// 2*blurV2Vecs accumulators, blurV2Vecs loaded rows and two weights.
const blurV2Vecs = 4

// genBlurV2 emits cfBlurV2<ISA>.
func genBlurV2(a *isa) {
	B := blurV2Vecs * a.lanes // outputs per row per block
	name := "cfBlurV2" + a.name
	TEXT(name, NOSPLIT, "func(dst0, dst1 *uint8, tmp *float32, offs *int32, w *float32, nw int, n int)")
	Pragma("noescape")
	Doc(name+" is cfBlurV2Ref over n outputs per row, n >= "+fmt.Sprint(B)+", nw >= 2 taps:",
		"dst0 from the rows at tmp+offs[0..nw-1], dst1 from those at",
		"tmp+offs[1..nw], every row loaded feeding both. "+fmt.Sprint(B)+" outputs per row per",
		"block; a last partial block is redone as the overlapping last "+fmt.Sprint(B)+".")
	dst0 := Load(Param("dst0"), GP64())
	dst1 := Load(Param("dst1"), GP64())
	tmp := Load(Param("tmp"), GP64())
	offs := Load(Param("offs"), GP64())
	w := Load(Param("w"), GP64())
	nw := Load(Param("nw"), GP64())
	n := Load(Param("n"), GP64())
	c := a.consts(packConsts(a))
	var zero VecVirtual
	if a.z {
		zero = ZMM()
		a.zero(zero)
	}
	vecs := func() (v [blurV2Vecs]VecVirtual) {
		for i := range v {
			v[i] = a.vec()
		}
		return v
	}
	acc0, acc1 := vecs(), vecs()
	ax, p, bx := GP64(), GP64(), GP64()
	// row sets p to the ring row of tap offs[i] (i a register or constant).
	row := func(i Op) {
		switch i := i.(type) {
		case Register:
			MOVLQSX(Mem{Base: offs, Index: i, Scale: 4}, ax)
		default:
			MOVLQSX(Mem{Base: offs, Disp: 4 * int(i.(U8))}, ax)
		}
		LEAQ(Mem{Base: tmp, Index: ax, Scale: 4}, p)
	}
	at := func(v int) Mem { return Mem{Base: p, Disp: v * a.bytes()} }
	bcast := func(m Mem) VecVirtual {
		r := a.vec()
		VBROADCASTSS(m, r)
		return r
	}
	// madd adds the rounded product x*wt to acc.
	madd := func(acc, x, wt VecVirtual) {
		t := a.vec()
		VMULPS(x, wt, t)
		VADDPS(t, acc, acc)
	}

	Label("blk")
	CMPQ(n, U32(B))
	JGE(LabelRef("go"))
	TESTQ(n, n)
	JZ(LabelRef("done"))
	// Fewer than B outputs left (n >= B at entry): redo the last B.
	MOVQ(U32(B), ax)
	SUBQ(n, ax)
	SUBQ(ax, dst0)
	SUBQ(ax, dst1)
	SHLQ(U8(2), ax)
	SUBQ(ax, tmp)
	MOVQ(U32(B), n)

	Label("go")
	// Row 0: dst0's first tap.
	row(U8(0))
	w0 := bcast(Mem{Base: w})
	for v := range acc0 {
		VMULPS(at(v), w0, acc0[v])
	}
	// Row 1: dst1's first tap, dst0's second.
	row(U8(1))
	w1 := bcast(Mem{Base: w, Disp: 4})
	x := vecs()
	for v := range x {
		VMOVUPS(at(v), x[v])
	}
	for v := range acc1 {
		VMULPS(x[v], w0, acc1[v])
	}
	for v := range acc0 {
		madd(acc0[v], x[v], w1)
	}
	MOVQ(U32(2), bx)

	Label("tap")
	// Row bx: dst1's tap bx-1, then dst0's tap bx while bx < nw.
	row(bx)
	wp := bcast(Mem{Base: w, Index: bx, Scale: 4, Disp: -4})
	x = vecs()
	for v := range x {
		VMOVUPS(at(v), x[v])
	}
	for v := range acc1 {
		madd(acc1[v], x[v], wp)
	}
	CMPQ(bx, nw)
	JGE(LabelRef("out"))
	wc := bcast(Mem{Base: w, Index: bx, Scale: 4})
	for v := range acc0 {
		madd(acc0[v], x[v], wc)
	}
	INCQ(bx)
	JMP(LabelRef("tap"))

	Label("out")
	if !a.z {
		zero = YMM()
		a.zero(zero)
	}
	c.keep("f255", "perm") // for the clamp and pack4, loaded here
	hi := c.reg("f255")
	for r, acc := range [2][blurV2Vecs]VecVirtual{acc0, acc1} {
		for _, v := range acc {
			a.round(0, v, v) // half to even
			VMAXPS(zero, v, v)
			VMINPS(hi, v, v)
			VCVTTPS2DQ(v, v)
		}
		for g := 0; g < blurV2Vecs; g += 4 {
			b := pack4(c, [4]VecVirtual(acc[g:g+4]))
			dst := Mem{Base: []Register{dst0, dst1}[r], Disp: g * a.lanes}
			if a.z {
				VMOVDQU32(b, dst)
			} else {
				VMOVDQU(b, dst)
			}
		}
	}
	ADDQ(U32(4*B), tmp)
	ADDQ(U32(B), dst0)
	ADDQ(U32(B), dst1)
	SUBQ(U32(B), n)
	JMP(LabelRef("blk"))

	Label("done")
	ret()
}
