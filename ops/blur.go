package ops

import (
	"encoding/json"
	"math"
)

func init() { Register("gaussian_blur", decodeGaussianBlur) }

// GaussianBlur blurs with a separable Gaussian kernel whose sigma is drawn
// uniformly per view, with reflect padding, like torchvision's GaussianBlur
// on uint8 tensors (float32 arithmetic, rounded half to even). The kernel
// size is fixed, or a fraction of the image height made odd (the SimCLR
// rule: 10% of the side). Sigma 0 leaves the image unchanged. The image is
// changed in place.
type GaussianBlur struct {
	ksize int     // odd, or 0 when frac is used
	frac  float64 // kernel size as a fraction of the height
	sigma [2]float64
}

// NewGaussianBlur returns a GaussianBlur with an odd kernelSize (> 0), or,
// when kernelSize is 0, a kernel of kernelFraction (in (0, 1]) of the
// image height made odd; sigma is drawn from [sigma[0], sigma[1]], 0 <=
// sigma[0] <= sigma[1].
func NewGaussianBlur(kernelSize int, kernelFraction float64, sigma [2]float64) (*GaussianBlur, error) {
	switch {
	case kernelSize != 0 && kernelFraction != 0:
		return nil, cfErrf("give kernel_size or kernel_fraction, not both")
	case kernelSize == 0 && !(kernelFraction > 0 && kernelFraction <= 1):
		return nil, cfErrf("kernel_fraction %v outside (0, 1]", kernelFraction)
	case kernelSize != 0 && (kernelSize < 0 || kernelSize%2 == 0 || kernelSize > 2*MaxSide+1):
		return nil, cfErrf("kernel_size %d not a positive odd number <= %d", kernelSize, 2*MaxSide+1)
	case !cfFinite(sigma[0], sigma[1]) || !(0 <= sigma[0] && sigma[0] <= sigma[1]):
		return nil, cfErrf("sigma range [%v, %v] invalid (want 0 <= lo <= hi)", sigma[0], sigma[1])
	}
	return &GaussianBlur{ksize: kernelSize, frac: kernelFraction, sigma: sigma}, nil
}

func decodeGaussianBlur(data json.RawMessage) (Op, error) {
	var v struct {
		Op             string
		KernelSize     int             `json:"kernel_size"`
		KernelFraction float64         `json:"kernel_fraction"`
		Sigma          json.RawMessage `json:"sigma"`
	}
	if err := cfDecodeStrict(data, &v); err != nil {
		return nil, err
	}
	sigma := [2]float64{0.1, 2.0}
	if len(v.Sigma) > 0 {
		var one float64
		var pair []float64
		if err := json.Unmarshal(v.Sigma, &one); err == nil {
			sigma = [2]float64{one, one}
		} else if err := json.Unmarshal(v.Sigma, &pair); err == nil && len(pair) == 2 {
			sigma = [2]float64{pair[0], pair[1]}
		} else {
			return nil, cfErrf("sigma: want a number or a [lo, hi] pair")
		}
	}
	return NewGaussianBlur(v.KernelSize, v.KernelFraction, sigma)
}

// Spec implements Op.
func (g *GaussianBlur) Spec() Spec {
	sp := Spec{"op": "gaussian_blur", "sigma": []float64{g.sigma[0], g.sigma[1]}}
	if g.ksize != 0 {
		sp["kernel_size"] = g.ksize
	} else {
		sp["kernel_fraction"] = g.frac
	}
	return sp
}

// Apply implements Op.
func (g *GaussianBlur) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	sigma := r.Uniform(g.sigma[0], g.sigma[1])
	k := g.ksize
	if k == 0 {
		k = int(g.frac*float64(src.H))/2*2 + 1
	}
	p.Applied |= OpBlur
	p.BlurSigma = float32(sigma)
	p.BlurKernel = int32(k)
	cfBlur(s, src, k, sigma)
	return src, nil
}

// cfGaussKernel writes torchvision's normalised 1-D Gaussian kernel of size
// k (odd) into dst and returns its central part without the taps that are
// exactly zero in float32 (they add nothing). Sigma <= 0 gives the identity.
func cfGaussKernel(dst []float32, k int, sigma float64) []float32 {
	dst = dst[:k]
	r := (k - 1) / 2
	if !(sigma > 0) {
		clear(dst)
		dst[r] = 1
		return dst[r : r+1]
	}
	var sum float64
	for i := range dst {
		x := float64(i-r) / sigma
		sum += math.Exp(-0.5 * x * x)
	}
	lo := 0
	for i := range dst {
		x := float64(i-r) / sigma
		dst[i] = float32(math.Exp(-0.5*x*x) / sum)
		if dst[i] == 0 && i == lo && i < r {
			lo++
		}
	}
	return dst[lo : k-lo]
}

// cfBlurRingBytes is the size the float32 ring of cfBlur should stay within
// (a fraction of a 512 KiB L2 cache): wider images are blurred in vertical
// strips. The vertical pass makes two output rows per sweep of the ring
// (cfBlurV2), so a ring in L2 rather than L1 costs it little, while strips
// cost a widened border of 2R pixels per strip and a copy of the image: a
// 224-pixel RGB view (a 64.5 KiB ring for 23 taps) is faster in one piece
// (BenchmarkBlurPasses).
const cfBlurRingBytes = 96 << 10

// cfBlur blurs m in place with a k-tap Gaussian of the given sigma: a
// horizontal float32 pass into a ring of 2R+2 rows (small enough to stay in
// cache), and a vertical pass over the ring that rounds back to uint8. Output
// row y needs horizontal rows [y-R, y+R] (reflected), which are distinct
// modulo the ring size, and it is written only after every source row it
// needs has been read.
//
// When the ring of a full row would exceed cfBlurRingBytes, the image is
// processed in vertical strips of whole pixels (each output sample is
// computed exactly as without strips); the strips read the original pixels,
// so their outputs go to a scratch image that is copied back at the end.
func cfBlur(s *Scratch, m *Image, k int, sigma float64) {
	if m.W == 0 || m.H == 0 {
		return
	}
	b := cfScratch(s)
	w := cfGaussKernel(cfGrowF32(&b.kern, k), k, sigma)
	R := len(w) / 2
	if R == 0 { // a single tap of weight 1: round(1*x) == x
		return
	}
	W, H, C := m.W, m.H, m.C
	K := 2*R + 1
	if C == 3 && cfIsGray3(m) {
		// Every channel would get the same arithmetic on the same
		// values (RandomGrayscale before the blur): blur one, copy it.
		g := Image{W: W, H: H, C: 1, Stride: W, Pix: cfGrowU8(&b.gray, W*H)}
		for y := 0; y < H; y++ {
			rgbRowTakeR(g.Row(y), m.Row(y))
		}
		cfBlur(s, &g, k, sigma)
		grayToRGB(m, &g)
		return
	}
	// Strips are a multiple of 64 pixels wide, so each strip's rows are
	// whole 64-sample blocks of the AVX2 passes.
	sw := 64 * max(1, cfBlurRingBytes/(64*C*(K+1)*4))
	if W*C*(K+1)*4 <= cfBlurRingBytes || sw >= W || H <= 1 {
		cfBlurStrip(b, m, m, 0, W, w)
		return
	}
	out := Image{W: W, H: H, C: C, Stride: W * C, Pix: cfGrowU8(&b.out, W*H*C)}
	for x0 := 0; x0 < W; x0 += sw {
		cfBlurStrip(b, &out, m, x0, min(x0+sw, W), w)
	}
	for y := 0; y < H; y++ {
		copy(m.Row(y), out.Row(y))
	}
}

// cfIsGray3 reports whether every pixel of the RGB image m has R == G == B.
// It stops at the first colour pixel.
func cfIsGray3(m *Image) bool {
	for y := 0; y < m.H; y++ {
		if !rgbRowIsGray(m.Row(y)) {
			return false
		}
	}
	return true
}

// cfBlurStrip blurs columns [x0, x1) of m into the same columns of dst,
// which may be m itself only when the strip is the whole width.
//
// The ring holds K+1 horizontal rows (slot r % (K+1) for row r), one more
// than an output row reads, so that two consecutive output rows away from
// the borders can be made together by cfBlurV2 from K+1 consecutive slots.
func cfBlurStrip(b *cfBufs, dst, m *Image, x0, x1 int, w []float32) {
	W, H, C := m.W, m.H, m.C
	R := len(w) / 2
	K := 2*R + 1
	M := K + 1 // ring slots
	n := (x1 - x0) * C
	ring := cfGrowF32(&b.f32, n*M)
	pad := cfGrowF32(&b.row, n+2*R*C)
	offs := cfGrowI32(&b.offs, K)
	// dbl[i] is the offset of ring slot i mod M: the offsets of output
	// rows away from the top and bottom borders are windows of dbl.
	dbl := cfGrowI32(&b.dbl, 2*M)
	for i := range dbl {
		dbl[i] = int32(i % M * n)
	}
	// The padded row holds pixels x0-R .. x1+R-1: those inside the image
	// are widened from [inLo, inHi), the others are reflected; refl holds
	// the row offsets of the reflected samples, left ones then right ones.
	inLo, inHi := max(x0-R, 0), min(x1+R, W)
	nl, nr := (inLo-(x0-R))*C, (x1+R-inHi)*C
	refl := cfGrowI32(&b.refl, nl+nr)
	for j := 0; j < nl; j++ {
		refl[j] = int32(cfReflect(x0-R+j/C, W)*C + j%C)
	}
	for j := 0; j < nr; j++ {
		refl[nl+j] = int32(cfReflect(inHi+j/C, W)*C + j%C)
	}
	left, mid, right := pad[:nl], pad[nl:nl+(inHi-inLo)*C], pad[nl+(inHi-inLo)*C:]
	reflL, reflR := refl[:nl], refl[nl:]
	done, slot := 0, 0 // horizontal rows computed so far; done % M
	// horiz computes the horizontal rows up to and including row last.
	horiz := func(last int) {
		for ; done < H && done <= last; done++ {
			row := m.Row(done)
			cfWiden(mid, row[inLo*C:inHi*C])
			for j, o := range reflL {
				left[j] = float32(row[o])
			}
			for j, o := range reflR {
				right[j] = float32(row[o])
			}
			cfBlurH(ring[slot*n:(slot+1)*n], pad, w, C)
			if slot++; slot == M {
				slot = 0
			}
		}
	}
	hb := 0 // (H-M) % M, for cfBlurSlot
	if H >= M {
		hb = (H - M) % M
	}
	for y := 0; y < H; {
		if y >= R && y+1+R < H { // rows y and y+1 need no reflection
			horiz(y + 1 + R)
			o := (y - R) % M
			// Every offset is slot*n with slot in [0, M) and
			// len(ring) == M*n, as cfBlurV2 requires.
			cfBlurV2(dst.Row(y)[x0*C:x1*C], dst.Row(y + 1)[x0*C:x1*C], ring, dbl[o:o+M], w)
			y += 2
			continue
		}
		horiz(y + R)
		for j := range offs {
			// r % M without a division: border rows read rows
			// below M or from H-M on (see cfBlurSlot).
			offs[j] = int32(cfBlurSlot(cfReflect(y-R+j, H), H, M, hb) * n)
		}
		cfBlurV(dst.Row(y)[x0*C:x1*C], ring, offs, w)
		y++
	}
}

// cfBlurSlot returns r % K for a row r in [0, H), with hb = (H-K) % K:
// rows below K are their own slot and rows from H-K on count up from hb,
// which covers every row a border output row reads; others divide. (K is
// the ring size here.)
func cfBlurSlot(r, H, K, hb int) int {
	switch {
	case r < K:
		return r
	case r >= H-K:
		s := hb + r - (H - K)
		if s >= K {
			s -= K
		}
		return s
	}
	return r % K
}

// cfBlurHRef is the horizontal pass: dst[i] = sum_k w[k]*pad[i+k*C], summed
// in tap order, every product rounded to float32 before it is added.
func cfBlurHRef(dst, pad, w []float32, C int) {
	for i := range dst {
		acc := w[0] * pad[i]
		for k := 1; k < len(w); k++ {
			acc += float32(w[k] * pad[i+k*C])
		}
		dst[i] = acc
	}
}

// cfBlurVRef is the vertical pass: dst[i] = round(sum_k w[k]*tmp[offs[k]+i])
// with the same order and rounding as cfBlurHRef, then round half to even.
func cfBlurVRef(dst []uint8, tmp []float32, offs []int32, w []float32) {
	for i := range dst {
		acc := w[0] * tmp[int(offs[0])+i]
		for k := 1; k < len(w); k++ {
			acc += float32(w[k] * tmp[int(offs[k])+i])
		}
		dst[i] = cfRound(acc)
	}
}

// cfBlurV2Ref is the vertical pass for two consecutive output rows whose
// taps are consecutive ring rows: dst0 from the rows at offs[0:len(w)] and
// dst1 (as long as dst0) from those at offs[1:len(w)+1], each exactly as
// cfBlurVRef computes it.
func cfBlurV2Ref(dst0, dst1 []uint8, tmp []float32, offs []int32, w []float32) {
	cfBlurVRef(dst0, tmp, offs, w)
	cfBlurVRef(dst1[:len(dst0)], tmp, offs[1:], w)
}

// cfWidenRef converts bytes to float32: dst[i] = float32(src[i]).
func cfWidenRef(dst []float32, src []uint8) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(v)
	}
}
