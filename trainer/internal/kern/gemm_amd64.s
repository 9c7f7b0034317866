//go:build amd64 && !purego && !noasm

#include "textflag.h"

// maskTab is sixteen all-ones lanes followed by sixteen zero lanes: loading
// 8 lanes at maskTab + 4·(16-w) gives the mask "lane < w", and 32 bytes
// further on the mask "lane + 8 < w".
DATA maskTab<>+0x00(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x08(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x10(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x18(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x20(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x28(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x30(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x38(SB)/8, $0xffffffffffffffff
DATA maskTab<>+0x40(SB)/8, $0
DATA maskTab<>+0x48(SB)/8, $0
DATA maskTab<>+0x50(SB)/8, $0
DATA maskTab<>+0x58(SB)/8, $0
DATA maskTab<>+0x60(SB)/8, $0
DATA maskTab<>+0x68(SB)/8, $0
DATA maskTab<>+0x70(SB)/8, $0
DATA maskTab<>+0x78(SB)/8, $0
GLOBL maskTab<>(SB), RODATA|NOPTR, $128

// STEP does one p of the 6×16 tile: loads B row p (Y0, Y1), broadcasts the
// six A values of column p (rows 0-2 from SI, rows 3-5 from R10, row stride
// R8 bytes) and issues twelve independent FMAs into Y4..Y15, row i in
// Y(4+2i) (columns 0-7) and Y(5+2i) (columns 8-15). Then it advances A by
// R9 and B by R11 bytes.
#define STEP \
	VMOVUPS      (DI), Y0          \
	VMOVUPS      32(DI), Y1        \
	VBROADCASTSS (SI), Y2          \
	VBROADCASTSS (SI)(R8*1), Y3    \
	VFMADD231PS  Y0, Y2, Y4        \
	VFMADD231PS  Y1, Y2, Y5        \
	VFMADD231PS  Y0, Y3, Y6        \
	VFMADD231PS  Y1, Y3, Y7        \
	VBROADCASTSS (SI)(R8*2), Y2    \
	VBROADCASTSS (R10), Y3         \
	VFMADD231PS  Y0, Y2, Y8        \
	VFMADD231PS  Y1, Y2, Y9        \
	VFMADD231PS  Y0, Y3, Y10       \
	VFMADD231PS  Y1, Y3, Y11       \
	VBROADCASTSS (R10)(R8*1), Y2   \
	VBROADCASTSS (R10)(R8*2), Y3   \
	VFMADD231PS  Y0, Y2, Y12       \
	VFMADD231PS  Y1, Y2, Y13       \
	VFMADD231PS  Y0, Y3, Y14       \
	VFMADD231PS  Y1, Y3, Y15       \
	ADDQ         R9, SI            \
	ADDQ         R9, R10           \
	ADDQ         R11, DI

// Full-tile row stores: c = fma(beta, c, acc) with acc already scaled by
// alpha (ROWFMA), or c = acc (ROWST); then DX moves to the next row.
#define ROWFMA(lo, hi) \
	VFMADD231PS (DX), Y1, lo    \
	VFMADD231PS 32(DX), Y1, hi  \
	VMOVUPS     lo, (DX)        \
	VMOVUPS     hi, 32(DX)      \
	ADDQ        R12, DX

#define ROWST(lo, hi) \
	VMOVUPS lo, (DX)    \
	VMOVUPS hi, 32(DX)  \
	ADDQ    R12, DX

// Edge-tile row stores. The "wide" forms (w > 8) store columns 0-7 whole
// and columns 8..w-1 under mask Y3; the "narrow" forms (w ≤ 8) store
// columns 0..w-1 under mask Y2 and never touch columns 8-15.
#define WFMA(lo, hi) \
	VFMADD231PS (DX), Y1, lo    \
	VMOVUPS     lo, (DX)        \
	VMASKMOVPS  32(DX), Y3, Y0  \
	VFMADD231PS Y0, Y1, hi      \
	VMASKMOVPS  hi, Y3, 32(DX)

#define WST(lo, hi) \
	VMOVUPS    lo, (DX)        \
	VMASKMOVPS hi, Y3, 32(DX)

#define NFMA(lo) \
	VMASKMOVPS  (DX), Y2, Y0  \
	VFMADD231PS Y0, Y1, lo    \
	VMASKMOVPS  lo, Y2, (DX)

#define NST(lo) \
	VMASKMOVPS lo, Y2, (DX)

// NEXT stops after row n when h == n, else moves DX to the next row.
#define NEXT(n) \
	CMPQ R13, $n  \
	JEQ  done     \
	ADDQ R12, DX

// func sgemmKernel6x16AVX2(kc int, a *float32, aRow, aStep int, b *float32, bStep int, c *float32, ldc, h, w int, alpha, beta float32, load int)
// Reference: microKernelGo in gemm.go.
TEXT ·sgemmKernel6x16AVX2(SB), NOSPLIT, $0-96
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ aRow+16(FP), R8
	SHLQ $2, R8                // R8 = A row stride in bytes
	MOVQ aStep+24(FP), R9
	SHLQ $2, R9                // R9 = A step per p in bytes
	MOVQ b+32(FP), DI
	MOVQ bStep+40(FP), R11
	SHLQ $2, R11               // R11 = B step per p in bytes
	LEAQ (SI)(R8*2), R10
	ADDQ R8, R10               // R10 = row 3 of A

	// Prefetch the six rows of the C tile (two lines each, the tile may
	// straddle them): the stores at the end then hit L1. Prefetches never
	// fault, so rows beyond h are harmless.
	MOVQ c+48(FP), DX
	MOVQ ldc+56(FP), R12
	SHLQ $2, R12
	LEAQ (DX)(R12*2), R13
	ADDQ R12, R13              // R13 = row 3 of C
	PREFETCHT0 (DX)
	PREFETCHT0 63(DX)
	PREFETCHT0 (DX)(R12*1)
	PREFETCHT0 63(DX)(R12*1)
	PREFETCHT0 (DX)(R12*2)
	PREFETCHT0 63(DX)(R12*2)
	PREFETCHT0 (R13)
	PREFETCHT0 63(R13)
	PREFETCHT0 (R13)(R12*1)
	PREFETCHT0 63(R13)(R12*1)
	PREFETCHT0 (R13)(R12*2)
	PREFETCHT0 63(R13)(R12*2)

	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	VXORPS Y15, Y15, Y15

	// Four p per iteration while at least four remain, then one at a time.
	CMPQ CX, $4
	JLT  tail

loop4:
	STEP
	STEP
	STEP
	STEP
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4
	TESTQ CX, CX
	JZ   store

tail:
	STEP
	DECQ CX
	JNZ  tail

store:
	// DX = C, R12 = C row stride in bytes (set above)
	MOVQ h+64(FP), R13
	MOVQ w+72(FP), R14
	MOVQ load+88(FP), AX

	// acc *= alpha
	VBROADCASTSS alpha+80(FP), Y0
	VMULPS Y0, Y4, Y4
	VMULPS Y0, Y5, Y5
	VMULPS Y0, Y6, Y6
	VMULPS Y0, Y7, Y7
	VMULPS Y0, Y8, Y8
	VMULPS Y0, Y9, Y9
	VMULPS Y0, Y10, Y10
	VMULPS Y0, Y11, Y11
	VMULPS Y0, Y12, Y12
	VMULPS Y0, Y13, Y13
	VMULPS Y0, Y14, Y14
	VMULPS Y0, Y15, Y15
	VBROADCASTSS beta+84(FP), Y1

	CMPQ R13, $6
	JNE  edge
	CMPQ R14, $16
	JNE  edge
	TESTQ AX, AX
	JZ   fullst
	ROWFMA(Y4, Y5)
	ROWFMA(Y6, Y7)
	ROWFMA(Y8, Y9)
	ROWFMA(Y10, Y11)
	ROWFMA(Y12, Y13)
	ROWFMA(Y14, Y15)
	VZEROUPPER
	RET

fullst:
	ROWST(Y4, Y5)
	ROWST(Y6, Y7)
	ROWST(Y8, Y9)
	ROWST(Y10, Y11)
	ROWST(Y12, Y13)
	ROWST(Y14, Y15)
	VZEROUPPER
	RET

edge:
	// masks: Y2 = lane < w, Y3 = lane+8 < w
	LEAQ maskTab<>(SB), BX
	MOVQ $16, CX
	SUBQ R14, CX
	VMOVUPS (BX)(CX*4), Y2
	VMOVUPS 32(BX)(CX*4), Y3
	CMPQ R14, $8
	JLE  narrow
	TESTQ AX, AX
	JZ   widest
	WFMA(Y4, Y5)
	NEXT(1)
	WFMA(Y6, Y7)
	NEXT(2)
	WFMA(Y8, Y9)
	NEXT(3)
	WFMA(Y10, Y11)
	NEXT(4)
	WFMA(Y12, Y13)
	NEXT(5)
	WFMA(Y14, Y15)
	JMP  done

widest:
	WST(Y4, Y5)
	NEXT(1)
	WST(Y6, Y7)
	NEXT(2)
	WST(Y8, Y9)
	NEXT(3)
	WST(Y10, Y11)
	NEXT(4)
	WST(Y12, Y13)
	NEXT(5)
	WST(Y14, Y15)
	JMP  done

narrow:
	TESTQ AX, AX
	JZ   narrowst
	NFMA(Y4)
	NEXT(1)
	NFMA(Y6)
	NEXT(2)
	NFMA(Y8)
	NEXT(3)
	NFMA(Y10)
	NEXT(4)
	NFMA(Y12)
	NEXT(5)
	NFMA(Y14)
	JMP  done

narrowst:
	NST(Y4)
	NEXT(1)
	NST(Y6)
	NEXT(2)
	NST(Y8)
	NEXT(3)
	NST(Y10)
	NEXT(4)
	NST(Y12)
	NEXT(5)
	NST(Y14)

done:
	VZEROUPPER
	RET

// func packA6AVX2(kc8 int, a *float32, lda int, dst *float32)
// Reference: the six-row loop of packABlock in gemm.go. Packs columns
// 0..kc8-1 (kc8 a positive multiple of 8) of six rows of A (row stride lda
// elements) into dst as kc8 groups of six floats: dst[p*6+r] = a[r*lda+p].
// Eight columns at a time: load 8 floats of each row, transpose the 6×8
// block in registers, and store each 6-float column with a 32-byte store
// whose last two floats the next store overwrites, so the final store
// writes two floats past dst[kc8*6-1]: the caller leaves room for them.
TEXT ·packA6AVX2(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (SI)(R8*2), R10
	ADDQ R8, R10                   // R10 = row 3

packA6loop:
	VMOVUPS (SI), Y0               // a0..a7 (row 0)
	VMOVUPS (SI)(R8*1), Y1         // b0..b7
	VMOVUPS (SI)(R8*2), Y2         // c0..c7
	VMOVUPS (R10), Y3              // d0..d7
	VMOVUPS (R10)(R8*1), Y4        // e0..e7
	VMOVUPS (R10)(R8*2), Y5        // f0..f7
	VUNPCKLPS Y1, Y0, Y6           // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y7           // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y8           // c0 d0 c1 d1 | c4 d4 c5 d5
	VUNPCKHPS Y3, Y2, Y9           // c2 d2 c3 d3 | c6 d6 c7 d7
	VUNPCKLPS Y5, Y4, Y10          // e0 f0 e1 f1 | e4 f4 e5 f5
	VUNPCKHPS Y5, Y4, Y11          // e2 f2 e3 f3 | e6 f6 e7 f7
	VSHUFPS $0x44, Y8, Y6, Y0      // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xEE, Y8, Y6, Y1      // a1 b1 c1 d1 | a5 b5 c5 d5
	VSHUFPS $0x44, Y9, Y7, Y2      // a2 b2 c2 d2 | a6 b6 c6 d6
	VSHUFPS $0xEE, Y9, Y7, Y3      // a3 b3 c3 d3 | a7 b7 c7 d7
	VSHUFPS $0xEE, Y10, Y10, Y12   // e1 f1 e1 f1 | e5 f5 e5 f5
	VSHUFPS $0xEE, Y11, Y11, Y13   // e3 f3 e3 f3 | e7 f7 e7 f7
	VPERM2F128 $0x20, Y10, Y0, Y14 // a0 b0 c0 d0 e0 f0 · ·
	VMOVUPS Y14, 0(DI)
	VPERM2F128 $0x20, Y12, Y1, Y14 // column 1
	VMOVUPS Y14, 24(DI)
	VPERM2F128 $0x20, Y11, Y2, Y14 // column 2
	VMOVUPS Y14, 48(DI)
	VPERM2F128 $0x20, Y13, Y3, Y14 // column 3
	VMOVUPS Y14, 72(DI)
	VPERM2F128 $0x31, Y10, Y0, Y14 // column 4: high halves
	VMOVUPS Y14, 96(DI)
	VPERM2F128 $0x31, Y12, Y1, Y14 // column 5
	VMOVUPS Y14, 120(DI)
	VPERM2F128 $0x31, Y11, Y2, Y14 // column 6
	VMOVUPS Y14, 144(DI)
	VPERM2F128 $0x31, Y13, Y3, Y14 // column 7
	VMOVUPS Y14, 168(DI)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $192, DI
	SUBQ $8, CX
	JNZ  packA6loop
	VZEROUPPER
	RET

// func packB16AVX2(kc int, b *float32, ldb int, dst *float32)
// Reference: the untransposed loop of packBBlock in gemm.go. Copies 16
// floats from each of kc ≥ 1 rows of B (row stride ldb elements) into dst,
// contiguously: dst[p*16+j] = b[p*ldb+j].
TEXT ·packB16AVX2(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

packB16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ R8, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  packB16loop
	VZEROUPPER
	RET

// TRANS8 transposes the 8×8 block in Y0..Y7 (row i in Yi) and stores
// column p (8 floats) at off + 64·p (DI), using Y8..Y15 as scratch.
#define TRANS8(off) \
	VUNPCKLPS  Y1, Y0, Y8           \ // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS  Y1, Y0, Y9           \ // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS  Y3, Y2, Y10          \
	VUNPCKHPS  Y3, Y2, Y11          \
	VUNPCKLPS  Y5, Y4, Y12          \
	VUNPCKHPS  Y5, Y4, Y13          \
	VUNPCKLPS  Y7, Y6, Y14          \
	VUNPCKHPS  Y7, Y6, Y15          \
	VSHUFPS    $0x44, Y10, Y8, Y0   \ // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS    $0xee, Y10, Y8, Y1   \ // a1 b1 c1 d1 | a5 b5 c5 d5
	VSHUFPS    $0x44, Y11, Y9, Y2   \ // a2 .. | a6 ..
	VSHUFPS    $0xee, Y11, Y9, Y3   \ // a3 .. | a7 ..
	VSHUFPS    $0x44, Y14, Y12, Y4  \ // e0 f0 g0 h0 | e4 f4 g4 h4
	VSHUFPS    $0xee, Y14, Y12, Y5  \
	VSHUFPS    $0x44, Y15, Y13, Y6  \
	VSHUFPS    $0xee, Y15, Y13, Y7  \
	VPERM2F128 $0x20, Y4, Y0, Y8    \ // column 0
	VMOVUPS    Y8, off(DI)          \
	VPERM2F128 $0x20, Y5, Y1, Y8    \
	VMOVUPS    Y8, off+64(DI)       \
	VPERM2F128 $0x20, Y6, Y2, Y8    \
	VMOVUPS    Y8, off+128(DI)      \
	VPERM2F128 $0x20, Y7, Y3, Y8    \
	VMOVUPS    Y8, off+192(DI)      \
	VPERM2F128 $0x31, Y4, Y0, Y8    \ // column 4
	VMOVUPS    Y8, off+256(DI)      \
	VPERM2F128 $0x31, Y5, Y1, Y8    \
	VMOVUPS    Y8, off+320(DI)      \
	VPERM2F128 $0x31, Y6, Y2, Y8    \
	VMOVUPS    Y8, off+384(DI)      \
	VPERM2F128 $0x31, Y7, Y3, Y8    \
	VMOVUPS    Y8, off+448(DI)

// LOAD8 loads 8 floats at column offset SI from the eight storage rows
// starting at base (row stride R8 bytes; R10 = base + 4 rows).
#define LOAD8(base, far) \
	VMOVUPS (base), Y0          \
	VMOVUPS (base)(R8*1), Y1    \
	VMOVUPS (base)(R8*2), Y2    \
	VMOVUPS (base)(R9*1), Y3    \
	VMOVUPS (far), Y4           \
	VMOVUPS (far)(R8*1), Y5     \
	VMOVUPS (far)(R8*2), Y6     \
	VMOVUPS (far)(R9*1), Y7

// func packB16TAVX2(kc8 int, b *float32, ldb int, dst *float32)
// Reference: the transposed loop of packBBlock in gemm.go. Packs a full
// 16-column panel of op(B) = Bᵀ, where column j of op(B) is storage row j
// of b (stride ldb elements): dst[p*16+j] = b[j*ldb+p] for p < kc8, a
// positive multiple of 8, by 8×8 register transposes.
TEXT ·packB16TAVX2(SB), NOSPLIT, $0-32
	MOVQ kc8+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8                // R8 = row stride in bytes
	LEAQ (R8)(R8*2), R9        // R9 = 3 rows
	MOVQ dst+24(FP), DI
	LEAQ (SI)(R8*4), R10       // rows 4..7
	LEAQ (R10)(R8*4), R11      // rows 8..11
	LEAQ (R11)(R8*4), R12      // rows 12..15

packBTloop:
	LOAD8(SI, R10)
	TRANS8(0)
	LOAD8(R11, R12)
	TRANS8(32)
	ADDQ $32, SI
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $512, DI
	SUBQ $8, CX
	JNZ  packBTloop
	VZEROUPPER
	RET
