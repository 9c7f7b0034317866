//go:build amd64 && !purego && !noasm

#include "textflag.h"

// VPSHUFB mask packing four 0x00BBGGRR dwords of a lane into 12 bytes.
DATA yccPack<>+0(SB)/8, $0x0908060504020100
DATA yccPack<>+8(SB)/8, $0x808080800e0d0c0a
DATA yccPack<>+16(SB)/8, $0x0908060504020100
DATA yccPack<>+24(SB)/8, $0x808080800e0d0c0a
GLOBL yccPack<>(SB), RODATA|NOPTR, $32

// func yccRow2AVX2(o, y, cb, cr *uint8, n int)
TEXT ·yccRow2AVX2(SB), NOSPLIT, $0-40
	MOVQ o+0(FP), DI
	MOVQ y+8(FP), SI
	MOVQ cb+16(FP), DX
	MOVQ cr+24(FP), R8
	MOVQ n+32(FP), CX

	MOVL         $0x10101, AX
	VMOVD        AX, X8
	VPBROADCASTD X8, Y8
	MOVL         $128, AX
	VMOVD        AX, X9
	VPBROADCASTD X9, Y9
	MOVL         $91881, AX
	VMOVD        AX, X10
	VPBROADCASTD X10, Y10
	MOVL         $-22554, AX
	VMOVD        AX, X11
	VPBROADCASTD X11, Y11
	MOVL         $-46802, AX
	VMOVD        AX, X12
	VPBROADCASTD X12, Y12
	MOVL         $116130, AX
	VMOVD        AX, X13
	VPBROADCASTD X13, Y13
	MOVL         $0xffffff, AX
	VMOVD        AX, X14
	VPBROADCASTD X14, Y14
	VPXOR        Y15, Y15, Y15
	VMOVDQU      yccPack<>(SB), Y7

loop:
	CMPQ CX, $8
	JLT  done

	// yy = y * 0x10101
	VPMOVZXBD (SI), Y0
	VPMULLD   Y8, Y0, Y0

	// b1, r1: four chroma samples, each for two pixels, minus 128.
	VMOVD      (DX), X1
	VPUNPCKLBW X1, X1, X1
	VPMOVZXBD  X1, Y1
	VPSUBD     Y9, Y1, Y1
	VMOVD      (R8), X2
	VPUNPCKLBW X2, X2, X2
	VPMOVZXBD  X2, Y2
	VPSUBD     Y9, Y2, Y2

	VPMULLD Y10, Y2, Y3 // 91881*r1
	VPMULLD Y11, Y1, Y4 // -22554*b1
	VPMULLD Y12, Y2, Y5 // -46802*r1
	VPADDD  Y5, Y4, Y4
	VPMULLD Y13, Y1, Y5 // 116130*b1
	VPADDD  Y0, Y3, Y3
	VPADDD  Y0, Y4, Y4
	VPADDD  Y0, Y5, Y5

	VPMAXSD Y15, Y3, Y3
	VPMINSD Y14, Y3, Y3
	VPSRLD  $16, Y3, Y3
	VPMAXSD Y15, Y4, Y4
	VPMINSD Y14, Y4, Y4
	VPSRLD  $16, Y4, Y4
	VPMAXSD Y15, Y5, Y5
	VPMINSD Y14, Y5, Y5
	VPSRLD  $16, Y5, Y5

	// 0x00BBGGRR per pixel, then 12 bytes per lane.
	VPSLLD       $8, Y4, Y4
	VPSLLD       $16, Y5, Y5
	VPOR         Y4, Y3, Y3
	VPOR         Y5, Y3, Y3
	VPSHUFB      Y7, Y3, Y3
	VMOVDQU      X3, (DI)
	VEXTRACTI128 $1, Y3, X4
	VMOVDQU      X4, 12(DI)

	ADDQ $8, SI
	ADDQ $4, DX
	ADDQ $4, R8
	ADDQ $24, DI
	SUBQ $8, CX
	JMP  loop

done:
	VZEROUPPER
	RET
