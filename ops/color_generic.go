//go:build !amd64 || purego || noasm

package ops

func cfAffine(dst, src []uint8, a, b float32)   { cfAffineRef(dst, src, a, b) }
func cfSaturate(dst, src []uint8, a, c float32) { cfSaturateRef(dst, src, a, c) }
func cfGray(dst, src []uint8, outC int)         { cfGrayRef(dst, src, outC) }
func cfHue(dst, src []uint8, hue float32)       { cfHueRef(dst, src, hue) }

func cfSumU8(p []uint8) uint64   { return cfSumU8Ref(p) }
func cfLumaSum(p []uint8) uint64 { return cfLumaSumRef(p) }
