package ops

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/pairflow/pairflow/internal/cpu"
)

// Resampling arithmetic. The resize is separable: a horizontal pass turns
// uint8 rows into int16 rows with resizeMidBits fractional bits, then a
// vertical pass turns those into uint8. Weights are integers summing exactly
// to 1<<resizeWeightBits and are never negative (triangle filter), so
//
//	mid = (Σ w·src + 1<<(resizeMidBits-1)) >> resizeMidBits           ≤ 255<<7 = 32640
//	out = (Σ w·mid + 1<<(resizeOutShift-1)) >> resizeOutShift         ≤ 255
//
// fit int16 and int32 without saturation. Integer arithmetic makes every tier
// bit-identical by construction: the AVX2 kernels compute the same sums in a
// different order, which integers do not notice.
const (
	resizeWeightBits = 14
	resizeMidBits    = 7
	resizeOutShift   = 2*resizeWeightBits - resizeMidBits // 21
)

// resizePlan holds the integer weights of one 1-D resampling in→out, after
// torch's antialiased bilinear rule (aten _compute_indices_weights_aa with
// interp_size 2): scale = in/out; support = max(scale, 1); output i is centred
// on scale·(i+0.5) and weighs source j by the triangle 1-|(j+0.5-centre)/
// max(scale,1)|, normalised over the taps inside the image. Upscaling is thus
// plain bilinear with half-pixel centres and edge clamping.
type resizePlan struct {
	in, out int
	k       int     // taps per output (even when fast)
	start   []int32 // first source index of output i; start+k <= in
	w       []int16 // out*k weights, zero-padded
	fast    bool    // k is even and k <= in: the AVX2 kernels may run
	// wq holds the weights again for the 4-taps-per-step horizontal AVX2
	// kernel when k is a multiple of 4: per output and per group of four
	// taps, eight int32 (w0|w1<<16 four times, then w2|w3<<16 four times).
	wq []int32
	// w8 holds the weights again, eight per output (zero-padded), for the
	// gray horizontal AVX2 kernel when k <= 8.
	w8 []int16
	// q4 holds, when k is 2 or 4, the tables of the AVX-512 VBMI+VNNI RGB
	// kernels (resizeH3P4x2AVX512, resizeH3Q4x2AVX512): per group of four
	// outputs A-D, 64*k bytes (16*k int32): k/2 VPERMB index vectors that
	// pick from the 64 bytes at the window of A or D (whichever starts
	// first) the words the AVX2 kernels' VPSHUFB makes of output X's
	// pixels 0-1 (then 2-3) into 128-bit lane X; then the matching weight
	// pairs (w0|w1<<16 four times per lane, then w2|w3<<16). Nil when a
	// group's windows do not all lie in those 64 bytes or the plan has
	// fewer than four outputs.
	q4 []int32
}

// resizeH3QShuf is the AVX2 kernel's VPSHUFB mask (resizeHQShuf in
// _generate/resizeh.go): lane 0 takes pixels 0 and 1 of a window, lane 1 pixels 2
// and 3, as the words p0.r p1.r p0.g p1.g p0.b p1.b 0 0 (0x80: zero).
var resizeH3QShuf = [2][16]uint8{
	{0, 0x80, 3, 0x80, 1, 0x80, 4, 0x80, 2, 0x80, 5, 0x80, 0x80, 0x80, 0x80, 0x80},
	{6, 0x80, 9, 0x80, 7, 0x80, 10, 0x80, 8, 0x80, 11, 0x80, 0x80, 0x80, 0x80, 0x80},
}

// resizePair packs two int16 weights into the int32 VPMADDWD/VPDPWSSD
// multiplies a word pair by.
func resizePair(a, b int16) int32 { return int32(uint32(uint16(a)) | uint32(uint16(b))<<16) }

// buildQ4 fills p.q4 (32 int32 per group of four outputs) or leaves it nil.
func (p *resizePlan) buildQ4(q4 []int32) {
	groups := p.out / 4
	if groups == 0 {
		return
	}
	// The kernel loads the 64 bytes at the window of A or of D, whichever
	// starts first (D in a mirrored plan); every window must lie in them.
	base := func(g int) int32 { return min(p.start[4*g], p.start[4*g+3]) }
	for g := 0; g < groups; g++ {
		for o := 0; o < 4; o++ {
			if d := int(p.start[4*g+o] - base(g)); d < 0 || 3*d+3*p.k > 64 {
				p.q4 = nil
				return
			}
		}
	}
	k, n := p.k, 16*p.k // taps, int32 per group
	var b [128]uint8
	for g := 0; g < groups; g++ {
		first := base(g)
		for o := 0; o < 4; o++ {
			d := 3 * uint8(p.start[4*g+o]-first)
			for half := 0; half < k/2; half++ { // pixels 0-1, 2-3
				for j, m := range resizeH3QShuf[half] {
					v := uint8(0) // zeroed by the kernel's mask
					if m != 0x80 {
						v = d + m
					}
					b[64*half+16*o+j] = v
				}
			}
		}
		t := q4[n*g : n*g+n]
		for i := range 8 * k {
			t[i] = int32(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
		}
		for o := 0; o < 4; o++ {
			ws := p.w[(4*g+o)*k : (4*g+o)*k+k]
			for half := 0; half < k/2; half++ {
				pr := resizePair(ws[2*half], ws[2*half+1])
				for j := range 4 {
					t[8*k+16*half+4*o+j] = pr
				}
			}
		}
	}
	p.q4 = q4[: n*groups : n*groups]
}

// buildResizePlan builds the plan in→out. A plan for the horizontal pass
// (quad) pads taps to a multiple of 4 when it has more than 2, so the AVX2
// kernel can take four taps per step; vertical plans pad to a multiple of 2.
func buildResizePlan(in, out int, quad bool) *resizePlan {
	return buildResizePlanIn(nil, in, out, quad)
}

// buildResizePlanIn is buildResizePlan taking the plan and its arrays from
// the cache's slabs (c may be nil: plain allocations). Crop sizes vary per
// view, so a plan is built each time a new size misses the cache; from the
// slabs that costs an allocation only once per many plans.
func buildResizePlanIn(c *resizePlans, in, out int, quad bool) *resizePlan {
	scale := float64(in) / float64(out)
	support, inv := 1.0, 1.0
	if scale >= 1 {
		support, inv = scale, 1/scale
	}
	// span returns the source taps [lo, lo+n) of output i.
	span := func(i int) (lo, n int) {
		c := scale * (float64(i) + 0.5)
		lo = max(int(c-support+0.5), 0)
		hi := min(int(c+support+0.5), in)
		if hi <= lo { // cannot happen for in >= 1; keep one tap anyway
			lo, hi = min(lo, in-1), min(lo, in-1)+1
		}
		return lo, hi - lo
	}
	// weight is the triangle weight of source j for output i.
	weight := func(i, j int) float64 {
		c := scale * (float64(i) + 0.5)
		x := math.Abs((float64(j) - c + 0.5) * inv)
		if x < 1 {
			return 1 - x
		}
		return 0
	}
	kmax := 1
	for i := 0; i < out; i++ {
		_, n := span(i)
		kmax = max(kmax, n)
	}
	k := kmax + kmax&1
	fast := k <= in
	if !fast {
		k = kmax
	}
	if k4 := (kmax + 3) &^ 3; quad && fast && kmax > 2 && k4 <= in {
		k = k4
	}
	n8, nq := 0, 0
	if quad && k <= 8 {
		n8 = out * 8
	}
	if quad && fast && k%4 == 0 {
		nq = out * k * 2
	}
	n4 := 0
	if quad && fast && (k == 2 || k == 4) && resizeWantQ4() {
		n4 = out / 4 * 16 * k
	}
	i32 := c.ints32(out + nq + n4)
	i16 := c.ints16(out*k + n8)
	p := c.newPlan()
	*p = resizePlan{in: in, out: out, k: k, start: i32[:out:out], w: i16[: out*k : out*k], fast: fast}
	for i := 0; i < out; i++ {
		lo, n := span(i)
		total := 0.0
		for j := 0; j < n; j++ {
			total += weight(i, lo+j)
		}
		st := min(lo, in-k)
		if st < 0 {
			st = 0
		}
		p.start[i] = int32(st)
		ws := p.w[i*k : i*k+k]
		off := lo - st
		sum, big := 0, off
		for j := 0; j < n; j++ {
			var q int
			if total > 0 {
				q = int(math.Round(weight(i, lo+j) / total * (1 << resizeWeightBits)))
			} else if j == 0 {
				q = 1 << resizeWeightBits
			}
			ws[off+j] = int16(q)
			sum += q
			if q > int(ws[big]) {
				big = off + j
			}
		}
		// Make the weights sum exactly to one so the bounds above hold.
		ws[big] += int16(1<<resizeWeightBits - sum)
	}
	if n8 > 0 {
		p.w8 = i16[out*k:]
		for i := 0; i < out; i++ {
			copy(p.w8[i*8:i*8+8], p.w[i*k:i*k+k])
		}
	}
	if nq > 0 {
		p.wq = i32[out:out]
		for i := 0; i < out; i++ {
			ws := p.w[i*k : i*k+k]
			for j := 0; j < k; j += 4 {
				lo, hi := resizePair(ws[j], ws[j+1]), resizePair(ws[j+2], ws[j+3])
				p.wq = append(p.wq, lo, lo, lo, lo, hi, hi, hi, hi)
			}
		}
	}
	if n4 > 0 {
		p.buildQ4(i32[out+nq:])
	}
	return p
}

// resizePlans is the per-Scratch cache of resize plans and the int16 buffer
// of the intermediate rows. It lives in the Scratch under one zero-size key
// so that looking a plan up never allocates.
type resizePlans struct {
	m map[[3]int32]*resizePlan
	// Slabs the plans are carved from (see buildResizePlanIn); each
	// plan's slices keep their slab alive.
	plans []resizePlan
	s32   []int32
	s16   []int16
	mid   []int16
	pad   []uint8
	pad2  []uint8
	acc   []int32 // row accumulator of the reference vertical pass
	// last holds the most recent plan per direction: views of one recipe
	// mostly repeat sizes, and this skips the map.
	last [3]*resizePlan
}

type resizePlansKey struct{}

// maxResizePlans bounds the per-Scratch plan cache.
const maxResizePlans = 4096

func resizeCache(s *Scratch) *resizePlans {
	return s.Plan(resizePlansKey{}, func() any {
		return &resizePlans{m: make(map[[3]int32]*resizePlan, 256)}
	}).(*resizePlans)
}

// Slab sizes of the plan cache: 64 plans, 64 Ki int32s and 64 Ki int16s
// per allocation (an RGB horizontal plan to 224 pixels with 8 taps takes
// 3808 int32s and 2016 int16s).
const (
	resizeSlabPlans = 64
	resizeSlabInts  = 1 << 16
)

// newPlan returns a zero plan from c's slab (a fresh one when c is nil).
func (c *resizePlans) newPlan() *resizePlan {
	if c == nil {
		return new(resizePlan)
	}
	if len(c.plans) == 0 {
		c.plans = make([]resizePlan, resizeSlabPlans)
	}
	p := &c.plans[0]
	c.plans = c.plans[1:]
	return p
}

// ints32 returns n zero int32s from c's slab (fresh ones when c is nil or
// n is large), with capacity n.
func (c *resizePlans) ints32(n int) []int32 {
	if c == nil || n > resizeSlabInts/4 {
		return make([]int32, n)
	}
	if len(c.s32) < n {
		c.s32 = make([]int32, resizeSlabInts)
	}
	b := c.s32[:n:n]
	c.s32 = c.s32[n:]
	return b
}

// ints16 is ints32 for int16s.
func (c *resizePlans) ints16(n int) []int16 {
	if c == nil || n > resizeSlabInts/4 {
		return make([]int16, n)
	}
	if len(c.s16) < n {
		c.s16 = make([]int16, resizeSlabInts)
	}
	b := c.s16[:n:n]
	c.s16 = c.s16[n:]
	return b
}

// plan returns the plan in→out of kind planV (vertical), planH (horizontal)
// or planHFlip (horizontal, outputs in mirrored order).
func (c *resizePlans) plan(in, out, kind int) *resizePlan {
	if p := c.last[kind]; p != nil && p.in == in && p.out == out {
		return p
	}
	k := [3]int32{int32(in), int32(out), int32(kind)}
	if p, ok := c.m[k]; ok {
		c.last[kind] = p
		return p
	}
	if len(c.m) >= maxResizePlans {
		// Bound the cache for streams of ever-new sizes; the old slabs
		// go with the plans cut from them (last may still hold one).
		clear(c.m)
		c.plans, c.s32, c.s16 = nil, nil, nil
	}
	p := buildResizePlanIn(c, in, out, kind != planV)
	if kind == planHFlip {
		p.mirror()
	}
	c.m[k] = p
	c.last[kind] = p
	return p
}

// Plan kinds.
const (
	planV = iota
	planH
	planHFlip
)

// mirror reverses the order of p's outputs: output i becomes output
// out-1-i, which resamples and mirrors the line in one pass.
func (p *resizePlan) mirror() {
	k := p.k
	for i, j := 0, p.out-1; i < j; i, j = i+1, j-1 {
		p.start[i], p.start[j] = p.start[j], p.start[i]
		a, b := p.w[i*k:i*k+k], p.w[j*k:j*k+k]
		for t := range a {
			a[t], b[t] = b[t], a[t]
		}
		if p.wq != nil {
			a, b := p.wq[i*k*2:(i+1)*k*2], p.wq[j*k*2:(j+1)*k*2]
			for t := range a {
				a[t], b[t] = b[t], a[t]
			}
		}
		if p.w8 != nil {
			a, b := p.w8[i*8:i*8+8], p.w8[j*8:j*8+8]
			for t := range a {
				a[t], b[t] = b[t], a[t]
			}
		}
	}
	if p.q4 != nil {
		p.buildQ4(p.q4[:cap(p.q4)])
	}
}

// resizeInto resamples all of src into dst (both with the same C, any
// strides), using antialiased bilinear interpolation. It does nothing when
// either image is empty.
func resizeInto(s *Scratch, dst, src *Image) { resizeMirror(s, dst, src, false) }

// resizeMirror is resizeInto followed, when flip is set, by a left-right
// mirror (FlipH), done in the same pass at no cost.
func resizeMirror(s *Scratch, dst, src *Image, flip bool) {
	if src.W <= 0 || src.H <= 0 || dst.W <= 0 || dst.H <= 0 {
		return
	}
	if src.W == dst.W && src.H == dst.H {
		copyImage(dst, src)
		if flip {
			FlipH(dst)
		}
		return
	}
	cache := resizeCache(s)
	hk := planH
	if flip {
		hk = planHFlip
	}
	ph := cache.plan(src.W, dst.W, hk)
	pv := cache.plan(src.H, dst.H, planV)
	c := src.C
	// Only the source rows the vertical pass reads.
	y0 := int(pv.start[0])
	y1 := int(pv.start[dst.H-1]) + pv.k
	rows := y1 - y0
	n := dst.W * c
	// Rows of mid are ms = n+4 samples apart: the AVX2 horizontal kernels
	// store 4 samples per pixel, one past the row, into that gap (two rows
	// are written at once, so a spill must not land in the next row).
	ms := n + 4
	need := rows * ms
	if cap(cache.mid) < need {
		cache.mid = make([]int16, need)
	}
	mid := cache.mid[:need]
	if cap(cache.acc) < n {
		cache.acc = make([]int32, n)
	}
	useAsm := haveResizeAsm && tier >= cpu.AVX2
	// srcRow returns source row y0+y with the 8 readable bytes past its end
	// the AVX2 kernels may read (a padded copy in buf when the buffer ends).
	srcRow := func(y int, buf *[]uint8) []uint8 {
		off := (y0 + y) * src.Stride
		if off+src.W*c+8 > cap(src.Pix) {
			return cache.padRow(src.Pix[off:off+src.W*c], buf)
		}
		return src.Pix[off : off+src.W*c+8]
	}
	y := 0
	if useAsm && c == 1 && ph.w8 != nil && ph.out >= 4 {
		for ; y+1 < rows; y += 2 {
			resizeH1x2(mid[y*ms:y*ms+n], mid[(y+1)*ms:(y+1)*ms+n], srcRow(y, &cache.pad), srcRow(y+1, &cache.pad2), ph)
		}
		if y < rows {
			// An odd last row: run it twice through the two-row kernel.
			r := srcRow(y, &cache.pad)
			resizeH1x2(mid[y*ms:y*ms+n], mid[y*ms:y*ms+n], r, r, ph)
			y++
		}
	}
	if useAsm && c == 3 && ph.fast {
		for ; y+1 < rows; y += 2 {
			if !resizeH3x2(mid[y*ms:], mid[(y+1)*ms:], srcRow(y, &cache.pad), srcRow(y+1, &cache.pad2), ph) {
				break
			}
		}
		for ; y < rows; y++ {
			resizeH3(mid[y*ms:], srcRow(y, &cache.pad), ph)
		}
	}
	for ; y < rows; y++ {
		off := (y0 + y) * src.Stride
		resizeHRef(mid[y*ms:y*ms+n], src.Pix[off:off+src.W*c], c, ph)
	}
	for y := 0; y < dst.H; y++ {
		st := int(pv.start[y]) - y0
		w := pv.w[y*pv.k : y*pv.k+pv.k]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+n]
		done := 0
		if useAsm && pv.fast && n >= 16 {
			done = resizeV(out, mid[st*ms:], ms, n, w)
		}
		resizeVRef(out, mid[st*ms:], ms, n, w, done, cache.acc)
	}
}

// padRow copies row into *buf with 8 zero bytes after it.
func (c *resizePlans) padRow(row []uint8, buf *[]uint8) []uint8 {
	need := len(row) + 8
	if cap(*buf) < need {
		*buf = make([]uint8, need)
	}
	p := (*buf)[:need]
	copy(p, row)
	clear(p[len(row):])
	return p
}

// resizeHRef is the reference horizontal pass over one row of c-channel
// pixels: dst[x*c+ch] = (Σ_j w[x,j]·row[(start[x]+j)*c+ch] + 64) >> 7.
// (start[x]+k <= len(row)/c holds for every plan.)
func resizeHRef(dst []int16, row []uint8, c int, p *resizePlan) {
	k := p.k
	const round = 1 << (resizeMidBits - 1)
	for x := 0; x < p.out; x++ {
		s := int(p.start[x]) * c
		w := p.w[x*k : x*k+k]
		src := row[s : s+k*c]
		if c == 3 {
			a0, a1, a2 := int32(round), int32(round), int32(round)
			for j, wj := range w {
				q := src[3*j : 3*j+3 : 3*j+3]
				a0 += int32(wj) * int32(q[0])
				a1 += int32(wj) * int32(q[1])
				a2 += int32(wj) * int32(q[2])
			}
			d := dst[3*x : 3*x+3 : 3*x+3]
			d[0], d[1], d[2] = int16(a0>>resizeMidBits), int16(a1>>resizeMidBits), int16(a2>>resizeMidBits)
			continue
		}
		for ch := 0; ch < c; ch++ {
			acc := int32(round)
			for j, wj := range w {
				acc += int32(wj) * int32(src[j*c+ch])
			}
			dst[x*c+ch] = int16(acc >> resizeMidBits)
		}
	}
}

// resizeVRef is the reference vertical pass for samples [from, n) of one
// output row, whose source rows are stride samples apart in mid:
// out[i] = clamp((Σ_j w[j]·mid[j*stride+i] + 1<<20) >> 21). acc is scratch
// of at least n values; the sums run tap by tap along the row.
func resizeVRef(out []uint8, mid []int16, stride, n int, w []int16, from int, acc []int32) {
	if from >= n {
		return
	}
	acc = acc[from:n]
	for i := range acc {
		acc[i] = 1 << (resizeOutShift - 1)
	}
	for j, wj := range w {
		if wj == 0 {
			continue // padding tap
		}
		row := mid[j*stride+from : j*stride+n]
		row = row[:len(acc)]
		for i, v := range row {
			acc[i] += int32(wj) * int32(v)
		}
	}
	o := out[from:n]
	o = o[:len(acc)]
	for i, a := range acc {
		o[i] = uint8(min(max(a>>resizeOutShift, 0), 255))
	}
}

// copyImage copies src into dst of the same size and channels.
func copyImage(dst, src *Image) {
	n := src.W * src.C
	for y := 0; y < src.H; y++ {
		copy(dst.Pix[y*dst.Stride:y*dst.Stride+n], src.Pix[y*src.Stride:y*src.Stride+n])
	}
}

// Resize resamples the whole image to a fixed size, or (when only the
// shorter side is given) to a size keeping the aspect ratio, like
// torchvision's Resize with antialias=True. JSON:
// {"op":"resize","size":[h,w]} or {"op":"resize","size":n} (shorter side n).
type Resize struct {
	size geoSize
}

// NewResize returns a Resize to h×w; w == 0 means "shorter side h, keep the
// aspect ratio" (torchvision's Resize(int)).
func NewResize(h, w int) (*Resize, error) {
	sz := geoSize{H: h, W: w, Short: w == 0}
	if sz.Short {
		sz.W = h
	}
	if err := sz.validate(); err != nil {
		return nil, err
	}
	return &Resize{size: sz}, nil
}

// OutSize returns the view size for a w×h input.
func (o *Resize) OutSize(w, h int) (int, int) {
	if !o.size.Short {
		return o.size.W, o.size.H
	}
	// torchvision _compute_resized_output_size: the short side gets size,
	// the long side int(size*long/short) (truncated).
	n := o.size.H
	if w <= h {
		return n, max(int(int64(n)*int64(h)/int64(max(w, 1))), 1)
	}
	return max(int(int64(n)*int64(w)/int64(max(h, 1))), 1), n
}

// Apply resizes src.
func (o *Resize) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	w, h := o.OutSize(src.W, src.H)
	if err := (geoSize{H: h, W: w}).validate(); err != nil {
		return nil, err
	}
	dst := s.Image(w, h, src.C)
	resizeInto(s, dst, src)
	p.Applied |= OpCrop
	p.Crop = Box{0, 0, int32(src.W), int32(src.H)}
	return dst, nil
}

// Spec returns {"op":"resize","size":...}.
func (o *Resize) Spec() Spec { return Spec{"op": "resize", "size": o.size} }

// geoSize is an output size in JSON: a number n (square n×n, or for resize
// the shorter side) or [h, w].
type geoSize struct {
	H, W  int
	Short bool // a single number: for Resize, the shorter side
}

func (z geoSize) MarshalJSON() ([]byte, error) {
	if z.Short || z.H == z.W {
		return json.Marshal(z.H)
	}
	return json.Marshal([2]int{z.H, z.W})
}

func (z *geoSize) UnmarshalJSON(b []byte) error {
	var n int
	if err := json.Unmarshal(b, &n); err == nil {
		*z = geoSize{H: n, W: n, Short: true}
		return nil
	}
	var hw []int
	if err := json.Unmarshal(b, &hw); err != nil || len(hw) != 2 {
		return fmt.Errorf("size %s: want a number or [h, w]", b)
	}
	*z = geoSize{H: hw[0], W: hw[1]}
	return nil
}

// maxViewPixels bounds the area of an image a geometry op creates (4096²),
// so a recipe cannot make a worker allocate gigabytes.
const maxViewPixels = 1 << 24

func (z geoSize) validate() error {
	if z.H < 1 || z.W < 1 || z.H > MaxSide || z.W > MaxSide || z.H*z.W > maxViewPixels {
		return fmt.Errorf("%w: size %dx%d outside [1, %d] or above %d pixels", ErrParam, z.H, z.W, MaxSide, maxViewPixels)
	}
	return nil
}

// geoCheck validates an op's input image.
func geoCheck(src *Image) error {
	if err := src.Validate(); err != nil {
		return err
	}
	if src.W == 0 || src.H == 0 {
		return fmt.Errorf("%w: %dx%d", ErrEmptyImage, src.W, src.H)
	}
	return nil
}

func init() {
	Register("resize", func(b json.RawMessage) (Op, error) {
		var j struct {
			Op   string  `json:"op"`
			Size geoSize `json:"size"`
		}
		if err := geoStrict(b, &j); err != nil {
			return nil, err
		}
		if j.Size.Short {
			return NewResize(j.Size.H, 0)
		}
		return NewResize(j.Size.H, j.Size.W)
	})
}
