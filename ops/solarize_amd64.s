//go:build amd64 && !purego && !noasm

#include "textflag.h"

// func cfSolarizeAVX2(p *uint8, n int, th uint8)
// p[i] = p[i] >= th ? 255-p[i] : p[i]: x >= th iff max(x, th) == x, and
// 255-x == ^x.
TEXT ·cfSolarizeAVX2(SB), NOSPLIT, $0-17
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPBROADCASTB th+16(FP), Y15
	VPCMPEQB Y14, Y14, Y14 // all ones
	SHRQ $5, CX
	JZ   soldone

solloop:
	VMOVDQU (SI), Y0
	VPMAXUB Y15, Y0, Y1
	VPCMPEQB Y0, Y1, Y1    // x >= th
	VPXOR   Y14, Y0, Y2    // 255 - x
	VPBLENDVB Y1, Y2, Y0, Y0
	VMOVDQU Y0, (SI)
	ADDQ $32, SI
	DECQ CX
	JNZ  solloop

soldone:
	VZEROUPPER
	RET
