//go:build amd64 && !purego && !noasm

#include "textflag.h"

// VPSHUFB masks of grayExpandAVX2: output bytes 0-15, 16-31 and 32-47 of 16
// gray pixels, each byte j taking input byte j/3.
DATA grayExp0<>+0(SB)/8, $0x0202010101000000
DATA grayExp0<>+8(SB)/8, $0x0504040403030302
GLOBL grayExp0<>(SB), RODATA|NOPTR, $16
DATA grayExp1<>+0(SB)/8, $0x0707070606060505
DATA grayExp1<>+8(SB)/8, $0x0a0a090909080808
GLOBL grayExp1<>(SB), RODATA|NOPTR, $16
DATA grayExp2<>+0(SB)/8, $0x0d0c0c0c0b0b0b0a
DATA grayExp2<>+8(SB)/8, $0x0f0f0f0e0e0e0d0d
GLOBL grayExp2<>(SB), RODATA|NOPTR, $16

// VPSHUFB masks of rgbTakeRAVX2: the red bytes of pixels 0-5 (in the first
// 16 bytes), 6-10 (in the second) and 11-15 (in the third), each to its
// output position, zeros elsewhere.
DATA grayTakeA<>+0(SB)/8, $0x80800f0c09060300
DATA grayTakeA<>+8(SB)/8, $0x8080808080808080
GLOBL grayTakeA<>(SB), RODATA|NOPTR, $16
DATA grayTakeB<>+0(SB)/8, $0x0502808080808080
DATA grayTakeB<>+8(SB)/8, $0x80808080800e0b08
GLOBL grayTakeB<>(SB), RODATA|NOPTR, $16
DATA grayTakeC<>+0(SB)/8, $0x8080808080808080
DATA grayTakeC<>+8(SB)/8, $0x0d0a070401808080
GLOBL grayTakeC<>(SB), RODATA|NOPTR, $16

// func grayExpandAVX2(out, in *uint8, n int)
//
// out[3x], out[3x+1], out[3x+2] = in[x] for x < n, n a multiple of 16:
// one 16-byte load, three shuffles and three 16-byte stores per 16 pixels.
TEXT ·grayExpandAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ in+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   gedone
	VMOVDQU grayExp0<>(SB), X13
	VMOVDQU grayExp1<>(SB), X14
	VMOVDQU grayExp2<>(SB), X15

geloop:
	VMOVDQU (SI), X0
	VPSHUFB X13, X0, X1
	VPSHUFB X14, X0, X2
	VPSHUFB X15, X0, X3
	VMOVDQU X1, (DI)
	VMOVDQU X2, 16(DI)
	VMOVDQU X3, 32(DI)
	ADDQ $16, SI
	ADDQ $48, DI
	DECQ CX
	JNZ  geloop

gedone:
	VZEROUPPER
	RET

// func rgbTakeRAVX2(out, row *uint8, n int)
//
// out[x] = row[3x] for x < n, n a multiple of 16: three 16-byte loads (the
// 48 bytes of the 16 pixels, no more), three shuffles, two ORs and one
// store per 16 pixels.
TEXT ·rgbTakeRAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ row+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   trdone
	VMOVDQU grayTakeA<>(SB), X13
	VMOVDQU grayTakeB<>(SB), X14
	VMOVDQU grayTakeC<>(SB), X15

trloop:
	VMOVDQU (SI), X0
	VMOVDQU 16(SI), X1
	VMOVDQU 32(SI), X2
	VPSHUFB X13, X0, X0
	VPSHUFB X14, X1, X1
	VPSHUFB X15, X2, X2
	VPOR    X1, X0, X0
	VPOR    X2, X0, X0
	VMOVDQU X0, (DI)
	ADDQ $48, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  trloop

trdone:
	VZEROUPPER
	RET
