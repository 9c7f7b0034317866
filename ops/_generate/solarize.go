package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
)

// genSolarize emits cfSolarizeAVX2 (cfSolarizeRef), ported instruction for
// instruction from the hand-written solarize_amd64.s it replaces:
// x >= th iff max(x, th) == x, and 255-x == ^x, 32 bytes per step.
func genSolarize() {
	TEXT("cfSolarizeAVX2", NOSPLIT, "func(p *uint8, n int, th uint8)")
	Pragma("noescape")
	Doc("cfSolarizeAVX2 is cfSolarizeRef over n bytes, n a multiple of 32:",
		"p[i] = p[i] >= th ? 255-p[i] : p[i].")
	p := Load(Param("p"), GP64())
	n := Load(Param("n"), GP64())
	thp, err := Param("th").Resolve()
	if err != nil {
		panic(err)
	}
	th := YMM()
	VPBROADCASTB(thp.Addr, th)
	ones := YMM()
	VPCMPEQB(ones, ones, ones)
	SHRQ(U8(5), n)
	JZ(LabelRef("soldone"))

	Label("solloop")
	x, ge, inv := YMM(), YMM(), YMM()
	VMOVDQU(Mem{Base: p}, x)
	VPMAXUB(th, x, ge)
	VPCMPEQB(x, ge, ge) // x >= th
	VPXOR(ones, x, inv) // 255 - x
	VPBLENDVB(ge, inv, x, x)
	VMOVDQU(x, Mem{Base: p})
	ADDQ(U8(32), p)
	DECQ(n)
	JNZ(LabelRef("solloop"))

	Label("soldone")
	ret()
}
