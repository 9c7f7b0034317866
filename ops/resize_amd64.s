//go:build amd64 && !purego && !noasm

#include "textflag.h"

// Byte shuffle taking two adjacent RGB pixels p0, p1 (6 bytes) to the int16
// lanes p0.r p1.r p0.g p1.g p0.b p1.b 0 0, ready for VPMADDWD with (w0, w1).
DATA resizeH3Shuf<>+0(SB)/8, $0x8004800180038000
DATA resizeH3Shuf<>+8(SB)/8, $0x8080808080058002
GLOBL resizeH3Shuf<>(SB), RODATA|NOPTR, $16

// func resizeH3AVX2(dst *int16, src *uint8, start *int32, w *int16, out, k int)
TEXT ·resizeH3AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ start+16(FP), BX
	MOVQ w+24(FP), R8
	MOVQ out+32(FP), CX
	MOVQ k+40(FP), DX
	VMOVDQU resizeH3Shuf<>(SB), X15
	MOVL $64, AX
	VMOVD AX, X14
	VPBROADCASTD X14, X14

hpix:
	TESTQ CX, CX
	JZ    hdone
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VMOVDQA X14, X0
	MOVQ  DX, R10

htap:
	VMOVQ        (R9), X1
	VPSHUFB      X15, X1, X1
	VPBROADCASTD (R8), X2
	VPMADDWD     X2, X1, X1
	VPADDD       X1, X0, X0
	ADDQ         $6, R9
	ADDQ         $4, R8
	SUBQ         $2, R10
	JNZ          htap

	VPSRAD    $7, X0, X0
	VPACKSSDW X0, X0, X0
	VMOVQ     X0, (DI)
	ADDQ      $6, DI
	ADDQ      $4, BX
	DECQ      CX
	JMP       hpix

hdone:
	VZEROUPPER
	RET

// Lane 0 takes pixels 0 and 1 (bytes 0..5), lane 1 pixels 2 and 3 (bytes
// 6..11) of a 16-byte window broadcast to both lanes.
DATA resizeH3QShuf<>+0(SB)/8, $0x8004800180038000
DATA resizeH3QShuf<>+8(SB)/8, $0x8080808080058002
DATA resizeH3QShuf<>+16(SB)/8, $0x800a800780098006
DATA resizeH3QShuf<>+24(SB)/8, $0x80808080800b8008
GLOBL resizeH3QShuf<>(SB), RODATA|NOPTR, $32

// func resizeH3QAVX2(dst *int16, src *uint8, start *int32, wq *int32, out, k int)
TEXT ·resizeH3QAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ start+16(FP), BX
	MOVQ wq+24(FP), R8
	MOVQ out+32(FP), CX
	MOVQ k+40(FP), DX
	VMOVDQU resizeH3QShuf<>(SB), Y15
	MOVL $64, AX
	VMOVD AX, X14
	VPBROADCASTD X14, X14

qpix:
	TESTQ CX, CX
	JZ    qdone
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VPXOR Y0, Y0, Y0
	MOVQ  DX, R10

qtap:
	VBROADCASTI128 (R9), Y1
	VPSHUFB        Y15, Y1, Y1
	VPMADDWD       (R8), Y1, Y1
	VPADDD         Y1, Y0, Y0
	ADDQ           $12, R9
	ADDQ           $32, R8
	SUBQ           $4, R10
	JNZ            qtap

	VEXTRACTI128 $1, Y0, X1
	VPADDD       X1, X0, X0
	VPADDD       X14, X0, X0
	VPSRAD       $7, X0, X0
	VPACKSSDW    X0, X0, X0
	VMOVQ        X0, (DI)
	ADDQ         $6, DI
	ADDQ         $4, BX
	DECQ         CX
	JMP          qpix

qdone:
	VZEROUPPER
	RET

// func resizeH3Q2AVX2(dst0, dst1 *int16, src0, src1 *uint8, start *int32, wq *int32, out, k int)
TEXT ·resizeH3Q2AVX2(SB), NOSPLIT, $0-64
	MOVQ dst0+0(FP), DI
	MOVQ dst1+8(FP), R11
	MOVQ src0+16(FP), SI
	MOVQ src1+24(FP), R12
	MOVQ start+32(FP), BX
	MOVQ wq+40(FP), R8
	MOVQ out+48(FP), CX
	MOVQ k+56(FP), DX
	VMOVDQU resizeH3QShuf<>(SB), Y15
	MOVL $64, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	SUBQ SI, R12
	CMPQ DX, $4
	JEQ  q4pair
	CMPQ DX, $8
	JEQ  q8pair

q2pix:
	TESTQ CX, CX
	JZ    q2done
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	MOVQ  DX, R10

q2tap:
	VMOVDQU        (R8), Y4
	VBROADCASTI128 (R9), Y2
	VBROADCASTI128 (R9)(R12*1), Y3
	VPSHUFB        Y15, Y2, Y2
	VPSHUFB        Y15, Y3, Y3
	VPMADDWD       Y4, Y2, Y2
	VPMADDWD       Y4, Y3, Y3
	VPADDD         Y2, Y0, Y0
	VPADDD         Y3, Y1, Y1
	ADDQ           $12, R9
	ADDQ           $32, R8
	SUBQ           $4, R10
	JNZ            q2tap

	VPERM2I128   $0x20, Y1, Y0, Y2
	VPERM2I128   $0x31, Y1, Y0, Y3
	VPADDD       Y3, Y2, Y2
	VPADDD       Y14, Y2, Y2
	VPSRAD       $7, Y2, Y2
	VPACKSSDW    Y2, Y2, Y2
	VMOVQ        X2, (DI)
	VEXTRACTI128 $1, Y2, X3
	VMOVQ        X3, (R11)
	ADDQ         $6, DI
	ADDQ         $6, R11
	ADDQ         $4, BX
	DECQ         CX
	JMP          q2pix

	// k == 4 (the common downscale by less than 2): one group of four taps
	// per output, no tap loop, no zeroed accumulators. Same sums. Two
	// outputs A, B per step while there are two: their lane sums are
	// formed together ([A | B] per row), packed as [A0 A1 | B0 B1] and
	// stored as four quadwords (each writes one int16 past its pixel,
	// which the next store or the row gap absorbs).
q4pair:
	CMPQ CX, $2
	JLT  q4pix
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	MOVLQSX 4(BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R10
	VMOVDQU        (R8), Y4
	VBROADCASTI128 (R9), Y0
	VBROADCASTI128 (R9)(R12*1), Y1
	VMOVDQU        32(R8), Y5
	VBROADCASTI128 (R10), Y2
	VBROADCASTI128 (R10)(R12*1), Y3
	VPSHUFB        Y15, Y0, Y0
	VPSHUFB        Y15, Y1, Y1
	VPSHUFB        Y15, Y2, Y2
	VPSHUFB        Y15, Y3, Y3
	VPMADDWD       Y4, Y0, Y0     // A row 0: [taps 0-1 | taps 2-3]
	VPMADDWD       Y4, Y1, Y1     // A row 1
	VPMADDWD       Y5, Y2, Y2     // B row 0
	VPMADDWD       Y5, Y3, Y3     // B row 1
	VPERM2I128     $0x20, Y2, Y0, Y4
	VPERM2I128     $0x31, Y2, Y0, Y5
	VPADDD         Y5, Y4, Y4     // row 0: [A | B]
	VPERM2I128     $0x20, Y3, Y1, Y6
	VPERM2I128     $0x31, Y3, Y1, Y7
	VPADDD         Y7, Y6, Y6     // row 1: [A | B]
	VPADDD         Y14, Y4, Y4
	VPADDD         Y14, Y6, Y6
	VPSRAD         $7, Y4, Y4
	VPSRAD         $7, Y6, Y6
	VPACKSSDW      Y6, Y4, Y4     // [A0 A1 | B0 B1]
	VEXTRACTI128   $1, Y4, X5
	VMOVQ          X4, (DI)
	VMOVHPS        X4, (R11)
	VMOVQ          X5, 6(DI)
	VMOVHPS        X5, 6(R11)
	ADDQ           $12, DI
	ADDQ           $12, R11
	ADDQ           $8, BX
	ADDQ           $64, R8
	SUBQ           $2, CX
	JMP            q4pair

	// k == 8 (downscales by about 1.5 to 2): two groups of four taps per
	// output, unrolled, two outputs per step as in q4pair (the group sums
	// are added before the lanes are).
q8pair:
	CMPQ CX, $2
	JLT  q2pix
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	MOVLQSX 4(BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R10
	VMOVDQU        (R8), Y8       // A taps 0-3
	VMOVDQU        32(R8), Y9     // A taps 4-7
	VMOVDQU        64(R8), Y10    // B taps 0-3
	VMOVDQU        96(R8), Y11    // B taps 4-7
	VBROADCASTI128 (R9), Y0
	VBROADCASTI128 12(R9), Y4
	VPSHUFB        Y15, Y0, Y0
	VPSHUFB        Y15, Y4, Y4
	VPMADDWD       Y8, Y0, Y0
	VPMADDWD       Y9, Y4, Y4
	VPADDD         Y4, Y0, Y0     // A row 0
	VBROADCASTI128 (R9)(R12*1), Y1
	VBROADCASTI128 12(R9)(R12*1), Y5
	VPSHUFB        Y15, Y1, Y1
	VPSHUFB        Y15, Y5, Y5
	VPMADDWD       Y8, Y1, Y1
	VPMADDWD       Y9, Y5, Y5
	VPADDD         Y5, Y1, Y1     // A row 1
	VBROADCASTI128 (R10), Y2
	VBROADCASTI128 12(R10), Y6
	VPSHUFB        Y15, Y2, Y2
	VPSHUFB        Y15, Y6, Y6
	VPMADDWD       Y10, Y2, Y2
	VPMADDWD       Y11, Y6, Y6
	VPADDD         Y6, Y2, Y2     // B row 0
	VBROADCASTI128 (R10)(R12*1), Y3
	VBROADCASTI128 12(R10)(R12*1), Y7
	VPSHUFB        Y15, Y3, Y3
	VPSHUFB        Y15, Y7, Y7
	VPMADDWD       Y10, Y3, Y3
	VPMADDWD       Y11, Y7, Y7
	VPADDD         Y7, Y3, Y3     // B row 1
	VPERM2I128     $0x20, Y2, Y0, Y4
	VPERM2I128     $0x31, Y2, Y0, Y5
	VPADDD         Y5, Y4, Y4     // row 0: [A | B]
	VPERM2I128     $0x20, Y3, Y1, Y6
	VPERM2I128     $0x31, Y3, Y1, Y7
	VPADDD         Y7, Y6, Y6     // row 1: [A | B]
	VPADDD         Y14, Y4, Y4
	VPADDD         Y14, Y6, Y6
	VPSRAD         $7, Y4, Y4
	VPSRAD         $7, Y6, Y6
	VPACKSSDW      Y6, Y4, Y4     // [A0 A1 | B0 B1]
	VEXTRACTI128   $1, Y4, X5
	VMOVQ          X4, (DI)
	VMOVHPS        X4, (R11)
	VMOVQ          X5, 6(DI)
	VMOVHPS        X5, 6(R11)
	ADDQ           $12, DI
	ADDQ           $12, R11
	ADDQ           $8, BX
	ADDQ           $128, R8
	SUBQ           $2, CX
	JMP            q8pair

q4pix:
	TESTQ CX, CX
	JZ    q2done
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VMOVDQU        (R8), Y4
	VBROADCASTI128 (R9), Y2
	VBROADCASTI128 (R9)(R12*1), Y3
	VPSHUFB        Y15, Y2, Y2
	VPSHUFB        Y15, Y3, Y3
	VPMADDWD       Y4, Y2, Y0
	VPMADDWD       Y4, Y3, Y1
	VPERM2I128   $0x20, Y1, Y0, Y2
	VPERM2I128   $0x31, Y1, Y0, Y3
	VPADDD       Y3, Y2, Y2
	VPADDD       Y14, Y2, Y2
	VPSRAD       $7, Y2, Y2
	VPACKSSDW    Y2, Y2, Y2
	VMOVQ        X2, (DI)
	VEXTRACTI128 $1, Y2, X3
	VMOVQ        X3, (R11)
	ADDQ         $6, DI
	ADDQ         $6, R11
	ADDQ         $4, BX
	ADDQ         $32, R8
	DECQ         CX
	JMP          q4pix

q2done:
	VZEROUPPER
	RET

// The pair shuffle in both lanes (two rows at once).
DATA resizeH3Shuf2<>+0(SB)/8, $0x8004800180038000
DATA resizeH3Shuf2<>+8(SB)/8, $0x8080808080058002
DATA resizeH3Shuf2<>+16(SB)/8, $0x8004800180038000
DATA resizeH3Shuf2<>+24(SB)/8, $0x8080808080058002
GLOBL resizeH3Shuf2<>(SB), RODATA|NOPTR, $32

// func resizeH3P2AVX2(dst0, dst1 *int16, src0, src1 *uint8, start *int32, w *int16, out, k int)
TEXT ·resizeH3P2AVX2(SB), NOSPLIT, $0-64
	MOVQ dst0+0(FP), DI
	MOVQ dst1+8(FP), R11
	MOVQ src0+16(FP), SI
	MOVQ src1+24(FP), R12
	MOVQ start+32(FP), BX
	MOVQ w+40(FP), R8
	MOVQ out+48(FP), CX
	MOVQ k+56(FP), DX
	VMOVDQU resizeH3Shuf2<>(SB), Y15
	MOVL $64, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	SUBQ SI, R12
	CMPQ DX, $2
	JEQ  p1pair

p2pix:
	TESTQ CX, CX
	JZ    p2done
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VMOVDQA Y14, Y0
	MOVQ  DX, R10

p2tap:
	VMOVQ        (R9), X1
	VMOVQ        (R9)(R12*1), X2
	VINSERTI128  $1, X2, Y1, Y1
	VPSHUFB      Y15, Y1, Y1
	VPBROADCASTD (R8), Y2
	VPMADDWD     Y2, Y1, Y1
	VPADDD       Y1, Y0, Y0
	ADDQ         $6, R9
	ADDQ         $4, R8
	SUBQ         $2, R10
	JNZ          p2tap

	VPSRAD       $7, Y0, Y0
	VPACKSSDW    Y0, Y0, Y0
	VMOVQ        X0, (DI)
	VEXTRACTI128 $1, Y0, X3
	VMOVQ        X3, (R11)
	ADDQ         $6, DI
	ADDQ         $6, R11
	ADDQ         $4, BX
	DECQ         CX
	JMP          p2pix

	// k == 2 (upscaling): one pair of taps per output, no tap loop. Two
	// outputs A, B per step while there are two, packed as [A0 B0 | A1
	// B1] and stored as four quadwords (see q4pair).
p1pair:
	CMPQ CX, $2
	JLT  p1pix
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VMOVQ        (R9), X0
	VMOVQ        (R9)(R12*1), X1
	MOVLQSX 4(BX), AX
	LEAQ  (AX)(AX*2), AX
	LEAQ  (SI)(AX*1), R9
	VMOVQ        (R9), X2
	VMOVQ        (R9)(R12*1), X3
	VINSERTI128  $1, X1, Y0, Y0
	VINSERTI128  $1, X3, Y2, Y2
	VPSHUFB      Y15, Y0, Y0
	VPSHUFB      Y15, Y2, Y2
	VPBROADCASTD (R8), Y4
	VPBROADCASTD 4(R8), Y5
	VPMADDWD     Y4, Y0, Y0       // A: [row 0 | row 1]
	VPMADDWD     Y5, Y2, Y2       // B
	VPADDD       Y14, Y0, Y0
	VPADDD       Y14, Y2, Y2
	VPSRAD       $7, Y0, Y0
	VPSRAD       $7, Y2, Y2
	VPACKSSDW    Y2, Y0, Y0       // [A0 B0 | A1 B1]
	VEXTRACTI128 $1, Y0, X1
	VMOVQ        X0, (DI)
	VMOVHPS      X0, 6(DI)
	VMOVQ        X1, (R11)
	VMOVHPS      X1, 6(R11)
	ADDQ         $12, DI
	ADDQ         $12, R11
	ADDQ         $8, BX
	ADDQ         $8, R8
	SUBQ         $2, CX
	JMP          p1pair

p1pix:
	TESTQ CX, CX
	JZ    p2done
	MOVLQSX (BX), AX
	LEAQ  (AX)(AX*2), AX
	VMOVQ        (SI)(AX*1), X1
	LEAQ         (SI)(AX*1), R9
	VMOVQ        (R9)(R12*1), X2
	VINSERTI128  $1, X2, Y1, Y1
	VPSHUFB      Y15, Y1, Y1
	VPBROADCASTD (R8), Y2
	VPMADDWD     Y2, Y1, Y1
	VPADDD       Y14, Y1, Y0
	VPSRAD       $7, Y0, Y0
	VPACKSSDW    Y0, Y0, Y0
	VMOVQ        X0, (DI)
	VEXTRACTI128 $1, Y0, X3
	VMOVQ        X3, (R11)
	ADDQ         $6, DI
	ADDQ         $6, R11
	ADDQ         $4, BX
	ADDQ         $4, R8
	DECQ         CX
	JMP          p1pix

p2done:
	VZEROUPPER
	RET

// func resizeH1x2AVX2(dst0, dst1 *int16, src0, src1 *uint8, start *int32, w8 *int16, out int)
TEXT ·resizeH1x2AVX2(SB), NOSPLIT, $0-56
	MOVQ dst0+0(FP), DI
	MOVQ dst1+8(FP), R11
	MOVQ src0+16(FP), SI
	MOVQ src1+24(FP), R12
	MOVQ start+32(FP), BX
	MOVQ w8+40(FP), R8
	MOVQ out+48(FP), CX
	MOVL $64, AX
	VMOVD AX, X14
	VPBROADCASTD X14, Y14
	SUBQ SI, R12

g4:
	TESTQ CX, CX
	JZ    g4done

	MOVLQSX        0(BX), AX
	LEAQ           (SI)(AX*1), R9
	VMOVQ          (R9), X0
	VPINSRQ        $1, (R9)(R12*1), X0, X0
	VPMOVZXBW      X0, Y0
	VBROADCASTI128 0(R8), Y5
	VPMADDWD       Y5, Y0, Y0

	MOVLQSX        4(BX), AX
	LEAQ           (SI)(AX*1), R9
	VMOVQ          (R9), X2
	VPINSRQ        $1, (R9)(R12*1), X2, X2
	VPMOVZXBW      X2, Y2
	VBROADCASTI128 16(R8), Y5
	VPMADDWD       Y5, Y2, Y2

	MOVLQSX        8(BX), AX
	LEAQ           (SI)(AX*1), R9
	VMOVQ          (R9), X3
	VPINSRQ        $1, (R9)(R12*1), X3, X3
	VPMOVZXBW      X3, Y3
	VBROADCASTI128 32(R8), Y5
	VPMADDWD       Y5, Y3, Y3

	MOVLQSX        12(BX), AX
	LEAQ           (SI)(AX*1), R9
	VMOVQ          (R9), X4
	VPINSRQ        $1, (R9)(R12*1), X4, X4
	VPMOVZXBW      X4, Y4
	VBROADCASTI128 48(R8), Y5
	VPMADDWD       Y5, Y4, Y4

	VPHADDD      Y2, Y0, Y0
	VPHADDD      Y4, Y3, Y3
	VPHADDD      Y3, Y0, Y0
	VPADDD       Y14, Y0, Y0
	VPSRAD       $7, Y0, Y0
	VPACKSSDW    Y0, Y0, Y0
	VMOVQ        X0, (DI)
	VEXTRACTI128 $1, Y0, X1
	VMOVQ        X1, (R11)
	ADDQ         $8, DI
	ADDQ         $8, R11
	ADDQ         $16, BX
	ADDQ         $64, R8
	SUBQ         $4, CX
	JMP          g4

g4done:
	VZEROUPPER
	RET
