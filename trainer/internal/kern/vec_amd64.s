//go:build amd64 && !purego && !noasm

#include "textflag.h"

// Hand-written AVX2 bodies of the pooling rows in layers.go (each
// function's reference is the Go loop of the same name there); they have no
// AVX-512 twin (the AVX-512 tier runs them). The elementwise helpers and the
// reductions are generated (gen_amd64.s). n is a positive multiple of 8;
// every loop handles 8 floats per iteration.

// DATA for maxPool2RowAVX2: int32 lanes of 1, 2 and 3 (window indices).
DATA poolIdx<>+0x00(SB)/8, $0x0000000100000001
DATA poolIdx<>+0x08(SB)/8, $0x0000000100000001
DATA poolIdx<>+0x10(SB)/8, $0x0000000100000001
DATA poolIdx<>+0x18(SB)/8, $0x0000000100000001
DATA poolIdx<>+0x20(SB)/8, $0x0000000200000002
DATA poolIdx<>+0x28(SB)/8, $0x0000000200000002
DATA poolIdx<>+0x30(SB)/8, $0x0000000200000002
DATA poolIdx<>+0x38(SB)/8, $0x0000000200000002
DATA poolIdx<>+0x40(SB)/8, $0x0000000300000003
DATA poolIdx<>+0x48(SB)/8, $0x0000000300000003
DATA poolIdx<>+0x50(SB)/8, $0x0000000300000003
DATA poolIdx<>+0x58(SB)/8, $0x0000000300000003
GLOBL poolIdx<>(SB), RODATA|NOPTR, $96

// POOLSTEP folds candidate v (window index in idx) into best (Y2) and
// arg (Y6) exactly as the Go loop does: take v when v > best, or when v
// is NaN and best is not.
#define POOLSTEP(v, idx) \
	VCMPPS    $0x1e, Y2, v, Y7  \ // v > best (ordered)
	VCMPPS    $0x03, v, v, Y8   \ // v is NaN
	VCMPPS    $0x07, Y2, Y2, Y9 \ // best is not NaN
	VANDPS    Y9, Y8, Y8        \
	VORPS     Y8, Y7, Y7        \
	VBLENDVPS Y7, v, Y2, Y2     \ // best = mask ? v : best
	VBLENDVPS Y7, idx, Y6, Y6     // arg = mask ? idx : arg

// func maxPool2RowAVX2(y *float32, arg *uint8, argStep int, r0, r1 *float32, n int)
// Reference: the row loop of MaxPool2 in layers.go. n (a positive multiple
// of 8) outputs of 2×2 max pooling from rows r0 and r1 (2n floats each);
// the window index of each winner goes to arg, which advances by argStep
// (8, or 0 to discard) per 8 outputs.
TEXT ·maxPool2RowAVX2(SB), NOSPLIT, $0-48
	MOVQ y+0(FP), DI
	MOVQ arg+8(FP), R8
	MOVQ argStep+16(FP), R9
	MOVQ r0+24(FP), SI
	MOVQ r1+32(FP), DX
	MOVQ n+40(FP), CX
	LEAQ poolIdx<>(SB), AX
	VMOVUPS (AX), Y12              // 1s
	VMOVUPS 32(AX), Y13            // 2s
	VMOVUPS 64(AX), Y14            // 3s

poolloop:
	// Split each row's 16 floats into even (left) and odd (right) columns,
	// in output order: VSHUFPS leaves the outputs as 0 1 4 5 | 2 3 6 7,
	// VPERMPD $0xd8 swaps the middle pairs back.
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VSHUFPS $0x88, Y1, Y0, Y2      // r0 even: a
	VSHUFPS $0xdd, Y1, Y0, Y3      // r0 odd: b
	VPERMPD $0xd8, Y2, Y2
	VPERMPD $0xd8, Y3, Y3
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VSHUFPS $0x88, Y1, Y0, Y4      // r1 even: c
	VSHUFPS $0xdd, Y1, Y0, Y5      // r1 odd: d
	VPERMPD $0xd8, Y4, Y4
	VPERMPD $0xd8, Y5, Y5
	VXORPS  Y6, Y6, Y6             // arg = 0 (a)
	POOLSTEP(Y3, Y12)
	POOLSTEP(Y4, Y13)
	POOLSTEP(Y5, Y14)
	VMOVUPS Y2, (DI)
	// eight int32 window indices → eight bytes
	VEXTRACTF128 $1, Y6, X7
	VPACKSSDW    X7, X6, X6
	VPACKUSWB    X6, X6, X6
	VMOVQ        X6, (R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $32, DI
	ADDQ R9, R8
	SUBQ $8, CX
	JNZ  poolloop
	VZEROUPPER
	RET

// POOLSTEPM is POOLSTEP with the window index read from memory.
#define POOLSTEPM(v, idx) \
	VCMPPS    $0x1e, Y2, v, Y7  \
	VCMPPS    $0x03, v, v, Y8   \
	VCMPPS    $0x07, Y2, Y2, Y9 \
	VANDPS    Y9, Y8, Y8        \
	VORPS     Y8, Y7, Y7        \
	VBLENDVPS Y7, v, Y2, Y2     \
	VBLENDVPS Y7, idx, Y6, Y6

// AFFRELU maps the 8 floats in r to max((r − m)·s + b, 0) as affineReLUAVX2
// does (m, s, b in Y12, Y13, Y14; zero in Y15).
#define AFFRELU(r) \
	VSUBPS Y12, r, r \
	VMULPS Y13, r, r \
	VADDPS Y14, r, r \
	VMAXPS r, Y15, r

// func maxPool2AffineReLURowAVX2(y *float32, arg *uint8, argStep int, r0, r1 *float32, n int, m, s, b float32)
// Reference: maxPool2Plane in layers.go with a non-nil poolAffine.
// maxPool2RowAVX2 with each input element first mapped by AFFRELU; the
// window indices come from memory (poolIdx) to free Y12–Y15.
TEXT ·maxPool2AffineReLURowAVX2(SB), NOSPLIT, $0-60
	MOVQ y+0(FP), DI
	MOVQ arg+8(FP), R8
	MOVQ argStep+16(FP), R9
	MOVQ r0+24(FP), SI
	MOVQ r1+32(FP), DX
	MOVQ n+40(FP), CX
	VBROADCASTSS m+48(FP), Y12
	VBROADCASTSS s+52(FP), Y13
	VBROADCASTSS b+56(FP), Y14
	VXORPS Y15, Y15, Y15
	LEAQ poolIdx<>(SB), AX

affpoolloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	AFFRELU(Y0)
	AFFRELU(Y1)
	VSHUFPS $0x88, Y1, Y0, Y2      // r0 even: a
	VSHUFPS $0xdd, Y1, Y0, Y3      // r0 odd: b
	VPERMPD $0xd8, Y2, Y2
	VPERMPD $0xd8, Y3, Y3
	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	AFFRELU(Y0)
	AFFRELU(Y1)
	VSHUFPS $0x88, Y1, Y0, Y4      // r1 even: c
	VSHUFPS $0xdd, Y1, Y0, Y5      // r1 odd: d
	VPERMPD $0xd8, Y4, Y4
	VPERMPD $0xd8, Y5, Y5
	VXORPS  Y6, Y6, Y6             // arg = 0 (a)
	POOLSTEPM(Y3, (AX))
	POOLSTEPM(Y4, 32(AX))
	POOLSTEPM(Y5, 64(AX))
	VMOVUPS Y2, (DI)
	VEXTRACTF128 $1, Y6, X7
	VPACKSSDW    X7, X6, X6
	VPACKUSWB    X6, X6, X6
	VMOVQ        X6, (R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $32, DI
	ADDQ R9, R8
	SUBQ $8, CX
	JNZ  affpoolloop
	VZEROUPPER
	RET

// func maxPool2BackRowAVX2(d0, d1, dy, y *float32, useY int, arg *uint8, n int)
// Reference: the window loop of maxPool2BackwardPlane in layers.go. For n
// (a positive multiple of 8) windows: g = dy, zeroed where useY != 0 and
// !(y > 0); the winner (arg: 0, 1 on row d0; 2, 3 on row d1) gets g's bits,
// the other three +0. Writes 2n floats to each of d0 and d1, d0 first.
TEXT ·maxPool2BackRowAVX2(SB), NOSPLIT, $0-56
	MOVQ d0+0(FP), DI
	MOVQ d1+8(FP), BX
	MOVQ dy+16(FP), SI
	MOVQ y+24(FP), DX
	MOVQ useY+32(FP), R10
	MOVQ arg+40(FP), R8
	MOVQ n+48(FP), CX
	LEAQ poolIdx<>(SB), AX
	VXORPS Y15, Y15, Y15

poolbackloop:
	VMOVUPS (SI), Y0               // g
	TESTQ   R10, R10
	JZ      poolbacknomask
	VMOVUPS (DX), Y1
	VCMPPS  $0x1e, Y15, Y1, Y1     // y > 0 (ordered: NaN gives 0)
	VANDPS  Y1, Y0, Y0
	ADDQ    $32, DX

poolbacknomask:
	VPMOVZXBD (R8), Y2             // window indices as int32
	VPCMPEQD  Y15, Y2, Y3          // k == 0
	VPCMPEQD  (AX), Y2, Y4         // k == 1
	VPCMPEQD  32(AX), Y2, Y5       // k == 2
	VPCMPEQD  64(AX), Y2, Y6       // k == 3
	VANDPS    Y0, Y3, Y3           // v0
	VANDPS    Y0, Y4, Y4           // v1
	VANDPS    Y0, Y5, Y5           // v2
	VANDPS    Y0, Y6, Y6           // v3
	// Row d0: v0_0 v1_0 v0_1 v1_1 … v0_7 v1_7.
	VUNPCKLPS  Y4, Y3, Y7          // v0_0 v1_0 v0_1 v1_1 | v0_4 v1_4 v0_5 v1_5
	VUNPCKHPS  Y4, Y3, Y8          // v0_2 v1_2 v0_3 v1_3 | v0_6 v1_6 v0_7 v1_7
	VPERM2F128 $0x20, Y8, Y7, Y9
	VPERM2F128 $0x31, Y8, Y7, Y10
	VMOVUPS    Y9, (DI)
	VMOVUPS    Y10, 32(DI)
	// Row d1 from v2, v3.
	VUNPCKLPS  Y6, Y5, Y7
	VUNPCKHPS  Y6, Y5, Y8
	VPERM2F128 $0x20, Y8, Y7, Y9
	VPERM2F128 $0x31, Y8, Y7, Y10
	VMOVUPS    Y9, (BX)
	VMOVUPS    Y10, 32(BX)
	ADDQ $32, SI
	ADDQ $8, R8
	ADDQ $64, DI
	ADDQ $64, BX
	SUBQ $8, CX
	JNZ  poolbackloop
	VZEROUPPER
	RET
