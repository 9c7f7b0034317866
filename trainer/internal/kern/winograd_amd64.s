//go:build amd64 && !purego && !noasm

#include "textflag.h"

// Hand-written AVX2 bodies of the Winograd F(2×2,3×3) input and
// output-gradient transforms; their references are winoInTileGo
// (winograd.go) and winoGradOutTileGo (winograd_dw.go), whose additions
// they do in the same order (no fused operations), so the results are
// bit-identical. The output transform is generated (gen_amd64.s).

// EVENODD splits 16 consecutive floats A = (a0..a7), B = (b0..b7) into
// even = (a0 a2 a4 a6 b0 b2 b4 b6) and odd = (a1 a3 ... b7): VSHUFPS works
// within 128-bit lanes, VPERMPD puts the 64-bit pairs back in order.
#define EVENODD(A, B, even, odd) \
	VSHUFPS $0x88, B, A, even \
	VSHUFPS $0xDD, B, A, odd  \
	VPERMPD $0xD8, even, even \
	VPERMPD $0xD8, odd, odd

// LOADROW loads d_i0..d_i3 of 8 tiles from the padded row at addr (column
// 2·tx0): d_i0, d_i1 from columns 2tx, 2tx+1, d_i2, d_i3 from 2tx+2, 2tx+3.
// T0, T1 are scratch.
#define LOADROW(addr0, addr8, addr2, addr10, d0, d1, d2, d3, T0, T1) \
	VMOVUPS addr0, T0             \
	VMOVUPS addr8, T1             \
	EVENODD(T0, T1, d0, d1)       \
	VMOVUPS addr2, T0             \
	VMOVUPS addr10, T1            \
	EVENODD(T0, T1, d2, d3)

// COLS applies ·B to z0..z3 (Y8–Y11) into Y12–Y15 and stores them at R8,
// R8+xs, R8+2xs, R8+3xs, leaving R8 at R8+4xs (R10 = xs bytes).
#define COLS \
	VSUBPS  Y10, Y8, Y12 \
	VADDPS  Y10, Y9, Y13 \
	VSUBPS  Y9, Y10, Y14 \
	VSUBPS  Y11, Y9, Y15 \
	VMOVUPS Y12, (R8)    \
	ADDQ    R10, R8      \
	VMOVUPS Y13, (R8)    \
	ADDQ    R10, R8      \
	VMOVUPS Y14, (R8)    \
	ADDQ    R10, R8      \
	VMOVUPS Y15, (R8)    \
	ADDQ    R10, R8

// func winoInAVX2(p *float32, pw, th, tw int, dst *float32, xs int)
// Input transform V = Bᵀ·d·B of 8 tiles per iteration. SI = padded row 2ty,
// R9 = pw bytes, R11 = 3·pw bytes; AX = column 2·tx0 of that row (+64 bytes
// per iteration); DI = the row of tiles in dst, DX = tile tx0 there, R8
// walks the 16 ξ rows (R10 = xs bytes). Y0–Y3 = d1j, Y4–Y7 = d2j,
// Y8–Y11 = a row of Bᵀ·d, Y12–Y15 scratch and outputs.
TEXT ·winoInAVX2(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ pw+8(FP), R9
	SHLQ $2, R9
	LEAQ (R9)(R9*2), R11
	MOVQ th+16(FP), BX
	MOVQ dst+32(FP), DI
	MOVQ xs+40(FP), R10
	SHLQ $2, R10

winoinrow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ tw+24(FP), CX

winoinchunk:
	LOADROW((AX)(R9*1), 32(AX)(R9*1), 8(AX)(R9*1), 40(AX)(R9*1), Y0, Y1, Y2, Y3, Y12, Y13)
	LOADROW((AX)(R9*2), 32(AX)(R9*2), 8(AX)(R9*2), 40(AX)(R9*2), Y4, Y5, Y6, Y7, Y12, Y13)
	MOVQ DX, R8

	// a_j = d0j − d2j → ξ 0..3
	LOADROW((AX), 32(AX), 8(AX), 40(AX), Y8, Y9, Y10, Y11, Y12, Y13)
	VSUBPS Y4, Y8, Y8
	VSUBPS Y5, Y9, Y9
	VSUBPS Y6, Y10, Y10
	VSUBPS Y7, Y11, Y11
	COLS

	// b_j = d1j + d2j → ξ 4..7
	VADDPS Y4, Y0, Y8
	VADDPS Y5, Y1, Y9
	VADDPS Y6, Y2, Y10
	VADDPS Y7, Y3, Y11
	COLS

	// c_j = d2j − d1j → ξ 8..11
	VSUBPS Y0, Y4, Y8
	VSUBPS Y1, Y5, Y9
	VSUBPS Y2, Y6, Y10
	VSUBPS Y3, Y7, Y11
	COLS

	// e_j = d1j − d3j → ξ 12..15
	LOADROW((AX)(R11*1), 32(AX)(R11*1), 8(AX)(R11*1), 40(AX)(R11*1), Y8, Y9, Y10, Y11, Y12, Y13)
	VSUBPS Y8, Y0, Y8
	VSUBPS Y9, Y1, Y9
	VSUBPS Y10, Y2, Y10
	VSUBPS Y11, Y3, Y11
	COLS

	ADDQ $64, AX
	ADDQ $32, DX
	SUBQ $8, CX
	JG   winoinchunk

	LEAQ (SI)(R9*2), SI
	MOVQ tw+24(FP), R8
	SHLQ $2, R8
	ADDQ R8, DI
	DECQ BX
	JNZ  winoinrow
	VZEROUPPER
	RET

// GROW4 stores u0, u0+u1, u0−u1, u1 (one row of A'·e·A'ᵀ for 8 tiles) at
// R8, R8+xs, R8+2xs, R8+3xs, leaving R8 at R8+4xs (R10 = xs bytes);
// Y8, Y9 are scratch.
#define GROW4(u0, u1) \
	VADDPS  u1, u0, Y8 \
	VSUBPS  u1, u0, Y9 \
	VMOVUPS u0, (R8)   \
	ADDQ    R10, R8    \
	VMOVUPS Y8, (R8)   \
	ADDQ    R10, R8    \
	VMOVUPS Y9, (R8)   \
	ADDQ    R10, R8    \
	VMOVUPS u1, (R8)   \
	ADDQ    R10, R8

// func winoGradOutAVX2(r0, r1 *float32, n int, dst *float32, xs int)
// Output-gradient transform A'·e·A'ᵀ of 8 tiles per iteration. SI, DI =
// the even and odd row streams (+64 bytes per iteration), DX = tile t0 in
// dst (+32 bytes), R8 walks the 16 ξ rows (R10 = xs bytes). Y2, Y3 = e00,
// e01; Y4, Y5 = e10, e11; Y6, Y7 = s or f; Y8, Y9 scratch.
TEXT ·winoGradOutAVX2(SB), NOSPLIT, $0-40
	MOVQ r0+0(FP), SI
	MOVQ r1+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ dst+24(FP), DX
	MOVQ xs+32(FP), R10
	SHLQ $2, R10

winogradoutloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	EVENODD(Y0, Y1, Y2, Y3)
	VMOVUPS (DI), Y0
	VMOVUPS 32(DI), Y1
	EVENODD(Y0, Y1, Y4, Y5)
	MOVQ    DX, R8
	GROW4(Y2, Y3)
	VADDPS  Y4, Y2, Y6 // s0 = e00 + e10
	VADDPS  Y5, Y3, Y7 // s1 = e01 + e11
	GROW4(Y6, Y7)
	VSUBPS  Y4, Y2, Y6 // f0 = e00 − e10
	VSUBPS  Y5, Y3, Y7 // f1 = e01 − e11
	GROW4(Y6, Y7)
	GROW4(Y4, Y5)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JG      winogradoutloop
	VZEROUPPER
	RET
