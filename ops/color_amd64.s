//go:build amd64 && !purego && !noasm

#include "textflag.h"

// AVX2 colour kernels. Every one computes, lane by lane, exactly the float32
// operations of its reference in color_kernels.go, in the same order and
// without fused multiply-adds, so the output bytes are identical.

DATA cfF255<>+0(SB)/4, $0x437f0000
DATA cfF255<>+4(SB)/4, $0x437f0000
DATA cfF255<>+8(SB)/4, $0x437f0000
DATA cfF255<>+12(SB)/4, $0x437f0000
DATA cfF255<>+16(SB)/4, $0x437f0000
DATA cfF255<>+20(SB)/4, $0x437f0000
DATA cfF255<>+24(SB)/4, $0x437f0000
DATA cfF255<>+28(SB)/4, $0x437f0000
GLOBL cfF255<>(SB), RODATA|NOPTR, $32

DATA cfF1<>+0(SB)/4, $0x3f800000
DATA cfF1<>+4(SB)/4, $0x3f800000
DATA cfF1<>+8(SB)/4, $0x3f800000
DATA cfF1<>+12(SB)/4, $0x3f800000
DATA cfF1<>+16(SB)/4, $0x3f800000
DATA cfF1<>+20(SB)/4, $0x3f800000
DATA cfF1<>+24(SB)/4, $0x3f800000
DATA cfF1<>+28(SB)/4, $0x3f800000
GLOBL cfF1<>(SB), RODATA|NOPTR, $32

DATA cfF2<>+0(SB)/4, $0x40000000
DATA cfF2<>+4(SB)/4, $0x40000000
DATA cfF2<>+8(SB)/4, $0x40000000
DATA cfF2<>+12(SB)/4, $0x40000000
DATA cfF2<>+16(SB)/4, $0x40000000
DATA cfF2<>+20(SB)/4, $0x40000000
DATA cfF2<>+24(SB)/4, $0x40000000
DATA cfF2<>+28(SB)/4, $0x40000000
GLOBL cfF2<>(SB), RODATA|NOPTR, $32

DATA cfF3<>+0(SB)/4, $0x40400000
DATA cfF3<>+4(SB)/4, $0x40400000
DATA cfF3<>+8(SB)/4, $0x40400000
DATA cfF3<>+12(SB)/4, $0x40400000
DATA cfF3<>+16(SB)/4, $0x40400000
DATA cfF3<>+20(SB)/4, $0x40400000
DATA cfF3<>+24(SB)/4, $0x40400000
DATA cfF3<>+28(SB)/4, $0x40400000
GLOBL cfF3<>(SB), RODATA|NOPTR, $32

DATA cfF4<>+0(SB)/4, $0x40800000
DATA cfF4<>+4(SB)/4, $0x40800000
DATA cfF4<>+8(SB)/4, $0x40800000
DATA cfF4<>+12(SB)/4, $0x40800000
DATA cfF4<>+16(SB)/4, $0x40800000
DATA cfF4<>+20(SB)/4, $0x40800000
DATA cfF4<>+24(SB)/4, $0x40800000
DATA cfF4<>+28(SB)/4, $0x40800000
GLOBL cfF4<>(SB), RODATA|NOPTR, $32

DATA cfF5<>+0(SB)/4, $0x40a00000
DATA cfF5<>+4(SB)/4, $0x40a00000
DATA cfF5<>+8(SB)/4, $0x40a00000
DATA cfF5<>+12(SB)/4, $0x40a00000
DATA cfF5<>+16(SB)/4, $0x40a00000
DATA cfF5<>+20(SB)/4, $0x40a00000
DATA cfF5<>+24(SB)/4, $0x40a00000
DATA cfF5<>+28(SB)/4, $0x40a00000
GLOBL cfF5<>(SB), RODATA|NOPTR, $32

DATA cfF6<>+0(SB)/4, $0x40c00000
DATA cfF6<>+4(SB)/4, $0x40c00000
DATA cfF6<>+8(SB)/4, $0x40c00000
DATA cfF6<>+12(SB)/4, $0x40c00000
DATA cfF6<>+16(SB)/4, $0x40c00000
DATA cfF6<>+20(SB)/4, $0x40c00000
DATA cfF6<>+24(SB)/4, $0x40c00000
DATA cfF6<>+28(SB)/4, $0x40c00000
GLOBL cfF6<>(SB), RODATA|NOPTR, $32

DATA cfInv255<>+0(SB)/4, $0x3b808081
DATA cfInv255<>+4(SB)/4, $0x3b808081
DATA cfInv255<>+8(SB)/4, $0x3b808081
DATA cfInv255<>+12(SB)/4, $0x3b808081
DATA cfInv255<>+16(SB)/4, $0x3b808081
DATA cfInv255<>+20(SB)/4, $0x3b808081
DATA cfInv255<>+24(SB)/4, $0x3b808081
DATA cfInv255<>+28(SB)/4, $0x3b808081
GLOBL cfInv255<>(SB), RODATA|NOPTR, $32

DATA cfInv6<>+0(SB)/4, $0x3e2aaaab
DATA cfInv6<>+4(SB)/4, $0x3e2aaaab
DATA cfInv6<>+8(SB)/4, $0x3e2aaaab
DATA cfInv6<>+12(SB)/4, $0x3e2aaaab
DATA cfInv6<>+16(SB)/4, $0x3e2aaaab
DATA cfInv6<>+20(SB)/4, $0x3e2aaaab
DATA cfInv6<>+24(SB)/4, $0x3e2aaaab
DATA cfInv6<>+28(SB)/4, $0x3e2aaaab
GLOBL cfInv6<>(SB), RODATA|NOPTR, $32

// Low parts of 1/255 and 1/6 (float32(1/D - float64(float32(1/D)))), for
// DIVEXACT2.
DATA cfInv255Lo<>+0(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+4(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+8(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+12(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+16(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+20(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+24(SB)/4, $0xaf7efeff
DATA cfInv255Lo<>+28(SB)/4, $0xaf7efeff
GLOBL cfInv255Lo<>(SB), RODATA|NOPTR, $32

DATA cfInv6Lo<>+0(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+4(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+8(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+12(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+16(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+20(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+24(SB)/4, $0xb1aaaaab
DATA cfInv6Lo<>+28(SB)/4, $0xb1aaaaab
GLOBL cfInv6Lo<>(SB), RODATA|NOPTR, $32

// Sector tables of the inverse hue step, indexed by the sector i =
// floor(h*6) in 0..6 (6 is sector 0): channel c of sector i takes the value
// v*(1 - s*x) with x = A[i] + B[i]*f, which is x = 0 (v), 1 (p), f (q) or
// 1-f (t): red v q p p t v, green t v v q p p, blue p p t v v q.
DATA cfHueAR<>+0(SB)/4, $0x00000000
DATA cfHueAR<>+4(SB)/4, $0x00000000
DATA cfHueAR<>+8(SB)/4, $0x3f800000
DATA cfHueAR<>+12(SB)/4, $0x3f800000
DATA cfHueAR<>+16(SB)/4, $0x3f800000
DATA cfHueAR<>+20(SB)/4, $0x00000000
DATA cfHueAR<>+24(SB)/4, $0x00000000
DATA cfHueAR<>+28(SB)/4, $0x00000000
GLOBL cfHueAR<>(SB), RODATA|NOPTR, $32
DATA cfHueBR<>+0(SB)/4, $0x00000000
DATA cfHueBR<>+4(SB)/4, $0x3f800000
DATA cfHueBR<>+8(SB)/4, $0x00000000
DATA cfHueBR<>+12(SB)/4, $0x00000000
DATA cfHueBR<>+16(SB)/4, $0xbf800000
DATA cfHueBR<>+20(SB)/4, $0x00000000
DATA cfHueBR<>+24(SB)/4, $0x00000000
DATA cfHueBR<>+28(SB)/4, $0x00000000
GLOBL cfHueBR<>(SB), RODATA|NOPTR, $32
DATA cfHueAG<>+0(SB)/4, $0x3f800000
DATA cfHueAG<>+4(SB)/4, $0x00000000
DATA cfHueAG<>+8(SB)/4, $0x00000000
DATA cfHueAG<>+12(SB)/4, $0x00000000
DATA cfHueAG<>+16(SB)/4, $0x3f800000
DATA cfHueAG<>+20(SB)/4, $0x3f800000
DATA cfHueAG<>+24(SB)/4, $0x3f800000
DATA cfHueAG<>+28(SB)/4, $0x00000000
GLOBL cfHueAG<>(SB), RODATA|NOPTR, $32
DATA cfHueBG<>+0(SB)/4, $0xbf800000
DATA cfHueBG<>+4(SB)/4, $0x00000000
DATA cfHueBG<>+8(SB)/4, $0x00000000
DATA cfHueBG<>+12(SB)/4, $0x3f800000
DATA cfHueBG<>+16(SB)/4, $0x00000000
DATA cfHueBG<>+20(SB)/4, $0x00000000
DATA cfHueBG<>+24(SB)/4, $0xbf800000
DATA cfHueBG<>+28(SB)/4, $0x00000000
GLOBL cfHueBG<>(SB), RODATA|NOPTR, $32
DATA cfHueAB<>+0(SB)/4, $0x3f800000
DATA cfHueAB<>+4(SB)/4, $0x3f800000
DATA cfHueAB<>+8(SB)/4, $0x3f800000
DATA cfHueAB<>+12(SB)/4, $0x00000000
DATA cfHueAB<>+16(SB)/4, $0x00000000
DATA cfHueAB<>+20(SB)/4, $0x00000000
DATA cfHueAB<>+24(SB)/4, $0x3f800000
DATA cfHueAB<>+28(SB)/4, $0x00000000
GLOBL cfHueAB<>(SB), RODATA|NOPTR, $32
DATA cfHueBB<>+0(SB)/4, $0x00000000
DATA cfHueBB<>+4(SB)/4, $0x00000000
DATA cfHueBB<>+8(SB)/4, $0xbf800000
DATA cfHueBB<>+12(SB)/4, $0x00000000
DATA cfHueBB<>+16(SB)/4, $0x00000000
DATA cfHueBB<>+20(SB)/4, $0x3f800000
DATA cfHueBB<>+24(SB)/4, $0x00000000
DATA cfHueBB<>+28(SB)/4, $0x00000000
GLOBL cfHueBB<>(SB), RODATA|NOPTR, $32

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

DATA cfPerm<>+0(SB)/4, $0
DATA cfPerm<>+4(SB)/4, $4
DATA cfPerm<>+8(SB)/4, $1
DATA cfPerm<>+12(SB)/4, $5
DATA cfPerm<>+16(SB)/4, $2
DATA cfPerm<>+20(SB)/4, $6
DATA cfPerm<>+24(SB)/4, $3
DATA cfPerm<>+28(SB)/4, $7
GLOBL cfPerm<>(SB), RODATA|NOPTR, $32

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

DATA cfStPerm<>+0(SB)/4, $0
DATA cfStPerm<>+4(SB)/4, $1
DATA cfStPerm<>+8(SB)/4, $2
DATA cfStPerm<>+12(SB)/4, $4
DATA cfStPerm<>+16(SB)/4, $5
DATA cfStPerm<>+20(SB)/4, $6
DATA cfStPerm<>+24(SB)/4, $7
DATA cfStPerm<>+28(SB)/4, $7
GLOBL cfStPerm<>(SB), RODATA|NOPTR, $32
DATA cfStI<>+0(SB)/8, $0x0602090501080400
DATA cfStI<>+8(SB)/8, $0x808080800b07030a
DATA cfStI<>+16(SB)/8, $0x0602090501080400
DATA cfStI<>+24(SB)/8, $0x808080800b07030a
GLOBL cfStI<>(SB), RODATA|NOPTR, $32

// STORERGB8 packs the int32 samples (0..255) of Y0 (R), Y1 (G), Y2 (B) and
// writes 8 interleaved RGB pixels (24 bytes, no more) at DI: per lane the
// packs give R0-3 G0-3 B0-3 (pixels 0-3 low, 4-7 high), one in-lane VPSHUFB
// interleaves them into 12 bytes, VPERMD (index Y15 = cfStPerm) joins the
// two lanes' 12 bytes. Clobbers Y0-Y2.
#define STORERGB8 \
	VPACKUSDW Y1, Y0, Y0; \
	VPACKUSDW Y2, Y2, Y2; \
	VPACKUSWB Y2, Y0, Y0; \
	VPSHUFB cfStI<>(SB), Y0, Y0; \
	VPERMD    Y0, Y15, Y0; \
	VMOVDQU X0, (DI); \
	VEXTRACTI128 $1, Y0, X1; \
	VMOVQ   X1, 16(DI)

// func cfAffineAVX2(dst, src *uint8, n int, a, b float32)
//
// The references clamp to [0, 255] before truncating. Here only the upper
// clamp is done in float32: a negative sum truncates to a negative int32
// (or to 0), which VPACKUSDW saturates to 0, giving the same byte.
TEXT ·cfAffineAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS b+28(FP), Y13
	VMOVDQU cfF255<>(SB), Y11
	VMOVDQU cfPerm<>(SB), Y15
	SHRQ $5, CX
	JZ   affdone

affloop:
	VPMOVZXBD (SI), Y0
	VPMOVZXBD 8(SI), Y1
	VPMOVZXBD 16(SI), Y2
	VPMOVZXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VMULPS Y14, Y3, Y3
	VADDPS Y13, Y0, Y0
	VADDPS Y13, Y1, Y1
	VADDPS Y13, Y2, Y2
	VADDPS Y13, Y3, Y3
	VMINPS Y11, Y0, Y0
	VMINPS Y11, Y1, Y1
	VMINPS Y11, Y2, Y2
	VMINPS Y11, Y3, Y3
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	VCVTTPS2DQ Y3, Y3
	VPACKUSDW Y1, Y0, Y0
	VPACKUSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0
	VPERMD    Y0, Y15, Y0
	VMOVDQU   Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  affloop

affdone:
	VZEROUPPER
	RET

// func cfScaleAVX2(dst, src *uint8, n int, a float32)
//
// cfAffineAVX2 with b == 0 (brightness): the reference's float32(a*x) + 0
// is float32(a*x) itself (a*x >= 0), so the addition is left out.
TEXT ·cfScaleAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VMOVDQU cfF255<>(SB), Y11
	VMOVDQU cfPerm<>(SB), Y15
	SHRQ $5, CX
	JZ   scdone

scloop:
	VPMOVZXBD (SI), Y0
	VPMOVZXBD 8(SI), Y1
	VPMOVZXBD 16(SI), Y2
	VPMOVZXBD 24(SI), Y3
	VCVTDQ2PS Y0, Y0
	VCVTDQ2PS Y1, Y1
	VCVTDQ2PS Y2, Y2
	VCVTDQ2PS Y3, Y3
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VMULPS Y14, Y3, Y3
	VMINPS Y11, Y0, Y0
	VMINPS Y11, Y1, Y1
	VMINPS Y11, Y2, Y2
	VMINPS Y11, Y3, Y3
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	VCVTTPS2DQ Y3, Y3
	VPACKUSDW Y1, Y0, Y0
	VPACKUSDW Y3, Y2, Y2
	VPACKUSWB Y2, Y0, Y0
	VPERMD    Y0, Y15, Y0
	VMOVDQU   Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  scloop

scdone:
	VZEROUPPER
	RET

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

// func cfSaturateAVX2(dst, src *uint8, n int, a, c float32)
//
// As in cfAffineAVX2, the lower clamp is left to VPACKUSDW.
TEXT ·cfSaturateAVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS a+24(FP), Y14
	VBROADCASTSS c+28(FP), Y13
	VMOVDQU cfF255<>(SB), Y11
	VMOVDQU cfStPerm<>(SB), Y15
	SHRQ $3, CX
	JZ   satdone

satloop:
	LOADRGB8
	VMULPS cfLR<>(SB), Y0, Y3
	VMULPS cfLG<>(SB), Y1, Y4
	VADDPS Y4, Y3, Y3
	VMULPS cfLB<>(SB), Y2, Y4
	VADDPS Y4, Y3, Y3
	VROUNDPS $3, Y3, Y3 // the luma as LUMA computes it, truncated in float32
	VMULPS Y13, Y3, Y3 // c*gray
	VMULPS Y14, Y0, Y0
	VMULPS Y14, Y1, Y1
	VMULPS Y14, Y2, Y2
	VADDPS Y3, Y0, Y0
	VADDPS Y3, Y1, Y1
	VADDPS Y3, Y2, Y2
	VMINPS Y11, Y0, Y0
	VMINPS Y11, Y1, Y1
	VMINPS Y11, Y2, Y2
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	STORERGB8
	ADDQ $24, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  satloop

satdone:
	VZEROUPPER
	RET

// The hue shift runs in two loops over a chunk of pixels, joined by a
// small float32 buffer: cfHueFwdAVX2 (RGB to H, S, V) and cfHueInvAVX2
// (shift, HSV to RGB). One loop doing both is one long dependency chain per
// 8 pixels (seven divisions among ~130 instructions) that fills the
// out-of-order window before the next pixels can start; two shorter chains
// overlap about twice as well. The float32 values pass through memory
// unchanged, so the bytes are those of the single-loop version.

// DIVEXACT2 sets X to X/D, correctly rounded, without a division and in
// two operations: with I = float32(1/D) and L the float32 nearest 1/D - I,
// X*I + float32(X*L) by one FMA, an error of about 2^-48 of the quotient
// before the one rounding. That this equals VDIVPS is not assumed:
// cfHueFwdAVX2 uses it only for x/255 (x an integer in [0, 255]) and h/6 (h
// a function of the pixel), and TestHueFwdAllColours compares its output
// bit for bit with the reference's divisions on all 2^24 colours. Clobbers
// Y13.
#define DIVEXACT2(X, I, L) \
	VMULPS L, X, Y13; \
	VFMADD231PS I, X, Y13; \
	VMOVAPS Y13, X

// func cfHueFwdAVX2(hsv *float32, src *uint8, n int)
//
// For each block of 8 pixels writes 24 float32s: h[8] (in [0, 1), before
// the shift), s[8], v[8].
TEXT ·cfHueFwdAVX2(SB), NOSPLIT, $0-24
	MOVQ hsv+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   hfdone

hfloop:
	LOADRGB8
	VMOVUPS cfInv255<>(SB), Y10
	VMOVUPS cfInv255Lo<>(SB), Y11
	DIVEXACT2(Y0, Y10, Y11)        // r/255
	DIVEXACT2(Y1, Y10, Y11)        // g/255
	DIVEXACT2(Y2, Y10, Y11)        // b/255
	VMAXPS Y1, Y0, Y3
	VMAXPS Y2, Y3, Y3              // maxc
	VMINPS Y1, Y0, Y4
	VMINPS Y2, Y4, Y4              // minc
	VSUBPS Y4, Y3, Y5              // cr
	VCMPPS $0, Y4, Y3, Y6          // eqc = maxc == minc
	VMOVUPS cfF1<>(SB), Y7
	VBLENDVPS Y6, Y7, Y3, Y8       // den = eqc ? 1 : maxc
	VBLENDVPS Y6, Y7, Y5, Y9       // crd = eqc ? 1 : cr
	VDIVPS Y8, Y5, Y13             // s = cr / den
	VMOVUPS Y3, 64(DI)             // v = maxc
	VMOVUPS Y13, 32(DI)
	// Only two quotients per lane: h = (off + P/crd) - N/crd with
	// (off, P, N) = (0, maxc-b, maxc-g) if maxc == r, else (2, maxc-r,
	// maxc-b) if maxc == g, else (4, maxc-g, maxc-r): torchvision's
	// bc-gc, (2+rc)-bc and (4+gc)-rc, rounded the same way.
	VSUBPS Y0, Y3, Y10             // maxc - r
	VSUBPS Y1, Y3, Y11             // maxc - g
	VSUBPS Y2, Y3, Y12             // maxc - b
	VCMPPS $0, Y1, Y3, Y8          // maxc == g
	VCMPPS $0, Y0, Y3, Y4          // maxc == r
	VBLENDVPS Y8, Y10, Y11, Y5
	VBLENDVPS Y4, Y12, Y5, Y5      // P
	VBLENDVPS Y8, Y12, Y10, Y6
	VBLENDVPS Y4, Y11, Y6, Y6      // N
	VMOVUPS cfF4<>(SB), Y10
	VBLENDVPS Y8, cfF2<>(SB), Y10, Y10
	VXORPS Y11, Y11, Y11
	VBLENDVPS Y4, Y11, Y10, Y10    // off
	VDIVPS Y9, Y5, Y5
	VADDPS Y5, Y10, Y5             // off + P/crd
	VDIVPS Y9, Y6, Y6
	VSUBPS Y6, Y5, Y6              // h
	VMOVUPS cfInv6<>(SB), Y10
	VMOVUPS cfInv6Lo<>(SB), Y11
	DIVEXACT2(Y6, Y10, Y11)        // h/6
	VADDPS Y7, Y6, Y6              // h/6 + 1
	VSUBPS Y7, Y6, Y8
	VCMPPS $0x0d, Y7, Y6, Y9       // h >= 1
	VBLENDVPS Y9, Y8, Y6, Y6
	VMOVUPS Y6, (DI)
	ADDQ $24, SI
	ADDQ $96, DI
	DECQ CX
	JNZ  hfloop

hfdone:
	VZEROUPPER
	RET

// func cfHueInvAVX2(dst *uint8, hsv *float32, n int, hue float32)
//
// Reads the blocks cfHueFwdAVX2 wrote, shifts h by hue (mod 1) and writes
// the RGB pixels. Y14 hue; Y15 the dword permutation of STORERGB8.
TEXT ·cfHueInvAVX2(SB), NOSPLIT, $0-28
	MOVQ dst+0(FP), DI
	MOVQ hsv+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS hue+24(FP), Y14
	VMOVDQU cfStPerm<>(SB), Y15
	SHRQ $3, CX
	JZ   hidone

hiloop:
	VMOVUPS (SI), Y6               // h
	VMOVUPS 32(SI), Y13            // s
	VMOVUPS 64(SI), Y3             // v
	VMOVUPS cfF1<>(SB), Y7
	VADDPS Y14, Y6, Y6             // h + hue
	VSUBPS Y7, Y6, Y8
	VCMPPS $0x0d, Y7, Y6, Y9
	VBLENDVPS Y9, Y8, Y6, Y6       // h >= 1 ? h-1 : h
	VADDPS Y7, Y6, Y8
	VXORPS Y10, Y10, Y10
	VCMPPS $1, Y10, Y6, Y9         // h < 0
	VBLENDVPS Y9, Y8, Y6, Y6       // h < 0 ? h+1 : h
	// hsv -> rgb: Y3 v, Y13 s, Y6 h, Y7 one. The reference clamps p, q
	// and t to [0, 1] as torchvision does; here the clamps are left out
	// because they never change a value: v and s lie in [0, 1] (s =
	// cr/maxc with cr <= maxc), f = h6 - floor(h6) in [0, 1), and float32
	// products and differences of numbers in [0, 1] (1-x, a*b) round to
	// values in [0, 1].
	//
	// Each channel is v*(1 - s*x) with x = A[i] + B[i]*f from the sector
	// tables (one FMA: B is 0, 1 or -1, so x is exactly 0, 1, f or the
	// reference's float32(1-f)); x = 0 gives v*(1-0) = v, x = 1 gives
	// p = v*(1-s), x = f gives q and x = 1-f gives t, the products and
	// differences of the reference in its order.
	VMULPS cfF6<>(SB), Y6, Y6      // h6
	VROUNDPS $1, Y6, Y5            // fi = floor(h6)
	VSUBPS Y5, Y6, Y6              // f
	VCVTTPS2DQ Y5, Y5              // sector i in 0..6
	VPERMPS cfHueAR<>(SB), Y5, Y0
	VPERMPS cfHueBR<>(SB), Y5, Y8
	VFMADD231PS Y6, Y8, Y0         // red x
	VPERMPS cfHueAG<>(SB), Y5, Y1
	VPERMPS cfHueBG<>(SB), Y5, Y9
	VFMADD231PS Y6, Y9, Y1         // green x
	VPERMPS cfHueAB<>(SB), Y5, Y2
	VPERMPS cfHueBB<>(SB), Y5, Y10
	VFMADD231PS Y6, Y10, Y2        // blue x
	VMULPS Y13, Y0, Y0
	VMULPS Y13, Y1, Y1
	VMULPS Y13, Y2, Y2             // s*x
	VSUBPS Y0, Y7, Y0
	VSUBPS Y1, Y7, Y1
	VSUBPS Y2, Y7, Y2              // 1 - s*x
	VMULPS Y3, Y0, Y0
	VMULPS Y3, Y1, Y1
	VMULPS Y3, Y2, Y2              // v*(1 - s*x)
	VMOVUPS cfF255<>(SB), Y4
	VMULPS Y4, Y0, Y0
	VMULPS Y4, Y1, Y1
	VMULPS Y4, Y2, Y2
	VCVTTPS2DQ Y0, Y0
	VCVTTPS2DQ Y1, Y1
	VCVTTPS2DQ Y2, Y2
	STORERGB8
	ADDQ $96, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  hiloop

hidone:
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
