package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The AVX2 horizontal passes of the bilinear resampler (resizeHRef),
// ported instruction for instruction from the hand-written
// resize_amd64.s they replace. Integer, so every tier gives the same bytes
// by construction: per output and channel, 64 plus the int16 weight times
// the source byte summed over the taps, >>7, saturated to int16.
//
// RGB rows (c == 3) take their taps in pairs: VPSHUFB with resizeHShuf
// turns two adjacent pixels (6 bytes) into the words p0.r p1.r p0.g p1.g
// p0.b p1.b 0 0, and one VPMADDWD with the broadcast weight pair (w0, w1)
// gives each channel's two products summed in an int32. With four taps per
// step (the plan's pre-paired weights wq, resizePlan.wq) a 16-byte window
// broadcast to both 128-bit lanes is shuffled with resizeHQShuf (pixels
// 0-1 in lane 0, 2-3 in lane 1) and the two lanes are added at the end.
// Gray rows (c == 1) take eight taps at once (resizePlan.w8). These have
// no AVX-512 twin of the same description: the AVX-512 RGB pass
// (genResizeH3Q4x2) is a different formulation (VPERMB, VPDPWSSD).

// resizeHShuf is VPSHUFB's table taking two adjacent RGB pixels in the low
// 6 bytes of a 128-bit lane to the words p0.r p1.r p0.g p1.g p0.b p1.b 0 0
// (0x80: zero), the same in every lane.
func resizeHShuf() Mem {
	return bytes16("genResizeH3Shuf", 0x8004800180038000, 0x8080808080058002)
}

// resizeHQShuf takes pixels 0 and 1 of a 16-byte window to lane 0 and
// pixels 2 and 3 (bytes 6-11) to lane 1, each as resizeHShuf does.
func resizeHQShuf() Mem {
	return table("genResizeH3QShuf", [16]uint32{
		0x80038000, 0x80048001, 0x80058002, 0x80808080,
		0x80098006, 0x800a8007, 0x800b8008, 0x80808080,
	})
}

// resizeRound loads the int32 64 (resizeHRef's rounding term) into every
// dword of r (an XMM or YMM register).
func resizeRound(r VecVirtual) {
	c := GP32()
	MOVL(U32(64), c)
	VMOVD(c, r.AsX())
	VPBROADCASTD(r.AsX(), r)
}

// pixelAt sets p to base + 3*start[disp/4] (the first byte of an RGB
// output's window; gray windows use base + start directly).
func pixelAt(start Register, disp int, base, p Register) {
	ax := GP64()
	MOVLQSX(Mem{Base: start, Disp: disp}, ax)
	LEAQ(Mem{Base: ax, Index: ax, Scale: 2}, ax)
	LEAQ(Mem{Base: base, Index: ax, Scale: 1}, p)
}

// genResizeH3 emits resizeH3AVX2: one RGB row, two taps per step.
func genResizeH3() {
	TEXT("resizeH3AVX2", NOSPLIT, "func(dst *int16, src *uint8, start *int32, w *int16, out, k int)")
	Pragma("noescape")
	Doc("resizeH3AVX2 is the horizontal pass over one row of RGB pixels; it is",
		"resizeHRef with c == 3, for a plan with an even tap count k:",
		"",
		"\tfor x := 0; x < out; x++ {",
		"\t\tfor ch := 0; ch < 3; ch++ {",
		"\t\t\tacc := int32(64)",
		"\t\t\tfor j := 0; j < k; j++ {",
		"\t\t\t\tacc += int32(w[x*k+j]) * int32(src[(start[x]+j)*3+ch])",
		"\t\t\t}",
		"\t\t\tdst[x*3+ch] = int16(acc >> 7)",
		"\t\t}",
		"\t}",
		"",
		"It reads up to 2 bytes past the last pixel of the row and stores one",
		"int16 past dst[out*3-1].")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	start := Load(Param("start"), GP64())
	w := Load(Param("w"), GP64())
	out := Load(Param("out"), GP64())
	k := Load(Param("k"), GP64())
	shuf := XMM()
	VMOVDQU(resizeHShuf(), shuf)
	round := XMM()
	resizeRound(round)

	Label("hpix")
	TESTQ(out, out)
	JZ(LabelRef("hdone"))
	p := GP64()
	pixelAt(start, 0, src, p)
	acc := XMM()
	VMOVDQA(round, acc)
	taps := GP64()
	MOVQ(k, taps)

	Label("htap")
	x, wv := XMM(), XMM()
	VMOVQ(Mem{Base: p}, x)
	VPSHUFB(shuf, x, x)
	VPBROADCASTD(Mem{Base: w}, wv)
	VPMADDWD(wv, x, x)
	VPADDD(x, acc, acc)
	ADDQ(U8(6), p)
	ADDQ(U8(4), w)
	SUBQ(U8(2), taps)
	JNZ(LabelRef("htap"))

	VPSRAD(U8(7), acc, acc)
	VPACKSSDW(acc, acc, acc)
	VMOVQ(acc, Mem{Base: dst})
	ADDQ(U8(6), dst)
	ADDQ(U8(4), start)
	DECQ(out)
	JMP(LabelRef("hpix"))

	Label("hdone")
	ret()
}

// genResizeH3Q emits resizeH3QAVX2: one RGB row, four taps per step.
func genResizeH3Q() {
	TEXT("resizeH3QAVX2", NOSPLIT, "func(dst *int16, src *uint8, start *int32, wq *int32, out, k int)")
	Pragma("noescape")
	Doc("resizeH3QAVX2 is resizeH3AVX2 for k a multiple of 4, taking four taps",
		"per step with the pre-paired weights wq (see resizePlan.wq). It reads up",
		"to 4 bytes past the last pixel of the row.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	start := Load(Param("start"), GP64())
	wq := Load(Param("wq"), GP64())
	out := Load(Param("out"), GP64())
	k := Load(Param("k"), GP64())
	shuf := YMM()
	VMOVDQU(resizeHQShuf(), shuf)
	round := XMM()
	resizeRound(round)

	Label("qpix")
	TESTQ(out, out)
	JZ(LabelRef("qdone"))
	p := GP64()
	pixelAt(start, 0, src, p)
	acc := YMM()
	VPXOR(acc, acc, acc)
	taps := GP64()
	MOVQ(k, taps)

	Label("qtap")
	x := YMM()
	VBROADCASTI128(Mem{Base: p}, x)
	VPSHUFB(shuf, x, x)
	VPMADDWD(Mem{Base: wq}, x, x)
	VPADDD(x, acc, acc)
	ADDQ(U8(12), p)
	ADDQ(U8(32), wq)
	SUBQ(U8(4), taps)
	JNZ(LabelRef("qtap"))

	hi := XMM()
	VEXTRACTI128(U8(1), acc, hi)
	lo := acc.AsX()
	VPADDD(hi, lo, lo)
	VPADDD(round, lo, lo)
	VPSRAD(U8(7), lo, lo)
	VPACKSSDW(lo, lo, lo)
	VMOVQ(lo, Mem{Base: dst})
	ADDQ(U8(6), dst)
	ADDQ(U8(4), start)
	DECQ(out)
	JMP(LabelRef("qpix"))

	Label("qdone")
	ret()
}

// pair2 is the state of the two-row RGB kernels: the rows' outputs, the
// first row, the distance from the first row to the second (src1-src0),
// the plan's starts and weights, and the outputs left.
type pair2 struct {
	dst0, dst1, src, d1, start, w, out Register
}

func loadPair2(wname string) pair2 {
	var s pair2
	s.dst0 = Load(Param("dst0"), GP64())
	s.dst1 = Load(Param("dst1"), GP64())
	s.src = Load(Param("src0"), GP64())
	s.d1 = Load(Param("src1"), GP64())
	s.start = Load(Param("start"), GP64())
	s.w = Load(Param(wname), GP64())
	s.out = Load(Param("out"), GP64())
	return s
}

// row1 is the operand at p on the second row.
func (s pair2) row1(p Register, disp int) Mem {
	return Mem{Base: p, Index: s.d1, Scale: 1, Disp: disp}
}

// store1 stores the low quadword of lo (row 0) and of hi (row 1): one
// output's three int16 and one more, which the next output overwrites.
func (s pair2) store1(lo, hi Register) {
	VMOVQ(lo, Mem{Base: s.dst0})
	VMOVQ(hi, Mem{Base: s.dst1})
}

// storeAB stores [A0 A1 | B0 B1] (x: A0 A1 at quadwords 0 1, y: B0 B1)
// as four quadwords, each writing one int16 past its output (absorbed by
// the next store or the row gap).
func (s pair2) storeAB(x, y Register) {
	VMOVQ(x, Mem{Base: s.dst0})
	VMOVHPS(x, Mem{Base: s.dst1})
	VMOVQ(y, Mem{Base: s.dst0, Disp: 6})
	VMOVHPS(y, Mem{Base: s.dst1, Disp: 6})
}

// next advances past n outputs (n*4 bytes of start, n*wbytes of weights
// when wbytes > 0) and counts them off.
func (s pair2) next(n, wbytes int) {
	ADDQ(U8(6*n), s.dst0)
	ADDQ(U8(6*n), s.dst1)
	ADDQ(U8(4*n), s.start)
	if wbytes > 0 {
		ADDQ(U32(n*wbytes), s.w)
	}
	if n == 1 {
		DECQ(s.out)
	} else {
		SUBQ(U8(n), s.out)
	}
}

// genResizeH3Q2 emits resizeH3Q2AVX2: two RGB rows, four taps per step,
// with unrolled two-output steps for k == 4 and k == 8.
func genResizeH3Q2() {
	TEXT("resizeH3Q2AVX2", NOSPLIT, "func(dst0, dst1 *int16, src0, src1 *uint8, start *int32, wq *int32, out, k int)")
	Pragma("noescape")
	Doc("resizeH3Q2AVX2 is resizeH3QAVX2 on two rows at once (same plan).")
	s := loadPair2("wq")
	k := Load(Param("k"), GP64())
	shuf := YMM()
	VMOVDQU(resizeHQShuf(), shuf)
	round := YMM()
	resizeRound(round)
	SUBQ(s.src, s.d1)
	CMPQ(k, U8(4))
	JEQ(LabelRef("q4pair"))
	CMPQ(k, U8(8))
	JEQ(LabelRef("q8pair"))

	// Any k (a multiple of 4): one output per step, a tap loop.
	Label("q2pix")
	TESTQ(s.out, s.out)
	JZ(LabelRef("q2done"))
	p := GP64()
	pixelAt(s.start, 0, s.src, p)
	acc0, acc1 := YMM(), YMM()
	VPXOR(acc0, acc0, acc0)
	VPXOR(acc1, acc1, acc1)
	taps := GP64()
	MOVQ(k, taps)

	Label("q2tap")
	wv, x0, x1 := YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: s.w}, wv)
	VBROADCASTI128(Mem{Base: p}, x0)
	VBROADCASTI128(s.row1(p, 0), x1)
	VPSHUFB(shuf, x0, x0)
	VPSHUFB(shuf, x1, x1)
	VPMADDWD(wv, x0, x0)
	VPMADDWD(wv, x1, x1)
	VPADDD(x0, acc0, acc0)
	VPADDD(x1, acc1, acc1)
	ADDQ(U8(12), p)
	ADDQ(U8(32), s.w)
	SUBQ(U8(4), taps)
	JNZ(LabelRef("q2tap"))
	laneSum2(acc0, acc1, round, s)
	s.next(1, 0)
	JMP(LabelRef("q2pix"))

	// k == 4 (the common downscale by less than 2): one group of four
	// taps per output, no tap loop, no zeroed accumulators. Same sums.
	// Two outputs A, B per step while there are two: their lane sums
	// are formed together ([A | B] per row), packed as [A0 A1 | B0 B1]
	// and stored as four quadwords.
	Label("q4pair")
	CMPQ(s.out, U8(2))
	JLT(LabelRef("q4pix"))
	pa, pb := GP64(), GP64()
	pixelAt(s.start, 0, s.src, pa)
	pixelAt(s.start, 4, s.src, pb)
	wa, a0, a1 := YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: s.w}, wa)
	VBROADCASTI128(Mem{Base: pa}, a0)
	VBROADCASTI128(s.row1(pa, 0), a1)
	wb, b0, b1 := YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: s.w, Disp: 32}, wb)
	VBROADCASTI128(Mem{Base: pb}, b0)
	VBROADCASTI128(s.row1(pb, 0), b1)
	for _, x := range []VecVirtual{a0, a1, b0, b1} {
		VPSHUFB(shuf, x, x)
	}
	VPMADDWD(wa, a0, a0) // A row 0: [taps 0-1 | taps 2-3]
	VPMADDWD(wa, a1, a1) // A row 1
	VPMADDWD(wb, b0, b0) // B row 0
	VPMADDWD(wb, b1, b1) // B row 1
	pairSum(a0, a1, b0, b1, round, s)
	ADDQ(U8(8), s.start)
	ADDQ(U8(64), s.w)
	SUBQ(U8(2), s.out)
	JMP(LabelRef("q4pair"))

	// k == 8 (downscales by about 1.5 to 2): two groups of four taps per
	// output, unrolled, two outputs per step as in q4pair (the group sums
	// are added before the lanes are).
	Label("q8pair")
	CMPQ(s.out, U8(2))
	JLT(LabelRef("q2pix"))
	pa, pb = GP64(), GP64()
	pixelAt(s.start, 0, s.src, pa)
	pixelAt(s.start, 4, s.src, pb)
	var wg [4]VecVirtual // A taps 0-3, A taps 4-7, B taps 0-3, B taps 4-7
	for i := range wg {
		wg[i] = YMM()
		VMOVDQU(Mem{Base: s.w, Disp: 32 * i}, wg[i])
	}
	// group sums one row's eight taps of output A (pa, wg[0:2]) or B.
	group := func(p Register, row1 bool, w0, w1 VecVirtual) VecVirtual {
		at := func(disp int) Mem {
			if row1 {
				return s.row1(p, disp)
			}
			return Mem{Base: p, Disp: disp}
		}
		x, y := YMM(), YMM()
		VBROADCASTI128(at(0), x)
		VBROADCASTI128(at(12), y)
		VPSHUFB(shuf, x, x)
		VPSHUFB(shuf, y, y)
		VPMADDWD(w0, x, x)
		VPMADDWD(w1, y, y)
		VPADDD(y, x, x)
		return x
	}
	a0 = group(pa, false, wg[0], wg[1]) // A row 0
	a1 = group(pa, true, wg[0], wg[1])  // A row 1
	b0 = group(pb, false, wg[2], wg[3]) // B row 0
	b1 = group(pb, true, wg[2], wg[3])  // B row 1
	pairSum(a0, a1, b0, b1, round, s)
	ADDQ(U8(8), s.start)
	ADDQ(U32(128), s.w)
	SUBQ(U8(2), s.out)
	JMP(LabelRef("q8pair"))

	// k == 4, the last odd output.
	Label("q4pix")
	TESTQ(s.out, s.out)
	JZ(LabelRef("q2done"))
	p = GP64()
	pixelAt(s.start, 0, s.src, p)
	wv, x0, x1 = YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: s.w}, wv)
	VBROADCASTI128(Mem{Base: p}, x0)
	VBROADCASTI128(s.row1(p, 0), x1)
	VPSHUFB(shuf, x0, x0)
	VPSHUFB(shuf, x1, x1)
	acc0, acc1 = YMM(), YMM()
	VPMADDWD(wv, x0, acc0)
	VPMADDWD(wv, x1, acc1)
	laneSum2(acc0, acc1, round, s)
	s.next(1, 32)
	JMP(LabelRef("q4pix"))

	Label("q2done")
	ret()
}

// laneSum2 finishes one output on two rows from the four-tap sums acc0
// (row 0) and acc1 (row 1), each [taps 0-1 | taps 2-3]: the lanes added
// ([row 0 | row 1]), rounded, shifted, packed and stored.
func laneSum2(acc0, acc1, round VecVirtual, s pair2) {
	x, y := YMM(), YMM()
	VPERM2I128(U8(0x20), acc1, acc0, x)
	VPERM2I128(U8(0x31), acc1, acc0, y)
	VPADDD(y, x, x)
	VPADDD(round, x, x)
	VPSRAD(U8(7), x, x)
	VPACKSSDW(x, x, x)
	VMOVQ(x.AsX(), Mem{Base: s.dst0})
	hi := XMM()
	VEXTRACTI128(U8(1), x, hi)
	VMOVQ(hi, Mem{Base: s.dst1})
}

// pairSum finishes outputs A and B on two rows from their four-tap (or
// group) sums, each [taps 0-1 | taps 2-3]: lanes added as [A | B] per
// row, rounded, shifted, packed as [A0 A1 | B0 B1] and stored.
func pairSum(a0, a1, b0, b1, round VecVirtual, s pair2) {
	r0, t0 := YMM(), YMM()
	VPERM2I128(U8(0x20), b0, a0, r0)
	VPERM2I128(U8(0x31), b0, a0, t0)
	VPADDD(t0, r0, r0) // row 0: [A | B]
	r1, t1 := YMM(), YMM()
	VPERM2I128(U8(0x20), b1, a1, r1)
	VPERM2I128(U8(0x31), b1, a1, t1)
	VPADDD(t1, r1, r1) // row 1: [A | B]
	VPADDD(round, r0, r0)
	VPADDD(round, r1, r1)
	VPSRAD(U8(7), r0, r0)
	VPSRAD(U8(7), r1, r1)
	VPACKSSDW(r1, r0, r0) // [A0 A1 | B0 B1]
	hi := XMM()
	VEXTRACTI128(U8(1), r0, hi)
	s.storeAB(r0.AsX(), hi)
	ADDQ(U8(12), s.dst0)
	ADDQ(U8(12), s.dst1)
}

// genResizeH3P2 emits resizeH3P2AVX2: two RGB rows, two taps per step,
// with an unrolled two-output step for k == 2.
func genResizeH3P2() {
	TEXT("resizeH3P2AVX2", NOSPLIT, "func(dst0, dst1 *int16, src0, src1 *uint8, start *int32, w *int16, out, k int)")
	Pragma("noescape")
	Doc("resizeH3P2AVX2 is resizeH3AVX2 on two rows at once (same plan).")
	s := loadPair2("w")
	k := Load(Param("k"), GP64())
	shuf := YMM()
	VMOVDQU(resizeHShuf(), shuf) // the pair shuffle in both lanes (two rows at once)
	round := YMM()
	resizeRound(round)
	SUBQ(s.src, s.d1)
	CMPQ(k, U8(2))
	JEQ(LabelRef("p1pair"))

	// Any even k: one output per step, a tap loop.
	Label("p2pix")
	TESTQ(s.out, s.out)
	JZ(LabelRef("p2done"))
	p := GP64()
	pixelAt(s.start, 0, s.src, p)
	acc := YMM()
	VMOVDQA(round, acc)
	taps := GP64()
	MOVQ(k, taps)

	Label("p2tap")
	x, y := YMM(), XMM()
	VMOVQ(Mem{Base: p}, x.AsX())
	VMOVQ(s.row1(p, 0), y)
	VINSERTI128(U8(1), y, x, x)
	VPSHUFB(shuf, x, x)
	wv := YMM()
	VPBROADCASTD(Mem{Base: s.w}, wv)
	VPMADDWD(wv, x, x)
	VPADDD(x, acc, acc)
	ADDQ(U8(6), p)
	ADDQ(U8(4), s.w)
	SUBQ(U8(2), taps)
	JNZ(LabelRef("p2tap"))

	VPSRAD(U8(7), acc, acc)
	VPACKSSDW(acc, acc, acc)
	VMOVQ(acc.AsX(), Mem{Base: s.dst0})
	hi := XMM()
	VEXTRACTI128(U8(1), acc, hi)
	VMOVQ(hi, Mem{Base: s.dst1})
	s.next(1, 0)
	JMP(LabelRef("p2pix"))

	// k == 2 (upscaling): one pair of taps per output, no tap loop. Two
	// outputs A, B per step while there are two, packed as [A0 B0 | A1
	// B1] and stored as four quadwords (see q4pair in resizeH3Q2AVX2).
	Label("p1pair")
	CMPQ(s.out, U8(2))
	JLT(LabelRef("p1pix"))
	p = GP64()
	pixelAt(s.start, 0, s.src, p)
	a, a1 := YMM(), XMM()
	VMOVQ(Mem{Base: p}, a.AsX())
	VMOVQ(s.row1(p, 0), a1)
	pixelAt(s.start, 4, s.src, p)
	b, b1 := YMM(), XMM()
	VMOVQ(Mem{Base: p}, b.AsX())
	VMOVQ(s.row1(p, 0), b1)
	VINSERTI128(U8(1), a1, a, a)
	VINSERTI128(U8(1), b1, b, b)
	VPSHUFB(shuf, a, a)
	VPSHUFB(shuf, b, b)
	wa, wb := YMM(), YMM()
	VPBROADCASTD(Mem{Base: s.w}, wa)
	VPBROADCASTD(Mem{Base: s.w, Disp: 4}, wb)
	VPMADDWD(wa, a, a) // A: [row 0 | row 1]
	VPMADDWD(wb, b, b) // B
	VPADDD(round, a, a)
	VPADDD(round, b, b)
	VPSRAD(U8(7), a, a)
	VPSRAD(U8(7), b, b)
	VPACKSSDW(b, a, a) // [A0 B0 | A1 B1]
	hi = XMM()
	VEXTRACTI128(U8(1), a, hi)
	VMOVQ(a.AsX(), Mem{Base: s.dst0})
	VMOVHPS(a.AsX(), Mem{Base: s.dst0, Disp: 6})
	VMOVQ(hi, Mem{Base: s.dst1})
	VMOVHPS(hi, Mem{Base: s.dst1, Disp: 6})
	ADDQ(U8(12), s.dst0)
	ADDQ(U8(12), s.dst1)
	ADDQ(U8(8), s.start)
	ADDQ(U8(8), s.w)
	SUBQ(U8(2), s.out)
	JMP(LabelRef("p1pair"))

	// k == 2, the last odd output.
	Label("p1pix")
	TESTQ(s.out, s.out)
	JZ(LabelRef("p2done"))
	ax := GP64()
	MOVLQSX(Mem{Base: s.start}, ax)
	LEAQ(Mem{Base: ax, Index: ax, Scale: 2}, ax)
	x, y = YMM(), XMM()
	VMOVQ(Mem{Base: s.src, Index: ax, Scale: 1}, x.AsX())
	p = GP64()
	LEAQ(Mem{Base: s.src, Index: ax, Scale: 1}, p)
	VMOVQ(s.row1(p, 0), y)
	VINSERTI128(U8(1), y, x, x)
	VPSHUFB(shuf, x, x)
	wv = YMM()
	VPBROADCASTD(Mem{Base: s.w}, wv)
	VPMADDWD(wv, x, x)
	acc = YMM()
	VPADDD(round, x, acc)
	VPSRAD(U8(7), acc, acc)
	VPACKSSDW(acc, acc, acc)
	VMOVQ(acc.AsX(), Mem{Base: s.dst0})
	hi = XMM()
	VEXTRACTI128(U8(1), acc, hi)
	VMOVQ(hi, Mem{Base: s.dst1})
	s.next(1, 4)
	JMP(LabelRef("p1pix"))

	Label("p2done")
	ret()
}

// genResizeH1x2 emits resizeH1x2AVX2: two gray rows, eight taps (w8) per
// output, four outputs per step.
func genResizeH1x2() {
	TEXT("resizeH1x2AVX2", NOSPLIT, "func(dst0, dst1 *int16, src0, src1 *uint8, start *int32, w8 *int16, out int)")
	Pragma("noescape")
	Doc("resizeH1x2AVX2 is the horizontal pass over two gray rows for a plan with",
		"k <= 8 (weights w8, eight per output), four outputs per step; out is a",
		"multiple of 4. It is resizeHRef with c == 1 on each row:",
		"",
		"\tdst[x] = (Σ_{j<8} w8[x*8+j]·src[start[x]+j] + 64) >> 7",
		"",
		"It reads up to 8 bytes from src+start[x] (past the row end when k < 8).")
	s := loadPair2("w8")
	round := YMM()
	resizeRound(round)
	SUBQ(s.src, s.d1)

	Label("g4")
	TESTQ(s.out, s.out)
	JZ(LabelRef("g4done"))
	// Output o: its 8 bytes of row 0 and of row 1 widened to words, one
	// VPMADDWD with its weights in both lanes: four pair sums per row.
	var x [4]VecVirtual
	for o := range x {
		ax, p := GP64(), GP64()
		MOVLQSX(Mem{Base: s.start, Disp: 4 * o}, ax)
		LEAQ(Mem{Base: s.src, Index: ax, Scale: 1}, p)
		x[o] = YMM()
		VMOVQ(Mem{Base: p}, x[o].AsX())
		VPINSRQ(U8(1), s.row1(p, 0), x[o].AsX(), x[o].AsX())
		VPMOVZXBW(x[o].AsX(), x[o])
		wv := YMM()
		VBROADCASTI128(Mem{Base: s.w, Disp: 16 * o}, wv)
		VPMADDWD(wv, x[o], x[o])
	}
	// Three horizontal adds leave, per lane (row), the four outputs' sums.
	VPHADDD(x[1], x[0], x[0])
	VPHADDD(x[3], x[2], x[2])
	VPHADDD(x[2], x[0], x[0])
	VPADDD(round, x[0], x[0])
	VPSRAD(U8(7), x[0], x[0])
	VPACKSSDW(x[0], x[0], x[0])
	VMOVQ(x[0].AsX(), Mem{Base: s.dst0})
	hi := XMM()
	VEXTRACTI128(U8(1), x[0], hi)
	VMOVQ(hi, Mem{Base: s.dst1})
	ADDQ(U8(8), s.dst0)
	ADDQ(U8(8), s.dst1)
	ADDQ(U8(16), s.start)
	ADDQ(U8(64), s.w)
	SUBQ(U8(4), s.out)
	JMP(LabelRef("g4"))

	Label("g4done")
	ret()
}
