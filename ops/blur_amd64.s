//go:build amd64 && !purego && !noasm

#include "textflag.h"

// AVX2 Gaussian blur passes. Lane by lane they compute the same float32
// sums as cfBlurHRef/cfBlurVRef: first tap multiplied, every further tap's
// product rounded and then added, in tap order (VMULPS then VADDPS, no FMA).

DATA cfbF255<>+0(SB)/4, $0x437f0000
DATA cfbF255<>+4(SB)/4, $0x437f0000
DATA cfbF255<>+8(SB)/4, $0x437f0000
DATA cfbF255<>+12(SB)/4, $0x437f0000
DATA cfbF255<>+16(SB)/4, $0x437f0000
DATA cfbF255<>+20(SB)/4, $0x437f0000
DATA cfbF255<>+24(SB)/4, $0x437f0000
DATA cfbF255<>+28(SB)/4, $0x437f0000
GLOBL cfbF255<>(SB), RODATA|NOPTR, $32

DATA cfbPerm<>+0(SB)/4, $0
DATA cfbPerm<>+4(SB)/4, $4
DATA cfbPerm<>+8(SB)/4, $1
DATA cfbPerm<>+12(SB)/4, $5
DATA cfbPerm<>+16(SB)/4, $2
DATA cfbPerm<>+20(SB)/4, $6
DATA cfbPerm<>+24(SB)/4, $3
DATA cfbPerm<>+28(SB)/4, $7
GLOBL cfbPerm<>(SB), RODATA|NOPTR, $32

// func cfBlurHAVX2(dst, pad *float32, n int, w *float32, nw int, step int)
//
// 64 outputs per block in eight accumulators (enough independent add chains
// to hide the VADDPS latency), then 8 per block.
TEXT ·cfBlurHAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ pad+8(FP), SI
	MOVQ n+16(FP), CX
	MOVQ w+24(FP), R8
	MOVQ nw+32(FP), R9
	MOVQ step+40(FP), R10

	MOVQ CX, R14 // n, to know whether an overlapping last block fits

bh64:
	CMPQ CX, $64
	JGE  bh64go
	// Fewer than 64 outputs left: a 32-wide block while 32 are left,
	// then, if n >= 32, the last 32 outputs once more as one overlapping
	// 32-wide block (it rewrites some outputs with the same values)
	// instead of running the latency-bound 8-wide loop.
	TESTQ CX, CX
	JZ   bhdone
	CMPQ CX, $32
	JGE  bh32go
	CMPQ R14, $32
	JLT  bh8
	MOVQ $32, AX
	SUBQ CX, AX
	SHLQ $2, AX
	SUBQ AX, SI
	SUBQ AX, DI
	MOVQ $32, CX
	JMP  bh32go

bh64go:
	VBROADCASTSS (R8), Y15
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMULPS 64(SI), Y15, Y2
	VMULPS 96(SI), Y15, Y3
	VMULPS 128(SI), Y15, Y4
	VMULPS 160(SI), Y15, Y5
	VMULPS 192(SI), Y15, Y6
	VMULPS 224(SI), Y15, Y7
	LEAQ (SI)(R10*1), R11
	LEAQ 4(R8), R12
	MOVQ R9, R13
	DECQ R13
	JZ   bh64store

bh64tap:
	VBROADCASTSS (R12), Y15
	VMULPS (R11), Y15, Y8
	VMULPS 32(R11), Y15, Y9
	VMULPS 64(R11), Y15, Y10
	VMULPS 96(R11), Y15, Y11
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y10, Y2, Y2
	VADDPS Y11, Y3, Y3
	VMULPS 128(R11), Y15, Y12
	VMULPS 160(R11), Y15, Y13
	VMULPS 192(R11), Y15, Y14
	VMULPS 224(R11), Y15, Y8
	VADDPS Y12, Y4, Y4
	VADDPS Y13, Y5, Y5
	VADDPS Y14, Y6, Y6
	VADDPS Y8, Y7, Y7
	ADDQ R10, R11
	ADDQ $4, R12
	DECQ R13
	JNZ  bh64tap

bh64store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	VMOVUPS Y4, 128(DI)
	VMOVUPS Y5, 160(DI)
	VMOVUPS Y6, 192(DI)
	VMOVUPS Y7, 224(DI)
	ADDQ $256, SI
	ADDQ $256, DI
	SUBQ $64, CX
	JMP  bh64

bh32go:
	// Four accumulators: 32 outputs, same sums as the 64-wide block.
	VBROADCASTSS (R8), Y15
	VMULPS (SI), Y15, Y0
	VMULPS 32(SI), Y15, Y1
	VMULPS 64(SI), Y15, Y2
	VMULPS 96(SI), Y15, Y3
	LEAQ (SI)(R10*1), R11
	LEAQ 4(R8), R12
	MOVQ R9, R13
	DECQ R13
	JZ   bh32store

bh32tap:
	VBROADCASTSS (R12), Y15
	VMULPS (R11), Y15, Y8
	VMULPS 32(R11), Y15, Y9
	VMULPS 64(R11), Y15, Y10
	VMULPS 96(R11), Y15, Y11
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y10, Y2, Y2
	VADDPS Y11, Y3, Y3
	ADDQ R10, R11
	ADDQ $4, R12
	DECQ R13
	JNZ  bh32tap

bh32store:
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	SUBQ $32, CX
	JMP  bh64

bh8:
	CMPQ CX, $8
	JLT  bhdone
	VBROADCASTSS (R8), Y15
	VMULPS (SI), Y15, Y0
	LEAQ (SI)(R10*1), R11
	LEAQ 4(R8), R12
	MOVQ R9, R13
	DECQ R13
	JZ   bh8store

bh8tap:
	VBROADCASTSS (R12), Y15
	VMULPS (R11), Y15, Y4
	VADDPS Y4, Y0, Y0
	ADDQ R10, R11
	ADDQ $4, R12
	DECQ R13
	JNZ  bh8tap

bh8store:
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $8, CX
	JMP  bh8

bhdone:
	VZEROUPPER
	RET

// func cfBlurVAVX2(dst *uint8, tmp *float32, offs *int32, w *float32, nw int, n int)
TEXT ·cfBlurVAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ tmp+8(FP), SI
	MOVQ offs+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ nw+32(FP), R10
	MOVQ n+40(FP), CX

	MOVQ CX, R14 // n, to know whether an overlapping last block fits

bv64:
	CMPQ CX, $64
	JGE  bv64go
	// Fewer than 64 outputs left: if n >= 64, redo the last 64 outputs as
	// one more wide block (see cfBlurHAVX2).
	TESTQ CX, CX
	JZ   bvdone
	CMPQ R14, $64
	JLT  bv8
	MOVQ $64, AX
	SUBQ CX, AX
	SUBQ AX, DI
	SHLQ $2, AX
	SUBQ AX, SI
	MOVQ $64, CX

bv64go:
	MOVLQSX (R8), AX
	LEAQ (SI)(AX*4), DX
	VBROADCASTSS (R9), Y15
	VMULPS (DX), Y15, Y0
	VMULPS 32(DX), Y15, Y1
	VMULPS 64(DX), Y15, Y2
	VMULPS 96(DX), Y15, Y3
	VMULPS 128(DX), Y15, Y4
	VMULPS 160(DX), Y15, Y5
	VMULPS 192(DX), Y15, Y6
	VMULPS 224(DX), Y15, Y7
	MOVQ $1, BX

bv64tap:
	CMPQ BX, R10
	JGE  bv64out
	MOVLQSX (R8)(BX*4), AX
	LEAQ (SI)(AX*4), DX
	VBROADCASTSS (R9)(BX*4), Y15
	VMULPS (DX), Y15, Y8
	VMULPS 32(DX), Y15, Y9
	VMULPS 64(DX), Y15, Y10
	VMULPS 96(DX), Y15, Y11
	VADDPS Y8, Y0, Y0
	VADDPS Y9, Y1, Y1
	VADDPS Y10, Y2, Y2
	VADDPS Y11, Y3, Y3
	VMULPS 128(DX), Y15, Y12
	VMULPS 160(DX), Y15, Y13
	VMULPS 192(DX), Y15, Y14
	VMULPS 224(DX), Y15, Y8
	VADDPS Y12, Y4, Y4
	VADDPS Y13, Y5, Y5
	VADDPS Y14, Y6, Y6
	VADDPS Y8, Y7, Y7
	INCQ BX
	JMP  bv64tap

bv64out:
	VXORPS  Y15, Y15, Y15
	VMOVUPS cfbF255<>(SB), Y14
	VMOVDQU cfbPerm<>(SB), Y13
	VROUNDPS $0, Y0, Y0
	VROUNDPS $0, Y1, Y1
	VROUNDPS $0, Y2, Y2
	VROUNDPS $0, Y3, Y3
	VROUNDPS $0, Y4, Y4
	VROUNDPS $0, Y5, Y5
	VROUNDPS $0, Y6, Y6
	VROUNDPS $0, Y7, Y7
	VMAXPS Y15, Y0, Y0
	VMAXPS Y15, Y1, Y1
	VMAXPS Y15, Y2, Y2
	VMAXPS Y15, Y3, Y3
	VMAXPS Y15, Y4, Y4
	VMAXPS Y15, Y5, Y5
	VMAXPS Y15, Y6, Y6
	VMAXPS Y15, Y7, Y7
	VMINPS Y14, Y0, Y0
	VMINPS Y14, Y1, Y1
	VMINPS Y14, Y2, Y2
	VMINPS Y14, Y3, Y3
	VMINPS Y14, Y4, Y4
	VMINPS Y14, Y5, Y5
	VMINPS Y14, Y6, Y6
	VMINPS Y14, Y7, Y7
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	VCVTTPS2DQ Y3, Y3
	VCVTTPS2DQ Y4, Y4
	VCVTTPS2DQ Y5, Y5
	VCVTTPS2DQ Y6, Y6
	VCVTTPS2DQ Y7, Y7
	VPACKUSDW Y1, Y0, Y0
	VPACKUSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0
	VPERMD    Y0, Y13, Y0
	VMOVDQU   Y0, (DI)
	VPACKUSDW Y5, Y4, Y4
	VPACKUSDW Y7, Y6, Y6
	VPACKUSWB Y6, Y4, Y4
	VPERMD    Y4, Y13, Y4
	VMOVDQU   Y4, 32(DI)
	ADDQ $256, SI
	ADDQ $64, DI
	SUBQ $64, CX
	JMP  bv64

bv8:
	VXORPS  Y12, Y12, Y12
	VMOVUPS cfbF255<>(SB), Y13

bv8loop:
	CMPQ CX, $8
	JLT  bvdone
	MOVLQSX (R8), AX
	VBROADCASTSS (R9), Y15
	VMULPS (SI)(AX*4), Y15, Y0
	MOVQ $1, BX

bv8tap:
	CMPQ BX, R10
	JGE  bv8out
	MOVLQSX (R8)(BX*4), AX
	VBROADCASTSS (R9)(BX*4), Y15
	VMULPS (SI)(AX*4), Y15, Y4
	VADDPS Y4, Y0, Y0
	INCQ BX
	JMP  bv8tap

bv8out:
	VROUNDPS $0, Y0, Y0
	VMAXPS Y12, Y0, Y0
	VMINPS Y13, Y0, Y0
	VCVTTPS2DQ Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKUSDW X1, X0, X0
	VPACKUSWB X0, X0, X0
	VMOVQ X0, (DI)
	ADDQ $32, SI
	ADDQ $8, DI
	SUBQ $8, CX
	JMP  bv8loop

bvdone:
	VZEROUPPER
	RET

// func cfWidenAVX2(dst *float32, src *uint8, n int)
TEXT ·cfWidenAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $5, CX
	JZ   wdone

wloop:
	VPMOVZXBD (SI), Y0
	VPMOVZXBD 8(SI), Y1
	VPMOVZXBD 16(SI), Y2
	VPMOVZXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ $32, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  wloop

wdone:
	VZEROUPPER
	RET
