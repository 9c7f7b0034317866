//go:build amd64 && !purego && !noasm

#include "textflag.h"

// AVX2 colour kernels. Every one computes, lane by lane, exactly the float32
// operations of its reference in color_kernels.go, in the same order and
// without fused multiply-adds, so the output bytes are identical.

DATA cfLR<>+0(SB)/4, $0x3e99096c
DATA cfLR<>+4(SB)/4, $0x3e99096c
DATA cfLR<>+8(SB)/4, $0x3e99096c
DATA cfLR<>+12(SB)/4, $0x3e99096c
DATA cfLR<>+16(SB)/4, $0x3e99096c
DATA cfLR<>+20(SB)/4, $0x3e99096c
DATA cfLR<>+24(SB)/4, $0x3e99096c
DATA cfLR<>+28(SB)/4, $0x3e99096c
GLOBL cfLR<>(SB), RODATA|NOPTR, $32

DATA cfLG<>+0(SB)/4, $0x3f1645a2
DATA cfLG<>+4(SB)/4, $0x3f1645a2
DATA cfLG<>+8(SB)/4, $0x3f1645a2
DATA cfLG<>+12(SB)/4, $0x3f1645a2
DATA cfLG<>+16(SB)/4, $0x3f1645a2
DATA cfLG<>+20(SB)/4, $0x3f1645a2
DATA cfLG<>+24(SB)/4, $0x3f1645a2
DATA cfLG<>+28(SB)/4, $0x3f1645a2
GLOBL cfLG<>(SB), RODATA|NOPTR, $32

DATA cfLB<>+0(SB)/4, $0x3de978d5
DATA cfLB<>+4(SB)/4, $0x3de978d5
DATA cfLB<>+8(SB)/4, $0x3de978d5
DATA cfLB<>+12(SB)/4, $0x3de978d5
DATA cfLB<>+16(SB)/4, $0x3de978d5
DATA cfLB<>+20(SB)/4, $0x3de978d5
DATA cfLB<>+24(SB)/4, $0x3de978d5
DATA cfLB<>+28(SB)/4, $0x3de978d5
GLOBL cfLB<>(SB), RODATA|NOPTR, $32

DATA cfMG0<>+0(SB)/8, $0x0202010101000000
DATA cfMG0<>+8(SB)/8, $0x0504040403030302
GLOBL cfMG0<>(SB), RODATA|NOPTR, $16

DATA cfMG1<>+0(SB)/8, $0x0707070606060505
DATA cfMG1<>+8(SB)/8, $0x8080808080808080
GLOBL cfMG1<>(SB), RODATA|NOPTR, $16

DATA cfLdPerm<>+0(SB)/4, $0
DATA cfLdPerm<>+4(SB)/4, $1
DATA cfLdPerm<>+8(SB)/4, $2
DATA cfLdPerm<>+12(SB)/4, $2
DATA cfLdPerm<>+16(SB)/4, $3
DATA cfLdPerm<>+20(SB)/4, $4
DATA cfLdPerm<>+24(SB)/4, $5
DATA cfLdPerm<>+28(SB)/4, $5
GLOBL cfLdPerm<>(SB), RODATA|NOPTR, $32
DATA cfLdR<>+0(SB)/8, $0x8080800380808000
DATA cfLdR<>+8(SB)/8, $0x8080800980808006
DATA cfLdR<>+16(SB)/8, $0x8080800380808000
DATA cfLdR<>+24(SB)/8, $0x8080800980808006
GLOBL cfLdR<>(SB), RODATA|NOPTR, $32
DATA cfLdG<>+0(SB)/8, $0x8080800480808001
DATA cfLdG<>+8(SB)/8, $0x8080800a80808007
DATA cfLdG<>+16(SB)/8, $0x8080800480808001
DATA cfLdG<>+24(SB)/8, $0x8080800a80808007
GLOBL cfLdG<>(SB), RODATA|NOPTR, $32
DATA cfLdB<>+0(SB)/8, $0x8080800580808002
DATA cfLdB<>+8(SB)/8, $0x8080800b80808008
DATA cfLdB<>+16(SB)/8, $0x8080800580808002
DATA cfLdB<>+24(SB)/8, $0x8080800b80808008
GLOBL cfLdB<>(SB), RODATA|NOPTR, $32

// LOADRGB8 reads 8 RGB pixels (24 bytes) at SI into Y0 (R), Y1 (G) and Y2
// (B) as float32. It loads 32 bytes: the caller guarantees 8 readable bytes
// after the 24 (the Go wrappers leave a last block without them to the
// reference, see cfWideLoadPixels). VPERMD puts pixels 0-3 (bytes 0-11) in
// the low lane and 4-7 (bytes 12-23) in the high lane; one in-lane VPSHUFB
// per channel then picks the channel's bytes as zero-extended int32s.
// Clobbers Y3.
#define LOADRGB8 \
	VMOVDQU cfLdPerm<>(SB), Y3; \
	VPERMD  (SI), Y3, Y3; \
	VPSHUFB cfLdR<>(SB), Y3, Y0; \
	VPSHUFB cfLdG<>(SB), Y3, Y1; \
	VPSHUFB cfLdB<>(SB), Y3, Y2; \
	VCVTDQ2PS Y0, Y0; \
	VCVTDQ2PS Y1, Y1; \
	VCVTDQ2PS Y2, Y2

// LUMA sets Y3 to the truncated luma (int32) of Y0, Y1, Y2:
// trunc((0.2989*R + 0.587*G) + 0.114*B). Clobbers Y4.
#define LUMA \
	VMULPS cfLR<>(SB), Y0, Y3; \
	VMULPS cfLG<>(SB), Y1, Y4; \
	VADDPS Y4, Y3, Y3; \
	VMULPS cfLB<>(SB), Y2, Y4; \
	VADDPS Y4, Y3, Y3; \
	VCVTTPS2DQ Y3, Y3

// func cfGray1AVX2(dst, src *uint8, n int)
TEXT ·cfGray1AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   g1done

g1loop:
	LOADRGB8
	LUMA
	VEXTRACTI128 $1, Y3, X4
	VPACKUSDW X4, X3, X3
	VPACKUSWB X3, X3, X3
	VMOVQ X3, (DI)
	ADDQ $24, SI
	ADDQ $8, DI
	DECQ CX
	JNZ  g1loop

g1done:
	VZEROUPPER
	RET

// func cfGray3AVX2(dst, src *uint8, n int)
TEXT ·cfGray3AVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   g3done

g3loop:
	LOADRGB8
	LUMA
	VEXTRACTI128 $1, Y3, X4
	VPACKUSDW X4, X3, X3
	VPACKUSWB X3, X3, X3
	VPSHUFB cfMG0<>(SB), X3, X4
	VPSHUFB cfMG1<>(SB), X3, X5
	VMOVDQU X4, (DI)
	VMOVQ   X5, 16(DI)
	ADDQ $24, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  g3loop

g3done:
	VZEROUPPER
	RET

// func cfLumaSumAVX2(p *uint8, n int) uint64
TEXT ·cfLumaSumAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPXOR Y8, Y8, Y8
	SHRQ $3, CX
	JZ   lsdone

lsloop:
	LOADRGB8
	LUMA
	VPADDD Y3, Y8, Y8
	ADDQ $24, SI
	DECQ CX
	JNZ  lsloop

lsdone:
	VPXOR X9, X9, X9
	VPUNPCKLDQ Y9, Y8, Y0 // widen the eight int32 sums to int64
	VPUNPCKHDQ Y9, Y8, Y1
	VPADDQ Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET

// func cfSumU8AVX2(p *uint8, n int) uint64
TEXT ·cfSumU8AVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	SHRQ $5, CX
	JZ   sumdone

sumloop:
	VMOVDQU (SI), Y2
	VPSADBW Y1, Y2, Y2 // four 64-bit partial sums of 8 bytes each
	VPADDQ  Y2, Y0, Y0
	ADDQ $32, SI
	DECQ CX
	JNZ  sumloop

sumdone:
	VEXTRACTI128 $1, Y0, X1
	VPADDQ X1, X0, X0
	VPSHUFD $0x4e, X0, X1
	VPADDQ X1, X0, X0
	VMOVQ X0, AX
	MOVQ AX, ret+16(FP)
	VZEROUPPER
	RET
