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

// The AVX2 horizontal pass, the single-row vertical pass and the widening
// of bytes to float32 (cfBlurHRef, cfBlurVRef, cfWidenRef), ported
// instruction for instruction from the hand-written blur_amd64.s they
// replace. Lane by lane the passes compute the same float32 sums as their
// references: first tap multiplied, every further tap's product rounded
// and then added, in tap order (VMULPS then VADDPS, no FMA). They have no
// AVX-512 twin: none of the ZMM formulations tried for the horizontal pass
// measured faster (docs/benchmarks-avx512-ops.md), and the vertical pass
// runs on two rows at a time (cfBlurV2) wherever it can.

// blurMulAdd emits one further tap of a blur pass's block: acc[v] +=
// rounded x(v)*wt for every accumulator, in groups of four vectors: four
// VMULPS into temporaries, then their four VADDPS (enough independent add
// chains in flight to hide the VADDPS latency).
func blurMulAdd(acc []VecVirtual, wt VecVirtual, x func(v int) Op) {
	for g := 0; g < len(acc); g += 4 {
		n := min(4, len(acc)-g)
		t := make([]VecVirtual, n)
		for i := range t {
			t[i] = YMM()
			VMULPS(x(g+i), wt, t[i])
		}
		for i := range t {
			VADDPS(t[i], acc[g+i], acc[g+i])
		}
	}
}

// genBlurH emits cfBlurHAVX2.
func genBlurH() {
	TEXT("cfBlurHAVX2", NOSPLIT, "func(dst, pad *float32, n int, w *float32, nw int, step int)")
	Pragma("noescape")
	Doc("cfBlurHAVX2 is cfBlurHRef over n outputs (n a multiple of 8) with nw taps;",
		"step is C*4, the byte distance between taps. 64 outputs per block in",
		"eight accumulators (enough independent add chains to hide the VADDPS",
		"latency); fewer than 64 left: a 32-wide block while 32 are left, then,",
		"if n >= 32, the last 32 outputs once more as one overlapping 32-wide",
		"block (it rewrites some outputs with the same values) instead of the",
		"latency-bound 8-wide loop, which only n < 32 takes.")
	dst := Load(Param("dst"), GP64())
	pad := Load(Param("pad"), GP64())
	n := Load(Param("n"), GP64())
	w := Load(Param("w"), GP64())
	nw := Load(Param("nw"), GP64())
	step := Load(Param("step"), GP64())
	n0 := GP64()
	MOVQ(n, n0) // n, to know whether an overlapping last block fits

	Label("bh64")
	CMPQ(n, U8(64))
	JGE(LabelRef("bh64go"))
	TESTQ(n, n)
	JZ(LabelRef("bhdone"))
	CMPQ(n, U8(32))
	JGE(LabelRef("bh32go"))
	CMPQ(n0, U8(32))
	JLT(LabelRef("bh8"))
	ax := GP64()
	MOVQ(U32(32), ax)
	SUBQ(n, ax)
	SHLQ(U8(2), ax)
	SUBQ(ax, pad)
	SUBQ(ax, dst)
	MOVQ(U32(32), n)
	JMP(LabelRef("bh32go"))

	// block emits the block of nacc vectors at label name+"go", looping
	// back to next (where the outputs left are counted) when done.
	block := func(name string, nacc int, next string) {
		Label(name + "go")
		acc := make([]VecVirtual, nacc)
		wt := YMM()
		VBROADCASTSS(Mem{Base: w}, wt)
		for v := range acc {
			acc[v] = YMM()
			VMULPS(Mem{Base: pad, Disp: 32 * v}, wt, acc[v])
		}
		p, wp, taps := GP64(), GP64(), GP64()
		LEAQ(Mem{Base: pad, Index: step, Scale: 1}, p)
		LEAQ(Mem{Base: w, Disp: 4}, wp)
		MOVQ(nw, taps)
		DECQ(taps)
		JZ(LabelRef(name + "store"))

		Label(name + "tap")
		wt = YMM()
		VBROADCASTSS(Mem{Base: wp}, wt)
		blurMulAdd(acc, wt, func(v int) Op { return Mem{Base: p, Disp: 32 * v} })
		ADDQ(step, p)
		ADDQ(U8(4), wp)
		DECQ(taps)
		JNZ(LabelRef(name + "tap"))

		Label(name + "store")
		for v := range acc {
			VMOVUPS(acc[v], Mem{Base: dst, Disp: 32 * v})
		}
		ADDQ(U32(32*nacc), pad)
		ADDQ(U32(32*nacc), dst)
		SUBQ(U8(8*nacc), n)
		JMP(LabelRef(next))
	}
	block("bh64", 8, "bh64")
	// Four accumulators: 32 outputs, same sums as the 64-wide block.
	block("bh32", 4, "bh64")

	Label("bh8")
	CMPQ(n, U8(8))
	JLT(LabelRef("bhdone"))
	block("bh8", 1, "bh8")

	Label("bhdone")
	ret()
}

// genBlurV emits cfBlurVAVX2.
func genBlurV() {
	TEXT("cfBlurVAVX2", NOSPLIT, "func(dst *uint8, tmp *float32, offs *int32, w *float32, nw int, n int)")
	Pragma("noescape")
	Doc("cfBlurVAVX2 is cfBlurVRef over n outputs (n a multiple of 8) with nw taps:",
		"64 outputs per block; fewer than 64 left, if n >= 64, the last 64 once",
		"more as an overlapping block (see cfBlurHAVX2), else 8 per block.")
	dst := Load(Param("dst"), GP64())
	tmp := Load(Param("tmp"), GP64())
	offs := Load(Param("offs"), GP64())
	w := Load(Param("w"), GP64())
	nw := Load(Param("nw"), GP64())
	n := Load(Param("n"), GP64())
	n0 := GP64()
	MOVQ(n, n0) // n, to know whether an overlapping last block fits
	c := avx2.consts(packConsts(avx2))
	ax, bx := GP64(), GP64()

	Label("bv64")
	CMPQ(n, U8(64))
	JGE(LabelRef("bv64go"))
	TESTQ(n, n)
	JZ(LabelRef("bvdone"))
	CMPQ(n0, U8(64))
	JLT(LabelRef("bv8"))
	MOVQ(U32(64), ax)
	SUBQ(n, ax)
	SUBQ(ax, dst)
	SHLQ(U8(2), ax)
	SUBQ(ax, tmp)
	MOVQ(U32(64), n)

	Label("bv64go")
	p := GP64()
	MOVLQSX(Mem{Base: offs}, ax)
	LEAQ(Mem{Base: tmp, Index: ax, Scale: 4}, p)
	wt := YMM()
	VBROADCASTSS(Mem{Base: w}, wt)
	acc := make([]VecVirtual, 8)
	for v := range acc {
		acc[v] = YMM()
		VMULPS(Mem{Base: p, Disp: 32 * v}, wt, acc[v])
	}
	MOVQ(U32(1), bx)

	Label("bv64tap")
	CMPQ(bx, nw)
	JGE(LabelRef("bv64out"))
	MOVLQSX(Mem{Base: offs, Index: bx, Scale: 4}, ax)
	LEAQ(Mem{Base: tmp, Index: ax, Scale: 4}, p)
	wt = YMM()
	VBROADCASTSS(Mem{Base: w, Index: bx, Scale: 4}, wt)
	blurMulAdd(acc, wt, func(v int) Op { return Mem{Base: p, Disp: 32 * v} })
	INCQ(bx)
	JMP(LabelRef("bv64tap"))

	Label("bv64out")
	// Rounded half to even, clamped to 0..255 (cfRound), packed to bytes.
	zero := YMM()
	VXORPS(zero, zero, zero)
	c.keep("f255", "perm")
	hi := c.reg("f255")
	for _, v := range acc {
		VROUNDPS(U8(0), v, v)
	}
	for _, v := range acc {
		VMAXPS(zero, v, v)
	}
	for _, v := range acc {
		VMINPS(hi, v, v)
	}
	for _, v := range acc {
		VCVTTPS2DQ(v, v)
	}
	for g := 0; g < 2; g++ {
		b := pack4(c, [4]VecVirtual(acc[4*g:4*g+4]))
		VMOVDQU(b, Mem{Base: dst, Disp: 32 * g})
	}
	ADDQ(U32(256), tmp)
	ADDQ(U8(64), dst)
	SUBQ(U8(64), n)
	JMP(LabelRef("bv64"))

	Label("bv8")
	zero = YMM()
	VXORPS(zero, zero, zero)
	hi = YMM()
	VMOVUPS(c.mem["f255"], hi) // from memory: bv64out may not have run

	Label("bv8loop")
	CMPQ(n, U8(8))
	JLT(LabelRef("bvdone"))
	MOVLQSX(Mem{Base: offs}, ax)
	wt = YMM()
	VBROADCASTSS(Mem{Base: w}, wt)
	a := YMM()
	VMULPS(Mem{Base: tmp, Index: ax, Scale: 4}, wt, a)
	MOVQ(U32(1), bx)

	Label("bv8tap")
	CMPQ(bx, nw)
	JGE(LabelRef("bv8out"))
	MOVLQSX(Mem{Base: offs, Index: bx, Scale: 4}, ax)
	wt = YMM()
	VBROADCASTSS(Mem{Base: w, Index: bx, Scale: 4}, wt)
	blurMulAdd([]VecVirtual{a}, wt, func(int) Op { return Mem{Base: tmp, Index: ax, Scale: 4} })
	INCQ(bx)
	JMP(LabelRef("bv8tap"))

	Label("bv8out")
	VROUNDPS(U8(0), a, a)
	VMAXPS(zero, a, a)
	VMINPS(hi, a, a)
	VCVTTPS2DQ(a, a)
	x1 := XMM()
	VEXTRACTI128(U8(1), a, x1)
	VPACKUSDW(x1, a.AsX(), a.AsX())
	VPACKUSWB(a.AsX(), a.AsX(), a.AsX())
	VMOVQ(a.AsX(), Mem{Base: dst})
	ADDQ(U8(32), tmp)
	ADDQ(U8(8), dst)
	SUBQ(U8(8), n)
	JMP(LabelRef("bv8loop"))

	Label("bvdone")
	ret()
}

// genWiden emits cfWidenAVX2.
func genWiden() {
	TEXT("cfWidenAVX2", NOSPLIT, "func(dst *float32, src *uint8, n int)")
	Pragma("noescape")
	Doc("cfWidenAVX2 is cfWidenRef over n bytes, n a multiple of 32.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	SHRQ(U8(5), n)
	JZ(LabelRef("wdone"))

	Label("wloop")
	var x [4]VecVirtual
	for i := range x {
		x[i] = YMM()
		VPMOVZXBD(Mem{Base: src, Disp: 8 * i}, x[i])
	}
	for i := range x {
		VCVTDQ2PS(x[i], x[i])
	}
	for i := range x {
		VMOVUPS(x[i], Mem{Base: dst, Disp: 32 * i})
	}
	ADDQ(U8(32), src)
	ADDQ(U32(128), dst)
	DECQ(n)
	JNZ(LabelRef("wloop"))

	Label("wdone")
	ret()
}
