//go:build amd64 && !purego && !noasm

package ops

import (
	"github.com/pairflow/pairflow/internal/cpu"
	xcpu "golang.org/x/sys/cpu"
)

// The colour kernels, AVX2 and AVX-512, are generated (generated_amd64.go
// and .s, from _generate). The AVX2 kernels process whole blocks only and
// the Go wrappers finish the tail with the reference kernel, which computes
// the same bytes; the AVX-512 ones take any length and mask their last
// block.

// cfWideLoadPixels returns how many of the first n pixels (n a multiple of
// 8) of src the AVX2 kernels built on LOADRGB8 (loadRGB in
// _generate) may take, given nbytes = cap(src):
// each block of 8 pixels loads 32 bytes, 8 past its own 24, so the last
// block needs 8 more bytes in the slice's backing array (the kernels ignore
// them); without them it is left to the reference (8 pixels fewer). The
// capacity, not the length, is what counts: a row of a strided image, or
// any row but the last of a tight one, has the next bytes of its image
// behind it.
func cfWideLoadPixels(n, nbytes int) int {
	if n > 0 && 3*n+8 > nbytes {
		n -= 8
	}
	return n
}

// cfHueChunk is the number of pixels the two hue loops pass through their
// buffer at a time (3 KiB of float32s, well inside L1).
const cfHueChunk = 256

func cfLumaSum(p []uint8) uint64 {
	var sum uint64
	if tier >= cpu.AVX512 {
		for len(p) >= 3 {
			n := min(len(p)/3, 1<<24)
			sum += cfLumaSumAVX512(&p[0], n)
			p = p[3*n:]
		}
		return sum + cfLumaSumRef(p)
	}
	if tier >= cpu.AVX2 {
		for len(p) >= 24 {
			n := cfWideLoadPixels(min(len(p)/3&^7, 1<<24), cap(p))
			if n == 0 {
				break
			}
			sum += cfLumaSumAVX2(&p[0], n)
			p = p[3*n:]
		}
	}
	return sum + cfLumaSumRef(p)
}

func cfSumU8(p []uint8) uint64 {
	var sum uint64
	if tier >= cpu.AVX512 {
		if len(p) > 0 {
			sum = cfSumU8AVX512(&p[0], len(p))
		}
		return sum
	}
	if tier >= cpu.AVX2 {
		if n := len(p) &^ 31; n > 0 {
			sum = cfSumU8AVX2(&p[0], n)
			p = p[n:]
		}
	}
	return sum + cfSumU8Ref(p)
}

// haveVBMI reports AVX-512 VBMI (VPERMI2B), which the AVX-512 tier uses
// for byte lookups where the CPU has it (Zen 4 and Ice Lake on; not
// Skylake-X). Tests switch it off to cover the AVX-512 kernels without it.
var haveVBMI = xcpu.X86.HasAVX512VBMI

// haveVNNI reports AVX-512 VNNI (VPDPWSSD), used with VBMI by the AVX-512
// RGB resize kernel; tests switch it off like haveVBMI.
var haveVNNI = xcpu.X86.HasAVX512VNNI

// cfLUTMin is the length from which cfAffine on the AVX-512 tier with VBMI
// builds a 256-byte table of its function and looks the bytes up: the
// affine map is applied to each byte alone, so the table, made by the
// same kernel from the bytes 0..255, gives the same bytes for any input.
const cfLUTMin = 128

// cfIdentity holds the bytes 0..255 in order.
var cfIdentity = func() (t [256]uint8) {
	for i := range t {
		t[i] = uint8(i)
	}
	return t
}()

// cfAffineAVX512Any is cfAffineRef over n > 0 bytes on the AVX-512 tier:
// brightness (b 0, a >= 0, where a*x + 0 == a*x) by the scale kernel,
// anything else by the affine one.
func cfAffineAVX512Any(dst, src *uint8, n int, a, b float32) {
	if b == 0 && a >= 0 {
		cfScaleAVX512(dst, src, n, a)
	} else {
		cfAffineAVX512(dst, src, n, a, b)
	}
}

func cfAffine(dst, src []uint8, a, b float32) {
	dst = dst[:len(src)]
	if tier >= cpu.AVX512 {
		switch {
		case haveVBMI && len(src) >= cfLUTMin:
			var lut [256]uint8
			cfAffineAVX512Any(&lut[0], &cfIdentity[0], 256, a, b)
			cfLUT8AVX512(&dst[0], &src[0], len(src), &lut)
		case len(src) > 0:
			cfAffineAVX512Any(&dst[0], &src[0], len(src), a, b)
		}
		return
	}
	if tier >= cpu.AVX2 {
		if n := len(src) &^ 31; n > 0 {
			if b == 0 && a >= 0 { // brightness: a*x + 0 == a*x
				cfScaleAVX2(&dst[0], &src[0], n, a)
			} else {
				cfAffineAVX2(&dst[0], &src[0], n, a, b)
			}
			dst, src = dst[n:], src[n:]
		}
	}
	cfAffineRef(dst, src, a, b)
}

func cfSaturate(dst, src []uint8, a, c float32) {
	dst = dst[:len(src)]
	if tier >= cpu.AVX512 {
		if n := len(src) / 3; n > 0 {
			cfSaturateAVX512(&dst[0], &src[0], n, a, c)
			dst, src = dst[3*n:], src[3*n:]
		}
		cfSaturateRef(dst, src, a, c) // a last partial pixel, if any
		return
	}
	if tier >= cpu.AVX2 {
		if n := cfWideLoadPixels(len(src)/3&^7, cap(src)); n > 0 {
			cfSaturateAVX2(&dst[0], &src[0], n, a, c)
			dst, src = dst[3*n:], src[3*n:]
		}
	}
	cfSaturateRef(dst, src, a, c)
}

func cfGray(dst, src []uint8, outC int) {
	if tier >= cpu.AVX512 {
		if n := len(src) / 3; n > 0 {
			_ = dst[outC*n-1]
			if outC == 1 {
				cfGray1AVX512(&dst[0], &src[0], n)
			} else {
				cfGray3AVX512(&dst[0], &src[0], n)
			}
			dst, src = dst[outC*n:], src[3*n:]
		}
		cfGrayRef(dst, src, outC) // nothing left but a partial pixel
		return
	}
	if tier >= cpu.AVX2 {
		if n := cfWideLoadPixels(len(src)/3&^7, cap(src)); n > 0 {
			if outC == 1 {
				_ = dst[n-1]
				cfGray1AVX2(&dst[0], &src[0], n)
			} else {
				_ = dst[3*n-1]
				cfGray3AVX2(&dst[0], &src[0], n)
			}
			dst, src = dst[outC*n:], src[3*n:]
		}
	}
	cfGrayRef(dst, src, outC)
}

func cfHue(dst, src []uint8, hue float32) {
	dst = dst[:len(src)]
	if tier >= cpu.AVX512 {
		var hsv [3 * cfHueChunk]float32 // whole blocks of 16: cfHueChunk is a multiple
		for len(src) >= 3 {
			n := min(len(src)/3, cfHueChunk)
			_ = dst[3*n-1]
			cfHueFwdAVX512(&hsv[0], &src[0], n) // reads all n pixels first: dst may alias src
			cfHueInvAVX512(&dst[0], &hsv[0], n, hue)
			dst, src = dst[3*n:], src[3*n:]
		}
		cfHueRef(dst, src, hue) // a last partial pixel, if any
		return
	}
	if tier >= cpu.AVX2 {
		var hsv [3 * cfHueChunk]float32
		for {
			n := cfWideLoadPixels(min(len(src)/3&^7, cfHueChunk), cap(src))
			if n == 0 {
				break
			}
			_ = dst[3*n-1]
			cfHueFwdAVX2(&hsv[0], &src[0], n) // reads all n pixels first: dst may alias src
			cfHueInvAVX2(&dst[0], &hsv[0], n, hue)
			dst, src = dst[3*n:], src[3*n:]
		}
	}
	cfHueRef(dst, src, hue)
}
