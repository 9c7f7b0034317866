package main

import (
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// reduction describes a float64 reduction of float32 data in vec.go once;
// it is emitted for AVX2 and AVX-512 with the same partial sums and the
// same combining order, so the two bodies are bit-identical:
//
//   - n is a positive multiple of 16 (the Go caller adds the tail);
//   - each result keeps 16 float64 partial sums, element i going to
//     partial i mod 16 (AVX2: four ymm accumulators of 4 lanes, elements
//     4j..4j+3 of every 16 in accumulator j; AVX-512: two zmm accumulators
//     of 8 lanes, elements 8k..8k+7 in accumulator k, i.e. the AVX2
//     accumulators 2k and 2k+1 side by side);
//   - the partials p0..p15 are combined as ((A0+A2) + (A1+A3)) lane-wise
//     (Aj = p4j..p4j+3), then (l0+l2) + (l1+l3) of the four lanes left.
//
// Sixteen partials (the hand-written AVX2 bodies kept eight) let one zmm
// accumulator hold what two ymm ones do, so both widths keep the same
// partials. The loops are bound by the float32 → float64 conversions
// (VCVTPS2PD), not by the dependency chains: sixteen partials ran at the
// speed of eight on Zen 4.
type reduction struct {
	name string   // Go name without the tier suffix
	ptrs []string // float32 pointer parameters, in signature order
	m    bool     // takes a float64 shift m after n
	outs []string // float64 results
	doc  []string
	// step folds the 16-element block's group g (converted to float64:
	// in[i] from ptrs[i]) into the accumulators acc[r] of each result r,
	// with m (if any) broadcast and tmp as scratch.
	step func(in []VecPhysical, m VecPhysical, acc []VecPhysical, tmp VecPhysical)
}

var reductions = []reduction{
	{
		name: "sum", ptrs: []string{"x"}, outs: []string{"ret"},
		doc: []string{"Σ x. Reference: sum64 (whose plain-Go loop sums in one chain)."},
		step: func(in []VecPhysical, m VecPhysical, acc []VecPhysical, tmp VecPhysical) {
			VADDPD(in[0], acc[0], acc[0])
		},
	},
	{
		name: "sqDev", ptrs: []string{"x"}, m: true, outs: []string{"ret"},
		doc: []string{"Σ (x − m)², each term fused into its partial: p = fma(d, d, p), d = x − m.", "Reference: sqDev64."},
		step: func(in []VecPhysical, m VecPhysical, acc []VecPhysical, tmp VecPhysical) {
			VSUBPD(m, in[0], tmp)
			VFMADD231PD(tmp, tmp, acc[0])
		},
	},
	{
		name: "sumDev", ptrs: []string{"x"}, m: true, outs: []string{"sx", "sxd"},
		doc: []string{"Σ x and Σ x·(x − m): dotDev with dy = x, each element converted once",
			"(the loops are bound by the conversions), the same operations and so the",
			"same bits as dotDev(x, x). Reference: dotDev64 with dy = x."},
		step: func(in []VecPhysical, m VecPhysical, acc []VecPhysical, tmp VecPhysical) {
			VADDPD(in[0], acc[0], acc[0])
			VSUBPD(m, in[0], tmp)
			VFMADD231PD(in[0], tmp, acc[1])
		},
	},
	{
		name: "dotDev", ptrs: []string{"dy", "x"}, m: true, outs: []string{"sdy", "sdx"},
		doc: []string{"Σ dy and Σ dy·(x − m), the second fused: p = fma(d, dy, p), d = x − m.", "Reference: dotDev64."},
		step: func(in []VecPhysical, m VecPhysical, acc []VecPhysical, tmp VecPhysical) {
			VADDPD(in[0], acc[0], acc[0])
			VSUBPD(m, in[1], tmp)
			VFMADD231PD(in[0], tmp, acc[1])
		},
	},
}

func (r reduction) emit(zmm bool) {
	name := r.name + "16" + tile{zmm: zmm}.suffix()
	sig := strings.Join(r.ptrs, ", ") + " *float32, n int"
	if r.m {
		sig += ", m float64"
	}
	ret := "float64"
	if len(r.outs) > 1 {
		ret = "(" + strings.Join(r.outs, ", ") + " float64)"
	}
	TEXT(name, NOSPLIT, "func("+sig+") "+ret)
	Pragma("noescape")
	doc := append([]string{name + ": " + r.doc[0]}, r.doc[1:]...)
	doc = append(doc, "n is a positive multiple of 16; sixteen float64 partial sums per result,",
		"element i in partial i mod 16, combined in one fixed order on both tiers",
		"(see reduction in _generate/reduce.go), so the AVX2 and AVX-512 bodies are",
		"bit-identical.")
	Doc(doc...)

	groups := map[bool]int{false: 4, true: 2}[zmm] // accumulators per result
	lanes := 16 / groups                           // float64 lanes per accumulator
	regs := ymms
	if zmm {
		regs = zmms
	}
	preg := make([]GPPhysical, len(r.ptrs))
	for i, p := range r.ptrs {
		preg[i] = ptrRegs[i]
		Load(Param(p), preg[i])
	}
	Load(Param("n"), RCX)
	// Registers: acc[r][g] = regs[r*groups+g]; m next; then per group the
	// converted inputs and a temporary.
	nacc := len(r.outs) * groups
	acc := func(res, g int) VecPhysical { return regs[res*groups+g] }
	mreg := regs[nacc]
	if r.m {
		VBROADCASTSD(addr(Param("m")), mreg)
	}
	for i := 0; i < nacc; i++ {
		VXORPD(regs[i], regs[i], regs[i])
	}
	free := regs[nacc+1:]
	per := len(r.ptrs) + 1
	sets := min(groups, len(free)/per) // scratch sets, used in turn
	if sets == 0 {
		panic(name + ": not enough vector registers")
	}
	loop := name + "_loop"
	Label(loop)
	for g := 0; g < groups; g++ {
		k := g % sets
		in := free[k*per : k*per+len(r.ptrs)]
		for i := range r.ptrs {
			VCVTPS2PD(Mem{Base: preg[i], Disp: 4 * lanes * g}, in[i])
		}
		var a []VecPhysical
		for res := range r.outs {
			a = append(a, acc(res, g))
		}
		r.step(in, mreg, a, free[k*per+len(r.ptrs)])
	}
	for i := range r.ptrs {
		ADDQ(Imm(64), preg[i])
	}
	SUBQ(Imm(16), RCX)
	JNZ(LabelRef(loop))

	// Combine: ((A0+A2) + (A1+A3)), then (l0+l2) + (l1+l3).
	for res := range r.outs {
		a0, a1 := acc(res, 0), acc(res, 1)
		if zmm {
			VADDPD(a1, a0, a0) // (A0+A2 | A1+A3)
			VEXTRACTF64X4(Imm(1), a0, a1.AsY())
			VADDPD(a1.AsY(), a0.AsY(), a0.AsY())
		} else {
			a2, a3 := acc(res, 2), acc(res, 3)
			VADDPD(a2, a0, a0)
			VADDPD(a3, a1, a1)
			VADDPD(a1, a0, a0)
		}
		y := a0.AsY()
		x0, x1 := a0.AsX(), a1.AsX()
		VEXTRACTF128(Imm(1), y, x1)
		VADDPD(x1, x0, x0)
		VUNPCKHPD(x0, x0, x1)
		VADDSD(x1, x0, x0)
		VMOVSD(x0, addr(ReturnIndex(res)))
	}
	VZEROUPPER()
	RET()
}

func reduceKernels() {
	for _, r := range reductions {
		r.emit(false)
		r.emit(true)
	}
}
