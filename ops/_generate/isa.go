package main

import (
	"fmt"
	"maps"
	"slices"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// isa is one instruction-set tier a kernel description is emitted for. The
// methods hide what differs between AVX2 and AVX-512 (register width, where
// constants live, vector masks against opmask registers); the arithmetic a
// kernel emits through them is the same instruction for instruction, so the
// two variants round identically.
type isa struct {
	name  string // the suffix of the kernel names: AVX2, AVX512
	lanes int    // float32 lanes per vector
	z     bool   // AVX-512: ZMM registers, opmasks, masked tails
}

var (
	avx2   = &isa{name: "AVX2", lanes: 8}
	avx512 = &isa{name: "AVX512", lanes: 16, z: true}
)

// bytes is the width of a vector register in bytes.
func (a *isa) bytes() int { return 4 * a.lanes }

// vec allocates a vector register of the tier's width.
func (a *isa) vec() VecVirtual {
	if a.z {
		return ZMM()
	}
	return YMM()
}

// cmp returns x pred y per lane (VCMPPS predicate): a vector of all-ones
// lanes for AVX2, an opmask for AVX-512.
func (a *isa) cmp(pred uint8, x, y Op) Register {
	if a.z {
		k := K()
		VCMPPS(U8(pred), y, x, k)
		return k
	}
	m := YMM()
	VCMPPS(U8(pred), y, x, m)
	return m
}

// blend sets dst = m ? t : f per lane.
func (a *isa) blend(m Register, t, f Op, dst Register) {
	if a.z {
		VBLENDMPS(t, f, m, dst)
		return
	}
	VBLENDVPS(m, t, f, dst)
}

// subIf sets x = x - y in the lanes where m is set.
func (a *isa) subIf(m Register, x Register, y Op) {
	if a.z {
		VSUBPS(y, x, m, x)
		return
	}
	t := YMM()
	VSUBPS(y, x, t)
	VBLENDVPS(m, t, x, x)
}

// addIf sets x = x + y in the lanes where m is set.
func (a *isa) addIf(m Register, x Register, y Op) {
	if a.z {
		VADDPS(y, x, m, x)
		return
	}
	t := YMM()
	VADDPS(y, x, t)
	VBLENDVPS(m, t, x, x)
}

// round rounds x into dst with the ROUNDPS mode imm (1 floor, 3 truncate).
func (a *isa) round(imm uint8, x, dst Register) {
	if a.z {
		VRNDSCALEPS(U8(imm), x, dst)
		return
	}
	VROUNDPS(U8(imm), x, dst)
}

// Constant tables. Each holds 64 bytes (16 dwords), so one table serves
// both tiers: AVX2 reads its first 32 bytes. Tables are emitted once, the
// first time a kernel asks for them.
var tables = map[string]Mem{}

func table(name string, dw [16]uint32) Mem {
	if m, ok := tables[name]; ok {
		return m
	}
	m := GLOBL(name, RODATA|NOPTR)
	for i, v := range dw {
		DATA(4*i, U32(v))
	}
	tables[name] = m
	return m
}

// splat is a table of one dword (a float32's bits, or an int32) in every lane.
func splat(name string, bits uint32) Mem {
	var dw [16]uint32
	for i := range dw {
		dw[i] = bits
	}
	return table(name, dw)
}

// bytes16 is a table of one 16-byte pattern (two little-endian quadwords)
// in each 128-bit lane.
func bytes16(name string, lo, hi uint64) Mem {
	var dw [16]uint32
	for l := 0; l < 4; l++ {
		dw[4*l], dw[4*l+1] = uint32(lo), uint32(lo>>32)
		dw[4*l+2], dw[4*l+3] = uint32(hi), uint32(hi>>32)
	}
	return table(name, dw)
}

// consts hands a kernel its constant tables: for AVX-512 every one is
// loaded once into a register before the loop (32 registers leave room);
// for AVX2 they stay memory operands, loaded into a register at the point
// of use only where the instruction needs one.
type consts struct {
	a    *isa
	mem  map[string]Mem
	regs map[string]VecVirtual
}

// The names in memOnly stay memory operands on AVX-512 too (where a kernel
// has more constants than registers to spare).
func (a *isa) consts(tabs map[string]Mem, memOnly ...string) *consts {
	c := &consts{a: a, mem: tabs, regs: map[string]VecVirtual{}}
	if a.z {
		for _, name := range slices.Sorted(maps.Keys(tabs)) {
			r := ZMM()
			VMOVDQU32(tabs[name], r)
			c.regs[name] = r
		}
	}
	return c
}

// keep loads the named constants into registers before the loop on AVX2
// too (AVX-512 keeps them all there already). The load is emitted where keep
// is called, and op and reg return that register from then on: a block that
// control flow can reach without passing there must take the constant from
// c.mem instead (cfBlurVAVX2's 8-wide loop does).
func (c *consts) keep(names ...string) {
	for _, name := range names {
		if _, ok := c.regs[name]; !ok {
			r := YMM()
			VMOVDQU(c.mem[name], r)
			c.regs[name] = r
		}
	}
}

// op returns the constant as an operand that may be a memory operand.
func (c *consts) op(name string) Op {
	if r, ok := c.regs[name]; ok {
		return r
	}
	m, ok := c.mem[name]
	if !ok {
		panic(fmt.Sprintf("constant %s not declared", name))
	}
	return m
}

// reg returns the constant in a register.
func (c *consts) reg(name string) Register {
	if r, ok := c.regs[name]; ok {
		return r
	}
	r := c.a.vec()
	if c.a.z {
		VMOVDQU32(c.op(name), r)
	} else {
		VMOVDQU(c.op(name), r)
	}
	return r
}

// broadcast loads the float32 parameter name into every lane of a register.
func (a *isa) broadcast(name string) VecVirtual {
	x := Load(Param(name), XMM())
	r := a.vec()
	VBROADCASTSS(x, r)
	return r
}

// byteMask sets k to the low nbytes bits (nbytes < 64 in a register;
// clobbers it not).
func byteMask(nbytes Register) Register {
	m := GP64()
	MOVQ(I64(-1), m)
	BZHIQ(nbytes, m, m)
	k := K()
	KMOVQ(m, k)
	return k
}

// pixelLoop emits the loop of a kernel over n RGB pixels (up to the label
// done, where the caller's epilogue goes), body handling
// one block of a.lanes pixels at src/dst with the given opmask (nil for
// AVX2); whole says whether the block is a whole one. AVX2: n is a multiple of 8, whole blocks only. AVX-512: whole
// blocks of 16 under a 48-byte mask, then one block of the n%16 pixels
// left under a mask of their 3*(n%16) bytes, so nothing outside the n
// pixels is read or written; in that last block n holds the number of
// pixels left.
func (a *isa) pixelLoop(n Register, body func(k Register, whole bool), advance func()) {
	if !a.z {
		SHRQ(U8(3), n)
		JZ(LabelRef("done"))
		Label("loop")
		body(nil, true)
		advance()
		DECQ(n)
		JNZ(LabelRef("loop"))
		Label("done")
		return
	}
	full := GP64()
	MOVQ(U64(1<<48-1), full)
	kf := K()
	KMOVQ(full, kf)
	Label("loop")
	CMPQ(n, U8(16))
	JB(LabelRef("tail"))
	body(kf, true)
	advance()
	SUBQ(U8(16), n)
	JMP(LabelRef("loop"))
	Label("tail")
	TESTQ(n, n)
	JZ(LabelRef("done"))
	nb := GP64()
	LEAQ(Mem{Base: n, Index: n, Scale: 2}, nb)
	body(byteMask(nb), false)
	Label("done")
}

// zero clears the vector register v (EVEX for AVX-512, where v may be one
// of the 16 registers VEX cannot name).
func (a *isa) zero(v Register) {
	if a.z {
		VPXORD(v, v, v)
		return
	}
	VPXOR(v, v, v)
}

// ret ends a kernel.
func ret() {
	VZEROUPPER()
	RET()
}
