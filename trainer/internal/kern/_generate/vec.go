package main

import (
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// elementwise describes a float32 streaming kernel of vec.go once; it is
// emitted as an AVX2 body (n a positive multiple of 8) and an AVX-512 body
// (any n ≥ 1: 16 lanes per iteration, the last n mod 16 under a K mask), the
// same instructions in the same order on both, so their results are
// bit-identical to each other and to the Go reference, which performs the
// same IEEE operations.
type elementwise struct {
	name    string   // Go name without the tier suffix
	ptrs    []string // pointer parameters, in signature order
	stores  []string // the pointers the results go to, in body order
	loads   []string // the pointers read each iteration, in body order
	scalars []string // float32 parameters, broadcast
	doc     []string
	// body computes the results from the loaded vectors, the broadcast
	// scalars and a zero vector, using tmp as scratch, and returns the
	// registers holding them (one per stores entry).
	body func(v vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical
}

// vecOps emits the instructions of one width; compare and select differ
// between the tiers (a vector mask, or a K register).
type vecOps struct{ zmm bool }

// gtZeroSelect returns g where y > 0 (ordered: NaN gives 0), else +0.
func (o vecOps) gtZeroSelect(g, y, zero, dst VecPhysical) {
	if o.zmm {
		VCMPPS(Imm(0x1e), zero, y, K2) // y > 0, _CMP_GT_OQ
		VMOVAPS_Z(g, K2, dst)
		return
	}
	VCMPPS(Imm(0x1e), zero, y, dst)
	VANDPS(g, dst, dst)
}

var elementwiseKernels = []elementwise{
	{
		name: "relu", ptrs: []string{"y", "x"}, stores: []string{"y"}, loads: []string{"x"},
		doc: []string{"y = max(0, x): VMAXPS returns its second source (x) when either is NaN", "or both are zero, exactly as the Go loop keeps x unless x < 0. Reference: vecReLU."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VMAXPS(in[0], zero, tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "reluGrad", ptrs: []string{"dx", "dy", "y"}, stores: []string{"dx"}, loads: []string{"y", "dy"},
		doc: []string{"dx = dy where y > 0 (ordered, so NaN gives 0), else +0. Reference: vecReLUGrad."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			o.gtZeroSelect(in[1], in[0], zero, tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "affine", ptrs: []string{"y", "x"}, stores: []string{"y"}, loads: []string{"x"}, scalars: []string{"m", "s", "b"},
		doc: []string{"y = ((x − m)·s) + b, three roundings, no fusing. Reference: vecAffine."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VSUBPS(sc[0], in[0], tmp[0])
			VMULPS(sc[1], tmp[0], tmp[0])
			VADDPS(sc[2], tmp[0], tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "affineReLU", ptrs: []string{"y", "x"}, stores: []string{"y"}, loads: []string{"x"}, scalars: []string{"m", "s", "b"},
		doc: []string{"y = max((x − m)·s + b, 0), NaN and −0 kept, as affine followed by relu.", "Reference: vecAffineReLU."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VSUBPS(sc[0], in[0], tmp[0])
			VMULPS(sc[1], tmp[0], tmp[0])
			VADDPS(sc[2], tmp[0], tmp[0])
			VMAXPS(tmp[0], zero, tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "addConst", ptrs: []string{"y"}, stores: []string{"y"}, loads: []string{"y"}, scalars: []string{"c"},
		doc: []string{"y += c. Reference: vecAddConst."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VADDPS(in[0], sc[0], tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "add", ptrs: []string{"dst", "src"}, stores: []string{"dst"}, loads: []string{"dst", "src"},
		doc: []string{"dst += src (the Go loop's operand order). Reference: vecAdd."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VADDPS(in[1], in[0], tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "bnBack", ptrs: []string{"dx", "dy", "x"}, stores: []string{"dx"}, loads: []string{"dy", "x"}, scalars: []string{"m", "c1", "c2", "c0"},
		doc: []string{"dx = ((c1·dy) + (c2·(x − m))) + c0, each operation rounded, no fusing.", "Reference: vecBNBack."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VMULPS(in[0], sc[1], tmp[0])
			VSUBPS(sc[0], in[1], tmp[1])
			VMULPS(tmp[1], sc[2], tmp[1])
			VADDPS(tmp[1], tmp[0], tmp[0])
			VADDPS(sc[3], tmp[0], tmp[0])
			return []VecPhysical{tmp[0]}
		},
	},
	{
		name: "momentumWD", ptrs: []string{"w", "grad", "v"}, stores: []string{"v", "w"}, loads: []string{"w", "grad", "v"},
		scalars: []string{"wd", "mu", "cg", "cv"},
		doc: []string{"g' = grad + wd·w, v = mu·v + cg·g', w = w − cv·v, each operation rounded,",
			"no fusing (grad is not written). Reference: momentumStep with wd ≠ 0."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VMULPS(in[0], sc[0], tmp[0])   // wd·w
			VADDPS(tmp[0], in[1], tmp[0])  // g' = grad + wd·w
			VMULPS(in[2], sc[1], tmp[1])   // mu·v
			VMULPS(tmp[0], sc[2], tmp[0])  // cg·g'
			VADDPS(tmp[0], tmp[1], tmp[1]) // v = mu·v + cg·g'
			VMULPS(tmp[1], sc[3], tmp[2])  // cv·v
			VSUBPS(tmp[2], in[0], tmp[2])  // w − cv·v
			return []VecPhysical{tmp[1], tmp[2]}
		},
	},
	{
		name: "momentum", ptrs: []string{"w", "grad", "v"}, stores: []string{"v", "w"}, loads: []string{"w", "grad", "v"},
		scalars: []string{"mu", "cg", "cv"},
		doc:     []string{"v = mu·v + cg·grad, w = w − cv·v, each operation rounded, no fusing", "(grad is not written). Reference: momentumStep with wd = 0."},
		body: func(o vecOps, in, sc []VecPhysical, zero VecPhysical, tmp []VecPhysical) []VecPhysical {
			VMULPS(in[2], sc[0], tmp[1])   // mu·v
			VMULPS(in[1], sc[1], tmp[0])   // cg·grad
			VADDPS(tmp[0], tmp[1], tmp[1]) // v = mu·v + cg·g
			VMULPS(tmp[1], sc[2], tmp[2])  // cv·v
			VSUBPS(tmp[2], in[0], tmp[2])  // w − cv·v
			return []VecPhysical{tmp[1], tmp[2]}
		},
	},
}

var ptrRegs = []GPPhysical{RDI, RSI, RDX, RBX}

func (e elementwise) emit(zmm bool) {
	t := tile{zmm: zmm}
	suffix := t.suffix()
	name := e.name + suffix
	sig := strings.Join(e.ptrs, ", ") + " *float32, n int"
	if len(e.scalars) > 0 {
		sig += ", " + strings.Join(e.scalars, ", ") + " float32"
	}
	TEXT(name, NOSPLIT, "func("+sig+")")
	Pragma("noescape")
	doc := append([]string{name + ": " + e.doc[0]}, e.doc[1:]...)
	if zmm {
		doc = append(doc, "n ≥ 1: 16 floats per iteration, the last n mod 16 under a K mask (no", "access past element n-1).")
	} else {
		doc = append(doc, "n is a positive multiple of 8.")
	}
	Doc(doc...)
	preg := map[string]GPPhysical{}
	for i, p := range e.ptrs {
		preg[p] = ptrRegs[i]
		Load(Param(p), ptrRegs[i])
	}
	Load(Param("n"), RCX)
	var sc []VecPhysical
	for i, s := range e.scalars {
		sc = append(sc, t.vreg(i))
		VBROADCASTSS(addr(Param(s)), t.vreg(i))
	}
	zero := t.vreg(4)
	if zmm {
		VPXORD(zero, zero, zero)
	} else {
		VXORPS(zero, zero, zero)
	}
	in := []VecPhysical{t.vreg(5), t.vreg(6), t.vreg(7)}
	tmp := []VecPhysical{t.vreg(8), t.vreg(9), t.vreg(10)}
	w := t.lanes()
	iter := func(mask Op) {
		for i, p := range e.loads {
			m := Mem{Base: preg[p]}
			if mask != nil {
				VMOVUPS_Z(m, mask, in[i])
			} else {
				VMOVUPS(m, in[i])
			}
		}
		rs := e.body(vecOps{zmm}, in, sc, zero, tmp)
		for i, r := range rs {
			m := Mem{Base: preg[e.stores[i]]}
			if mask != nil {
				VMOVUPS(r, mask, m)
			} else {
				VMOVUPS(r, m)
			}
		}
	}
	loop, tail, done := name+"_loop", name+"_tail", name+"_done"
	if zmm {
		CMPQ(RCX, Imm(uint64(w)))
		JLT(LabelRef(tail))
	}
	Label(loop)
	iter(nil)
	for _, p := range e.ptrs {
		ADDQ(Imm(uint64(4*w)), preg[p])
	}
	SUBQ(Imm(uint64(w)), RCX)
	if !zmm {
		JNZ(LabelRef(loop))
	} else {
		CMPQ(RCX, Imm(uint64(w)))
		JGE(LabelRef(loop))
		Label(tail)
		TESTQ(RCX, RCX)
		JZ(LabelRef(done))
		MOVL(U32(0xffff), EAX)
		BZHIL(ECX, EAX, EAX)
		KMOVW(EAX, K1)
		iter(K1)
		Label(done)
	}
	VZEROUPPER()
	RET()
}

func vecKernels() {
	for _, e := range elementwiseKernels {
		if len(e.scalars) > 4 || len(e.loads) > 3 || len(e.ptrs) > len(ptrRegs) {
			panic(fmt.Sprintf("%s: too many operands", e.name))
		}
		e.emit(false)
		e.emit(true)
	}
}
