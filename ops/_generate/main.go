// Command _generate writes pairflow's generated ops kernels
// (ops/generated_amd64.s and its Go declarations) with avo. Each kernel is
// described once, as a Go function over an isa value, and emitted for AVX2
// (8 float32 lanes in YMM registers) and AVX-512 (16 lanes in ZMM, opmask
// registers for compares, blends and tails); the byte table lookup and the
// VNNI/VBMI resize kernels exist for AVX-512 only, and the kernels ported
// from the hand-written AVX2 files (resizeh.go, the single-row passes in
// blur.go, grayrow.go, solarize.go, noise.go, sobel.go) for AVX2 only,
// instruction for instruction. This folder is its own module
// so that avo never enters pairflow's go.mod (the klauspost/compress
// layout). Run it with `go generate ./ops` from the repository root; CI
// regenerates and fails when the committed files differ.
//
// Every variant computes, lane by lane, the operations of its plain-Go
// reference kernel (ops/color_kernels.go, the *Ref functions in
// ops/blur.go, ops/resize.go, ops/convert.go, ops/solarize.go, ops/noise.go
// and ops/sobel.go, and grayRowToRGBGo and rgbRowTakeRGo in ops/gray.go) in
// the same order and with the same roundings, so every tier writes the same
// bytes; the one exception is the conversion's v/255, a multiplication and
// an FMA that equal the division for every byte v (see convert.go).
package main

import (
	. "github.com/mmcloughlin/avo/build"
)

func main() {
	ConstraintExpr("amd64,!purego,!noasm")
	for _, a := range []*isa{avx2, avx512} {
		genSaturate(a)
		genHueFwd(a)
		genHueInv(a)
		genAffine(a, false)
		genAffine(a, true)
		genGray(a, 1)
		genGray(a, 3)
		genLumaSum(a)
		genSumU8(a)
		genBlurV2(a)
		genResizeV(a, false)
		for _, norm := range []bool{false, true} {
			genConvert3(a, norm)
			genConvert1(a, norm)
		}
	}
	genLUT8()
	genResizeV(avx512, true)
	genResizeH3Q4x2(2)
	genResizeH3Q4x2(4)
	genResizeH3()
	genResizeH3Q()
	genResizeH3Q2()
	genResizeH3P2()
	genResizeH1x2()
	genBlurH()
	genBlurV()
	genWiden()
	genGrayExpand()
	genRGBTakeR()
	genSolarize()
	genNoiseAdd()
	genSobelRow()
	Generate()
}
