//go:build amd64 && !purego && !noasm

#include "textflag.h"

DATA cfsF255<>+0(SB)/4, $0x437f0000
DATA cfsF255<>+4(SB)/4, $0x437f0000
DATA cfsF255<>+8(SB)/4, $0x437f0000
DATA cfsF255<>+12(SB)/4, $0x437f0000
DATA cfsF255<>+16(SB)/4, $0x437f0000
DATA cfsF255<>+20(SB)/4, $0x437f0000
DATA cfsF255<>+24(SB)/4, $0x437f0000
DATA cfsF255<>+28(SB)/4, $0x437f0000
GLOBL cfsF255<>(SB), RODATA|NOPTR, $32

// func cfSobelRowAVX2(dst, a, b, c *uint8, n int)
//
// 16 outputs per iteration: the derivatives in int16 (|g| <= 1020),
// gx^2+gy^2 with VPMADDWD (exact int32), then float32: VSQRTPS (correctly
// rounded, as the reference), round half to even, min 255.
TEXT ·cfSobelRowAVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), R8
	MOVQ b+16(FP), R9
	MOVQ c+24(FP), R10
	MOVQ n+32(FP), CX
	VMOVUPS cfsF255<>(SB), Y15
	SHRQ $4, CX
	JZ   sdone

sloop:
	VPMOVZXBW (R8), Y0      // a0
	VPMOVZXBW 1(R8), Y1     // a1
	VPMOVZXBW 2(R8), Y2     // a2
	VPMOVZXBW (R9), Y3      // b0
	VPMOVZXBW 2(R9), Y4     // b2
	VPMOVZXBW (R10), Y5     // c0
	VPMOVZXBW 1(R10), Y6    // c1
	VPMOVZXBW 2(R10), Y7    // c2
	// gx = (a2 + 2*b2 + c2) - (a0 + 2*b0 + c0)
	VPADDW Y4, Y4, Y8
	VPADDW Y2, Y8, Y8
	VPADDW Y7, Y8, Y8
	VPADDW Y3, Y3, Y9
	VPADDW Y0, Y9, Y9
	VPADDW Y5, Y9, Y9
	VPSUBW Y9, Y8, Y8       // gx
	// gy = (c0 + 2*c1 + c2) - (a0 + 2*a1 + a2)
	VPADDW Y6, Y6, Y10
	VPADDW Y5, Y10, Y10
	VPADDW Y7, Y10, Y10
	VPADDW Y1, Y1, Y11
	VPADDW Y0, Y11, Y11
	VPADDW Y2, Y11, Y11
	VPSUBW Y11, Y10, Y10    // gy
	VPUNPCKLWD Y10, Y8, Y0  // [gx,gy] pairs of samples 0-3 | 8-11
	VPUNPCKHWD Y10, Y8, Y1  // samples 4-7 | 12-15
	VPMADDWD Y0, Y0, Y0
	VPMADDWD Y1, Y1, Y1
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VSQRTPS Y0, Y0
	VSQRTPS Y1, Y1
	VROUNDPS $0, Y0, Y0
	VROUNDPS $0, Y1, Y1
	VMINPS Y15, Y0, Y0
	VMINPS Y15, Y1, Y1
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VPACKUSDW Y1, Y0, Y0    // samples 0-7 | 8-15 as words
	VPACKUSWB Y0, Y0, Y0
	VPERMQ $0x08, Y0, Y0
	VMOVDQU X0, (DI)
	ADDQ $16, DI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $16, R10
	DECQ CX
	JNZ  sloop

sdone:
	VZEROUPPER
	RET
