package imageio

import (
	"image"
	"image/color"

	"github.com/pairflow/pairflow/pix"
)

func isGrayModel(m color.Model) bool { return m == color.GrayModel || m == color.Gray16Model }

// luma is ITU-R BT.601 luma in 16.16 fixed point (color.GrayModel's rule).
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 1<<15) >> 16)
}

// to8 rounds a 16-bit sample to 8 bits.
func to8(v uint32) uint8 { return uint8((v*255 + 32767) / 65535) }

// over composites an 8-bit non-premultiplied sample over black.
func over(c, a uint8) uint8 { return uint8((uint32(c)*uint32(a) + 127) / 255) }

// ycc is color.YCbCrToRGB, inlined: exact 16.16 fixed-point arithmetic.
func ycc(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int32(y) * 0x10101
	rd, gd, bd := chroma(cb, cr)
	return clamp16(yy + rd), clamp16(yy + gd), clamp16(yy + bd)
}

// chroma returns the 16.16 offsets that Cb and Cr add to the scaled luma
// for R, G and B (color.YCbCrToRGB's constants).
func chroma(cb, cr uint8) (rd, gd, bd int32) {
	b1 := int32(cb) - 128
	r1 := int32(cr) - 128
	return 91881 * r1, -22554*b1 - 46802*r1, 116130 * b1
}

// clamp16 takes the integer part of a 16.16 value, saturated to 0..255:
// color.YCbCrToRGB's rule (v&0xff000000 == 0 ? v>>16 : v<0 ? 0 : 255),
// written with min and max so that it compiles to conditional moves
// rather than branches that photos' noisy chroma mispredicts.
func clamp16(v int32) uint8 {
	return uint8(min(max(v, 0), 0xffffff) >> 16)
}

// yccRow2Ref converts one row of pixels whose horizontal pairs share
// chroma (4:2:0 and 4:2:2): len(y) pixels into o (3 bytes each), chroma
// from cb[x/2], cr[x/2]. It needs len(cb), len(cr) >= (len(y)+1)/2 and
// len(o) >= 3*len(y). It is the reference for yccRow2's fast paths.
func yccRow2Ref(o, y, cb, cr []uint8) {
	n := len(y) / 2
	cb, cr = cb[:n], cr[:n]
	o = o[:6*n]
	for i := range cb {
		rd, gd, bd := chroma(cb[i], cr[i])
		y0 := int32(y[2*i]) * 0x10101
		y1 := int32(y[2*i+1]) * 0x10101
		p := o[6*i : 6*i+6 : 6*i+6]
		p[0] = clamp16(y0 + rd)
		p[1] = clamp16(y0 + gd)
		p[2] = clamp16(y0 + bd)
		p[3] = clamp16(y1 + rd)
		p[4] = clamp16(y1 + gd)
		p[5] = clamp16(y1 + bd)
	}
	if len(y)%2 == 1 {
		x := len(y) - 1
		p := o[:3*x+3]
		p[3*x], p[3*x+1], p[3*x+2] = ycc(y[x], cb[:n+1][n], cr[:n+1][n])
	}
}

// yccRow1 converts one row of 4:4:4 pixels.
func yccRow1(o, y, cb, cr []uint8) {
	cb, cr = cb[:len(y)], cr[:len(y)]
	o = o[:3*len(y)]
	for i, v := range y {
		rd, gd, bd := chroma(cb[i], cr[i])
		yy := int32(v) * 0x10101
		p := o[3*i : 3*i+3 : 3*i+3]
		p[0] = clamp16(yy + rd)
		p[1] = clamp16(yy + gd)
		p[2] = clamp16(yy + bd)
	}
}

// convert writes m into dst as a tight image with c (1 or 3) channels,
// following the package's conversion rules.
func convert(dst *pix.Image, m image.Image, c int) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	dst.Reshape(w, h, c)
	switch m := m.(type) {
	case *image.YCbCr:
		convertYCbCr(dst, m)
	case *image.Gray:
		for y := range h {
			src := m.Pix[(y)*m.Stride : y*m.Stride+w]
			row := dst.Row(y)
			if c == 1 {
				copy(row, src)
				continue
			}
			for x, v := range src {
				row[3*x], row[3*x+1], row[3*x+2] = v, v, v
			}
		}
	case *image.RGBA:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+4*w]
			putRGB(dst.Row(y), src, c, func(r, g, b, _ uint8) (uint8, uint8, uint8) { return r, g, b })
		}
	case *image.NRGBA:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+4*w]
			putRGB(dst.Row(y), src, c, func(r, g, b, a uint8) (uint8, uint8, uint8) {
				if a == 0xff {
					return r, g, b
				}
				return over(r, a), over(g, a), over(b, a)
			})
		}
	case *image.CMYK:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+4*w]
			putRGB(dst.Row(y), src, c, color.CMYKToRGB)
		}
	case *image.Gray16:
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+2*w]
			row := dst.Row(y)
			for x := range w {
				v := to8(uint32(src[2*x])<<8 | uint32(src[2*x+1]))
				if c == 1 {
					row[x] = v
				} else {
					row[3*x], row[3*x+1], row[3*x+2] = v, v, v
				}
			}
		}
	case *image.Paletted:
		var lut [256][3]uint8
		for i, col := range m.Palette {
			r, g, b := rgbOf(col)
			lut[i] = [3]uint8{r, g, b}
			if c == 1 {
				lut[i][0] = luma(r, g, b)
			}
		}
		for y := range h {
			src := m.Pix[y*m.Stride : y*m.Stride+w]
			row := dst.Row(y)
			for x, p := range src {
				if c == 1 {
					row[x] = lut[p][0]
				} else {
					row[3*x], row[3*x+1], row[3*x+2] = lut[p][0], lut[p][1], lut[p][2]
				}
			}
		}
	default:
		convertGeneric(dst, m, c)
	}
}

// putRGB converts a row of 4-byte pixels with f and stores RGB or gray.
func putRGB(row, src []uint8, c int, f func(a, b, c, d uint8) (uint8, uint8, uint8)) {
	n := len(src) / 4
	if c == 3 {
		for x := range n {
			s := src[4*x : 4*x+4]
			row[3*x], row[3*x+1], row[3*x+2] = f(s[0], s[1], s[2], s[3])
		}
		return
	}
	for x := range n {
		s := src[4*x : 4*x+4]
		row[x] = luma(f(s[0], s[1], s[2], s[3]))
	}
}

// rgbOf converts any color by the generic rule: premultiplied 16-bit RGBA,
// rounded to 8 bits (that is, composited over black).
func rgbOf(col color.Color) (uint8, uint8, uint8) {
	if col == nil {
		return 0, 0, 0
	}
	r, g, b, _ := col.RGBA()
	return to8(r), to8(g), to8(b)
}

// convertGeneric is the rule for any image type, via color.Color.
func convertGeneric(dst *pix.Image, m image.Image, c int) {
	b := m.Bounds()
	gray := isGrayModel(m.ColorModel())
	for y := range b.Dy() {
		row := dst.Row(y)
		for x := range b.Dx() {
			col := m.At(b.Min.X+x, b.Min.Y+y)
			var r, g, bl uint8
			if gray {
				// Gray sources keep their value; no luma round trip.
				v, _, _, _ := col.RGBA()
				r, g, bl = to8(v), to8(v), to8(v)
			} else {
				r, g, bl = rgbOf(col)
			}
			if c == 1 {
				if gray {
					row[x] = r
				} else {
					row[x] = luma(r, g, bl)
				}
			} else {
				row[3*x], row[3*x+1], row[3*x+2] = r, g, bl
			}
		}
	}
}

// convertYCbCr is the fast path for YCbCr images (JPEG, lossy WebP).
func convertYCbCr(dst *pix.Image, m *image.YCbCr) {
	b := m.Bounds()
	w, h := b.Dx(), b.Dy()
	if dst.C == 1 {
		for y := range h {
			off := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(dst.Row(y), m.Y[off:off+w])
		}
		return
	}
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422:
		// Two horizontally adjacent pixels share chroma when the bounds
		// start at an even x.
		if b.Min.X%2 == 0 {
			for y := range h {
				yo := m.YOffset(b.Min.X, b.Min.Y+y)
				co := m.COffset(b.Min.X, b.Min.Y+y)
				n := (w + 1) / 2
				yccRow2(dst.Row(y), m.Y[yo:yo+w], m.Cb[co:co+n], m.Cr[co:co+n])
			}
			return
		}
	case image.YCbCrSubsampleRatio444:
		for y := range h {
			yo := m.YOffset(b.Min.X, b.Min.Y+y)
			co := m.COffset(b.Min.X, b.Min.Y+y)
			yccRow1(dst.Row(y), m.Y[yo:yo+w], m.Cb[co:co+w], m.Cr[co:co+w])
		}
		return
	}
	convertYCbCrRef(dst, m)
}

// convertYCbCrRef is the per-pixel reference for YCbCr → RGB, valid for
// every subsampling ratio.
func convertYCbCrRef(dst *pix.Image, m *image.YCbCr) {
	b := m.Bounds()
	for y := range b.Dy() {
		row := dst.Row(y)
		for x := range b.Dx() {
			yi := m.YOffset(b.Min.X+x, b.Min.Y+y)
			ci := m.COffset(b.Min.X+x, b.Min.Y+y)
			r, g, bl := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
			if dst.C == 1 {
				row[x] = m.Y[yi]
			} else {
				row[3*x], row[3*x+1], row[3*x+2] = r, g, bl
			}
		}
	}
}

// orient applies EXIF orientation o (2..8) to m in place, using scratch
// (returned, possibly grown) for the copy.
func orient(m *pix.Image, o int, scratch []uint8) []uint8 {
	w, h, c := m.W, m.H, m.C
	if cap(scratch) < len(m.Pix) {
		scratch = make([]uint8, len(m.Pix))
	}
	src := scratch[:len(m.Pix)]
	copy(src, m.Pix)
	ow, oh := w, h
	if o >= 5 {
		ow, oh = h, w
	}
	m.Reshape(ow, oh, c)
	for y := range oh {
		row := m.Row(y)
		for x := range ow {
			var sx, sy int
			switch o {
			case 2:
				sx, sy = w-1-x, y
			case 3:
				sx, sy = w-1-x, h-1-y
			case 4:
				sx, sy = x, h-1-y
			case 5:
				sx, sy = y, x
			case 6:
				sx, sy = y, h-1-x
			case 7:
				sx, sy = w-1-y, h-1-x
			case 8:
				sx, sy = w-1-y, x
			default:
				sx, sy = x, y
			}
			copy(row[x*c:x*c+c], src[(sy*w+sx)*c:])
		}
	}
	return scratch
}
