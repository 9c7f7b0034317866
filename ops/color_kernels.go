package ops

// Plain-Go reference kernels of the colour operators. Each is the exact
// specification of its SIMD twin: float32 arithmetic in this order, every
// product rounded before it is added (the explicit float32 conversions
// forbid fused multiply-adds on every architecture), so both produce the same
// bytes. The formulas are torchvision's functional ops on uint8 tensors
// (torchvision/transforms/functional_tensor.py), which compute in float32 in
// the same order.

// Luma weights of rgb_to_grayscale (ITU-R 601-2 as torchvision rounds them).
const (
	cfLumaR float32 = 0.2989
	cfLumaG float32 = 0.587
	cfLumaB float32 = 0.114
)

// cfLuma is torchvision's rgb_to_grayscale on uint8:
// (0.2989*r + 0.587*g + 0.114*b).to(uint8), truncating.
func cfLuma(r, g, b uint8) uint8 {
	v := float32(cfLumaR*float32(r)) + float32(cfLumaG*float32(g))
	v = float32(v) + float32(cfLumaB*float32(b))
	return uint8(int32(v)) // v < 255 always
}

// cfAffineRef sets dst[i] = trunc(clamp(a*src[i] + b, 0, 255)): torchvision's
// _blend of a uint8 image with a constant (brightness: b = 0; contrast:
// b = (1-f)*mean). dst and src may be the same slice.
func cfAffineRef(dst, src []uint8, a, b float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = cfTrunc(float32(a*float32(x)) + b)
	}
}

// cfSaturateRef blends each RGB pixel of src with its luma:
// trunc(clamp(a*x + c*gray)) with a = f, c = 1-f (adjust_saturation).
// len(src) must be a multiple of 3; dst and src may be the same slice.
func cfSaturateRef(dst, src []uint8, a, c float32) {
	dst = dst[:len(src)]
	for i := 0; i+2 < len(src); i += 3 {
		r, g, b := src[i], src[i+1], src[i+2]
		cg := float32(c * float32(cfLuma(r, g, b)))
		dst[i] = cfTrunc(float32(a*float32(r)) + cg)
		dst[i+1] = cfTrunc(float32(a*float32(g)) + cg)
		dst[i+2] = cfTrunc(float32(a*float32(b)) + cg)
	}
}

// cfGrayRef writes the luma of each RGB pixel of src to dst, once per pixel
// (outC 1) or replicated three times (outC 3). dst may alias src only when
// outC is 3.
func cfGrayRef(dst, src []uint8, outC int) {
	n := len(src) / 3
	if outC == 1 {
		dst = dst[:n]
		for i := range dst {
			dst[i] = cfLuma(src[3*i], src[3*i+1], src[3*i+2])
		}
		return
	}
	dst = dst[:3*n]
	for i := 0; i < n; i++ {
		l := cfLuma(src[3*i], src[3*i+1], src[3*i+2])
		dst[3*i], dst[3*i+1], dst[3*i+2] = l, l, l
	}
}

// cfHueRef shifts the hue of each RGB pixel by hue (in turns, |hue| <= 0.5)
// exactly as adjust_hue does on uint8: x/255, _rgb2hsv, (h+hue) mod 1,
// _hsv2rgb, trunc(x*255), all in float32. dst and src may be the same slice.
func cfHueRef(dst, src []uint8, hue float32) {
	dst = dst[:len(src)]
	for i := 0; i+2 < len(src); i += 3 {
		r, g, b := cfHuePixel(src[i], src[i+1], src[i+2], hue)
		dst[i], dst[i+1], dst[i+2] = r, g, b
	}
}

func cfHuePixel(r8, g8, b8 uint8, hue float32) (uint8, uint8, uint8) {
	h, s, v := cfHueFwd(r8, g8, b8)
	return cfHueInv(h, s, v, hue)
}

// cfHueFwd is the RGB to HSV half of cfHuePixel: h in [0, 1) before the
// shift, s and v.
func cfHueFwd(r8, g8, b8 uint8) (h, s, v float32) {
	r := float32(r8) / 255
	g := float32(g8) / 255
	b := float32(b8) / 255
	maxc := max(r, g, b)
	minc := min(r, g, b)
	cr := maxc - minc
	den, crd := maxc, cr
	if maxc == minc {
		den, crd = 1, 1
	}
	s = cr / den
	// torchvision computes rc, gc, bc = (maxc-{r,g,b})/crd and then
	// h = bc-gc (maxc == r), (2+rc)-bc (maxc == g) or (4+gc)-rc: two
	// quotients per pixel, chosen first.
	var off, pn, nn float32
	switch {
	case maxc == r:
		off, pn, nn = 0, maxc-b, maxc-g
	case maxc == g:
		off, pn, nn = 2, maxc-r, maxc-b
	default:
		off, pn, nn = 4, maxc-g, maxc-r
	}
	h = float32(off+pn/crd) - nn/crd
	h = float32(h/6) + 1
	if h >= 1 { // fmod(h, 1) for h in [5/6, 2)
		h -= 1
	}
	return h, s, maxc
}

// cfHueInv is the second half of cfHuePixel: the shift of h by hue and HSV
// to RGB.
func cfHueInv(h, s, v, hue float32) (uint8, uint8, uint8) {
	// (h + hue) % 1.0 (Python remainder; h+hue in [-0.5, 1.5))
	h += hue
	if h >= 1 {
		h -= 1
	} else if h < 0 {
		h += 1
	}
	h6 := float32(h * 6)
	fi := float32(int32(h6)) // floor: h6 >= 0
	f := h6 - fi
	p := cfClamp01(float32(v * float32(1-s)))
	q := cfClamp01(float32(v * float32(1-float32(s*f))))
	t := cfClamp01(float32(v * float32(1-float32(s*float32(1-f)))))
	var rv, gv, bv float32
	switch int32(fi) {
	case 0, 6:
		rv, gv, bv = v, t, p
	case 1:
		rv, gv, bv = q, v, p
	case 2:
		rv, gv, bv = p, v, t
	case 3:
		rv, gv, bv = p, q, v
	case 4:
		rv, gv, bv = t, p, v
	default:
		rv, gv, bv = v, p, q
	}
	return uint8(int32(rv * 255)), uint8(int32(gv * 255)), uint8(int32(bv * 255))
}

func cfClamp01(v float32) float32 {
	return min(max(v, 0), 1)
}

// cfLumaSumRef returns the sum of the truncated lumas (cfLuma) of the RGB
// pixels of p: what cfGrayRef(buf, p, 1) then cfSumU8Ref(buf) gives,
// without the buffer.
func cfLumaSumRef(p []uint8) uint64 {
	var sum uint64
	for i := 0; i+2 < len(p); i += 3 {
		sum += uint64(cfLuma(p[i], p[i+1], p[i+2]))
	}
	return sum
}

// cfSumU8Ref returns the sum of the bytes of p.
func cfSumU8Ref(p []uint8) uint64 {
	var sum uint64
	for _, v := range p {
		sum += uint64(v)
	}
	return sum
}
