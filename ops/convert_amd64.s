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

DATA convertInvHi<>+0(SB)/4, $0x3b808081 // float32(1/255)
GLOBL convertInvHi<>(SB), RODATA|NOPTR, $4
DATA convertInvLo<>+0(SB)/4, $0xaf7efeff // float32(1/255 - float64(float32(1/255)))
GLOBL convertInvLo<>(SB), RODATA|NOPTR, $4

// Dword permutation putting pixels 0-3 (bytes 0-11) of a 32-byte load in
// the low lane and pixels 4-7 (bytes 12-23) in the high lane.
DATA convertLdPerm<>+0(SB)/4, $0
DATA convertLdPerm<>+4(SB)/4, $1
DATA convertLdPerm<>+8(SB)/4, $2
DATA convertLdPerm<>+12(SB)/4, $2
DATA convertLdPerm<>+16(SB)/4, $3
DATA convertLdPerm<>+20(SB)/4, $4
DATA convertLdPerm<>+24(SB)/4, $5
DATA convertLdPerm<>+28(SB)/4, $5
GLOBL convertLdPerm<>(SB), RODATA|NOPTR, $32

// In-lane VPSHUFB masks taking channel c of the lane's 4 pixels to
// zero-extended int32s.
DATA convertLdR<>+0(SB)/8, $0x8080800380808000
DATA convertLdR<>+8(SB)/8, $0x8080800980808006
DATA convertLdR<>+16(SB)/8, $0x8080800380808000
DATA convertLdR<>+24(SB)/8, $0x8080800980808006
GLOBL convertLdR<>(SB), RODATA|NOPTR, $32
DATA convertLdG<>+0(SB)/8, $0x8080800480808001
DATA convertLdG<>+8(SB)/8, $0x8080800a80808007
DATA convertLdG<>+16(SB)/8, $0x8080800480808001
DATA convertLdG<>+24(SB)/8, $0x8080800a80808007
GLOBL convertLdG<>(SB), RODATA|NOPTR, $32
DATA convertLdB<>+0(SB)/8, $0x8080800580808002
DATA convertLdB<>+8(SB)/8, $0x8080800b80808008
DATA convertLdB<>+16(SB)/8, $0x8080800580808002
DATA convertLdB<>+24(SB)/8, $0x8080800b80808008
GLOBL convertLdB<>(SB), RODATA|NOPTR, $32

// func convertRow3PlainAVX2(d0, d1, d2 *float32, row *uint8, n int)
//
// convertRow3AVX2 with mean 0 and std 1 (d_c[x] = float32(row[3x+c])/255)
// over n pixels, n a multiple of 8, without a division: the 24 bytes of 8
// pixels come from one 32-byte load (8 bytes past them are read, so the
// caller guarantees them), VPERMD and one VPSHUFB per channel; x/255 is
// x*I + float32(x*L) by one FMA (I = float32(1/255), L the rest of 1/255),
// which gives the bits of the division for all 256 bytes
// (TestConvertAllBytes).
TEXT ·convertRow3PlainAVX2(SB), NOSPLIT, $0-40
	MOVQ d0+0(FP), DI
	MOVQ d1+8(FP), R8
	MOVQ d2+16(FP), R9
	MOVQ row+24(FP), SI
	MOVQ n+32(FP), CX
	VMOVDQU convertLdPerm<>(SB), Y15
	VMOVDQU convertLdR<>(SB), Y12
	VMOVDQU convertLdG<>(SB), Y13
	VMOVDQU convertLdB<>(SB), Y14
	VBROADCASTSS convertInvHi<>(SB), Y10
	VBROADCASTSS convertInvLo<>(SB), Y11
	XORQ AX, AX

cploop:
	CMPQ AX, CX
	JGE  cpdone
	VPERMD    (SI), Y15, Y0
	VPSHUFB   Y12, Y0, Y1
	VPSHUFB   Y13, Y0, Y2
	VPSHUFB   Y14, Y0, Y3
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS      Y11, Y1, Y4
	VMULPS      Y11, Y2, Y5
	VMULPS      Y11, Y3, Y6
	VFMADD231PS Y10, Y1, Y4
	VFMADD231PS Y10, Y2, Y5
	VFMADD231PS Y10, Y3, Y6
	VMOVUPS   Y4, (DI)(AX*4)
	VMOVUPS   Y5, (R8)(AX*4)
	VMOVUPS   Y6, (R9)(AX*4)
	ADDQ $24, SI
	ADDQ $8, AX
	JMP  cploop

cpdone:
	VZEROUPPER
	RET
