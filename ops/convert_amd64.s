//go:build amd64 && !purego && !noasm

#include "textflag.h"

DATA convert255<>+0(SB)/4, $0x437f0000 // 255.0
GLOBL convert255<>(SB), RODATA|NOPTR, $4

// VPSHUFB masks picking channel c of 8 RGB pixels: A from bytes 0..15,
// B from bytes 16..23 (loaded into the low half of a register).
DATA convertC0A<>+0(SB)/8, $0x80800f0c09060300
DATA convertC0A<>+8(SB)/8, $0x8080808080808080
GLOBL convertC0A<>(SB), RODATA|NOPTR, $16
DATA convertC0B<>+0(SB)/8, $0x0502808080808080
DATA convertC0B<>+8(SB)/8, $0x8080808080808080
GLOBL convertC0B<>(SB), RODATA|NOPTR, $16
DATA convertC1A<>+0(SB)/8, $0x8080800d0a070401
DATA convertC1A<>+8(SB)/8, $0x8080808080808080
GLOBL convertC1A<>(SB), RODATA|NOPTR, $16
DATA convertC1B<>+0(SB)/8, $0x0603008080808080
DATA convertC1B<>+8(SB)/8, $0x8080808080808080
GLOBL convertC1B<>(SB), RODATA|NOPTR, $16
DATA convertC2A<>+0(SB)/8, $0x8080800e0b080502
DATA convertC2A<>+8(SB)/8, $0x8080808080808080
GLOBL convertC2A<>(SB), RODATA|NOPTR, $16
DATA convertC2B<>+0(SB)/8, $0x0704018080808080
DATA convertC2B<>+8(SB)/8, $0x8080808080808080
GLOBL convertC2B<>(SB), RODATA|NOPTR, $16

// func convertRow3AVX2(d0, d1, d2 *float32, row *uint8, n int, ms *[6]float32, plain bool)
TEXT ·convertRow3AVX2(SB), NOSPLIT, $0-49
	MOVQ d0+0(FP), DI
	MOVQ d1+8(FP), R8
	MOVQ d2+16(FP), R9
	MOVQ row+24(FP), SI
	MOVQ n+32(FP), CX
	MOVQ ms+40(FP), DX
	VBROADCASTSS convert255<>(SB), Y15
	VBROADCASTSS 0(DX), Y9
	VBROADCASTSS 4(DX), Y10
	VBROADCASTSS 8(DX), Y11
	VBROADCASTSS 12(DX), Y12
	VBROADCASTSS 16(DX), Y13
	VBROADCASTSS 20(DX), Y14
	MOVBQZX plain+48(FP), R10
	XORQ AX, AX

c3loop:
	CMPQ AX, CX
	JGE  c3done
	LEAQ (AX)(AX*2), BX
	VMOVDQU (SI)(BX*1), X0
	VMOVQ   16(SI)(BX*1), X1

	VPSHUFB   convertC0A<>(SB), X0, X2
	VPSHUFB   convertC0B<>(SB), X1, X3
	VPOR      X3, X2, X2
	VPMOVZXBD X2, Y2
	VCVTDQ2PS Y2, Y2
	VDIVPS    Y15, Y2, Y2
	TESTQ     R10, R10
	JNZ       c3p0
	VSUBPS    Y9, Y2, Y2
	VDIVPS    Y12, Y2, Y2

c3p0:
	VMOVUPS   Y2, (DI)(AX*4)

	VPSHUFB   convertC1A<>(SB), X0, X4
	VPSHUFB   convertC1B<>(SB), X1, X5
	VPOR      X5, X4, X4
	VPMOVZXBD X4, Y4
	VCVTDQ2PS Y4, Y4
	VDIVPS    Y15, Y4, Y4
	TESTQ     R10, R10
	JNZ       c3p1
	VSUBPS    Y10, Y4, Y4
	VDIVPS    Y13, Y4, Y4

c3p1:
	VMOVUPS   Y4, (R8)(AX*4)

	VPSHUFB   convertC2A<>(SB), X0, X6
	VPSHUFB   convertC2B<>(SB), X1, X7
	VPOR      X7, X6, X6
	VPMOVZXBD X6, Y6
	VCVTDQ2PS Y6, Y6
	VDIVPS    Y15, Y6, Y6
	TESTQ     R10, R10
	JNZ       c3p2
	VSUBPS    Y11, Y6, Y6
	VDIVPS    Y14, Y6, Y6

c3p2:
	VMOVUPS   Y6, (R9)(AX*4)

	ADDQ $8, AX
	JMP  c3loop

c3done:
	VZEROUPPER
	RET

// func convertRow1AVX2(d *float32, row *uint8, n int, ms *[6]float32, plain bool)
TEXT ·convertRow1AVX2(SB), NOSPLIT, $0-33
	MOVQ d+0(FP), DI
	MOVQ row+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ ms+24(FP), DX
	VBROADCASTSS convert255<>(SB), Y15
	VBROADCASTSS 0(DX), Y9
	VBROADCASTSS 12(DX), Y12
	MOVBQZX plain+32(FP), R10
	XORQ AX, AX

c1loop:
	CMPQ AX, CX
	JGE  c1done
	VPMOVZXBD (SI)(AX*1), Y2
	VCVTDQ2PS Y2, Y2
	VDIVPS    Y15, Y2, Y2
	TESTQ     R10, R10
	JNZ       c3p0
	VSUBPS    Y9, Y2, Y2
	VDIVPS    Y12, Y2, Y2

c3p0:
	VMOVUPS   Y2, (DI)(AX*4)
	ADDQ $8, AX
	JMP  c1loop

c1done:
	VZEROUPPER
	RET
