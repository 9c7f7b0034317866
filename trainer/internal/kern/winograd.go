package kern

import (
	"sync"

	"github.com/pairflow/pairflow/internal/cpu"
)

// Winograd F(2×2, 3×3) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015). A 3×3, stride-1, padding-1 convolution is
// computed on 2×2 output tiles: each tile's 4×4 input window d becomes
// V = Bᵀ·d·B, each 3×3 filter g becomes U = G·g·Gᵀ (4×4), and the tile is
// Y = Aᵀ·(Σ_c U_c ⊙ V_c)·A. The channel sums are 16 independent GEMMs, one
// per element ξ of the 4×4 transformed tile:
//
//	M[ξ] (Cout × tiles) = U[ξ] (Cout × Cin) · V[ξ] (Cin × tiles)
//
// 16 multiplies per output tile and input channel instead of 36 (2.25×
// fewer; a plane with an odd side computes a partial last tile and wastes
// some of it). The transforms are plain Go; the products run on sgemm.
//
//	Bᵀ = | 1  0 −1  0 |   G = | 1    0    0   |   Aᵀ = | 1  1  1  0 |
//	     | 0  1  1  0 |       | 1/2  1/2  1/2 |        | 0  1 −1 −1 |
//	     | 0 −1  1  0 |       | 1/2 −1/2  1/2 |
//	     | 0  1  0 −1 |       | 0    0    1   |
//
// The input gradient of such a convolution is the same convolution of the
// output gradient with the filters rotated by 180° and Cin and Cout swapped,
// so the same machinery serves Conv2dBackwardInput and the input gradient of
// Conv2dBackward and Conv2dBackwardBN. The weight gradient runs on
// F(3×3,2×2), the transpose of F(2×2,3×3), with the same input transform
// (winograd_dw.go).
//
// Every output element is computed the same way whatever the batch it falls
// in (a GEMM element is a K-long chain whose order depends on K alone, the
// transforms are per tile), so the results do not depend on the thread
// count, nor on how images are grouped.

// winograd turns the Winograd path on for the shapes useWinograd accepts;
// false runs every convolution on im2col (tests and benchmarks compare).
var winograd = true

// SetWinograd turns the Winograd paths (F(2×2,3×3), F(4×4,3×3)) on or off and returns the
// previous setting. It is meant for tests and benchmarks: it must not be
// called while kernels are running.
func SetWinograd(on bool) bool {
	prev := winograd
	winograd = on
	return prev
}

// winoMinC is the smallest GEMM dimension (input and output channels) for
// which Winograd is used: with fewer channels the transforms, whose cost
// per tile and channel does not shrink with the GEMM, are not paid back.
// Measured with BenchmarkWinograd's shapes on 128 images (equivalent
// GFLOP/cpu-s, median of 3, im2col → Winograd): 3→32 at 32×32 forward
// 33.6 → 24.6; 8→32 at 16×16 forward 41.6 → 53.4 but input gradient
// (8 GEMM rows) 44.6 → 39.9; 16→32 forward 48.8 → 74.2, input gradient
// 51.5 → 64.1; 32→16 forward 43.2 → 71.3, input gradient 35.6 → 62.2.
const winoMinC = 16

// winoMinPlane is the smallest plane (H·W) on Winograd: a 4×4 plane is
// four F(2×2,3×3) tiles, and ResNet's 512→512 convolutions at 4×4 on 32
// images ran slower than on im2col (BenchmarkWinograd res-512x4 fwd: ~51
// vs ~56 GFLOP/cpu-s; in this round's run 44 vs 82–85 forward, though the
// fused backward was faster, 43–47 vs 26), while every larger plane
// measured was faster. On 128 images or more, 4×4 planes with at least
// winoSmallPlaneMinC channels run on Winograd too (winoSmallPlane).
var winoMinPlane = 17

// winoSmallPlane: 4×4 planes run on Winograd for min(Cin, Cout) ≥ 512 and
// at least 128 images (resnet18's layer4 at 32 px, 512 views a step):
// BenchmarkWinograd res-512x4-n128, two runs, GFLOP/cpu-s, im2col →
// Winograd: fwd 87.7 → 141.3, 86.0 → 139.7; dX 42.1 → 123.4, 40.6 →
// 124.4; dW 36.4 → 66.1, 37.3 → 67.8; fused backward 59.6 → 89.1, 59.0
// → 80.7. On 32 images the forward pass is twice as slow on Winograd
// (GEMMs of 32 columns), hence the image count.
const (
	winoSmallPlaneMinC = 512
	winoSmallPlaneMinN = 128
)

// winoPlaneOK reports whether the plane size (and, for 4×4 planes, the
// channel and image counts) of s admits Winograd.
func winoPlaneOK(s ConvShape) bool {
	if s.H*s.W >= winoMinPlane {
		return true
	}
	return s.H*s.W >= 16 && min(s.Cin, s.Cout) >= winoSmallPlaneMinC && s.N >= winoSmallPlaneMinN
}

// useWinograd reports whether a convolution of shape s runs on Winograd
// (F(2×2,3×3) or, where useWino4 says so, F(4×4,3×3) for the forward pass
// and input gradient): 3×3 kernel, stride 1, padding 1, at least winoMinC
// input and output channels and winoMinPlane positions per plane
// (winoPlaneOK: 4×4 planes too with enough channels and images).
func useWinograd(s ConvShape) bool {
	return winograd && s.KH == 3 && s.KW == 3 && s.StrideH == 1 && s.StrideW == 1 &&
		s.PadH == 1 && s.PadW == 1 && s.Cin >= winoMinC && s.Cout >= winoMinC &&
		winoPlaneOK(s)
}

// winoCols is the number of tiles (GEMM columns) a Winograd batch of images
// aims at, so that the batch's transformed tiles and products (16·(Cin +
// Cout)·winoCols floats, 3 MiB for 64→128) stay near the core. Of 64, 128,
// 256 and 512, 256 was fastest or level on smallcnn's layers
// (BenchmarkWinograd fmnist-* and cifar-*, alternated three times; the
// machine's load made single runs differ by ±15%). The batch depends on
// the shape alone, and the results do not depend on it at all.
var winoCols = 256

// winoImages is the number of images per Winograd batch for planes of
// tiles tiles each.
func winoImages(tiles, n int) int {
	return max(1, min(n, winoCols/tiles))
}

// winoBuf is one goroutine's Winograd workspace: the transformed inputs
// V (16 × C × ld), the products M (16 × C' × ld), and one padded input
// plane and one output plane (rows winoRowLen apart). The weight gradient
// (winoGradBatch) keeps its transformed output-gradient tiles in m and
// winoGradOut's row streams in y.
type winoBuf struct {
	v, m, y, pad []float32
	padH, padW   int // the plane size whose padding pad holds
	pad4         []float32
	pad4H, pad4W int // the same for F(4×4,3×3)'s padded plane pad4
}

var winoBufs struct {
	sync.Mutex
	free []*winoBuf
}

func getWinoBuf() *winoBuf {
	winoBufs.Lock()
	defer winoBufs.Unlock()
	if n := len(winoBufs.free); n > 0 {
		b := winoBufs.free[n-1]
		winoBufs.free = winoBufs.free[:n-1]
		return b
	}
	return new(winoBuf)
}

// padFor makes b.pad the zero-bordered padded plane of h×w inputs
// (winoPadInit), kept as long as the plane size does not change.
func (b *winoBuf) padFor(h, w int) {
	if n := winoPadLen(h, w); len(b.pad) != n || b.padH != h || b.padW != w {
		b.pad = grow(b.pad, n)
		b.padH, b.padW = h, w
		winoPadInit(h, w, b.pad)
	}
}

func putWinoBuf(b *winoBuf) {
	winoBufs.Lock()
	defer winoBufs.Unlock()
	if len(winoBufs.free) < maxFreeConvBufs {
		winoBufs.free = append(winoBufs.free, b)
	}
}

// winoFilter writes the transformed filters U = G·g·Gᵀ of w
// ([cout][cin][3][3]) into u, laid out [16][cout][cin] (ξ = 4·row + col).
// With flip, it transforms the filters of the input-gradient convolution
// instead, g'[ci][co] = rot180(g[co][ci]), laid out [16][cin][cout]. It
// computes in float64 and rounds once.
func winoFilter(w []float32, cout, cin int, flip bool, u []float32) {
	mustLen("winoFilter w", len(w), cout*cin*9)
	mustLen("winoFilter u", len(u), 16*cout*cin)
	plane := cout * cin
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			src := (*[9]float32)(w[(co*cin+ci)*9:])
			var g [3][3]float64
			for i := range 3 {
				for j := range 3 {
					if flip {
						g[i][j] = float64(src[(2-i)*3+2-j])
					} else {
						g[i][j] = float64(src[i*3+j])
					}
				}
			}
			// Gg: 4×3.
			var gg [4][3]float64
			for j := range 3 {
				a, b, c := g[0][j], g[1][j], g[2][j]
				gg[0][j], gg[1][j], gg[2][j], gg[3][j] = a, (a+b+c)/2, (a-b+c)/2, c
			}
			off := co*cin + ci
			if flip {
				off = ci*cout + co
			}
			for i := range 4 {
				a, b, c := gg[i][0], gg[i][1], gg[i][2]
				row := [4]float64{a, (a + b + c) / 2, (a - b + c) / 2, c}
				for j := range 4 {
					u[(4*i+j)*plane+off] = float32(row[j])
				}
			}
		}
	}
}

// winoInput writes the transformed 4×4 input tiles V = Bᵀ·d·B of one h×w
// plane src (padding 1 on every side; the window of tile (ty, tx) starts at
// row 2ty−1, column 2tx−1, zero outside the plane) to dst[ξ·xs + ty·tw + tx]
// for tw = ⌈w/2⌉ tiles per row. pad is winoPadLen(h, w) elements of
// scratch whose padding winoPadInit has zeroed (winoInput writes only the
// plane's own rows and columns there). On the AVX2 tier each row of tiles
// is written in whole vectors of 8: up to 7 elements after the end of a row
// (in every ξ row of dst) are overwritten too, so the caller writes the
// planes of a batch in order and leaves 7 elements of slack after the last.
func winoInput(t cpu.Tier, src []float32, h, w int, pad []float32, dst []float32, xs int) {
	pw := winoPadRows(src, h, w, pad)
	winoInTile(t, pad, pw, (h+1)/2, (w+1)/2, dst, xs)
}

// winoRowLen is the row length of winoPad's plane and of winoOutput's
// scratch for planes w wide: whole vectors of 8 tiles (16 columns), plus
// the two columns the last tile's window reaches past them.
func winoRowLen(w int) int { return 2*((((w+1)/2)+7)&^7) + 2 }

// winoPadLen is the scratch winoPad needs for an h×w plane.
func winoPadLen(h, w int) int { return (2*((h+1)/2)+2)*winoRowLen(w) + 16 }

// winoPad writes the zero-padded plane P[r][c] = src[r−1][c−1] (0 outside
// src) for r < 2⌈h/2⌉+2 into pad, rows pw = winoRowLen(w) apart, and
// returns pw: winoPadInit and winoPadRows.
func winoPad(src []float32, h, w int, pad []float32) (pw int) {
	winoPadInit(h, w, pad)
	return winoPadRows(src, h, w, pad)
}

// winoPadInit zeroes winoPad's plane (and the 16 elements of slack after
// it, which the vectors of the last row of tiles read into lanes nobody
// keeps): the padding stays zero while winoPadRows fills planes of the same
// size.
func winoPadInit(h, w int, pad []float32) {
	clear(pad[:winoPadLen(h, w)])
}

// winoPadRows writes src into rows 1..h, columns 1..w of the padded plane.
func winoPadRows(src []float32, h, w int, pad []float32) (pw int) {
	pw = winoRowLen(w)
	src = src[:h*w]
	// copy (memmove) rather than an element loop, even for rows of 7:
	// about twice as fast for rows of 7 to 28 (BenchmarkCopyRows).
	for y := 0; y < h; y++ {
		copy(pad[(y+1)*pw+1:(y+1)*pw+1+w], src[y*w:y*w+w])
	}
	return pw
}

// winoInTileGo is the reference for winoInTile: for tile (ty, tx) of a
// th×tw grid, d[i][j] = p[(2ty+i)·pw + 2tx + j] and
// dst[ξ·xs + ty·tw + tx] = (Bᵀ·d·B)[ξ], computed as
//
//	z_j = (d0j−d2j, d1j+d2j, d2j−d1j, d1j−d3j)     (rows, for each column j)
//	V[i] = (zi0−zi2, zi1+zi2, zi2−zi1, zi1−zi3)    (columns)
func winoInTileGo(p []float32, pw, th, tw int, dst []float32, xs int) {
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			f := 2*ty*pw + 2*tx
			r0 := (*[4]float32)(p[f:])
			r1 := (*[4]float32)(p[f+pw:])
			r2 := (*[4]float32)(p[f+2*pw:])
			r3 := (*[4]float32)(p[f+3*pw:])
			a0, a1, a2, a3 := r0[0]-r2[0], r0[1]-r2[1], r0[2]-r2[2], r0[3]-r2[3]
			b0, b1, b2, b3 := r1[0]+r2[0], r1[1]+r2[1], r1[2]+r2[2], r1[3]+r2[3]
			c0, c1, c2, c3 := r2[0]-r1[0], r2[1]-r1[1], r2[2]-r1[2], r2[3]-r1[3]
			e0, e1, e2, e3 := r1[0]-r3[0], r1[1]-r3[1], r1[2]-r3[2], r1[3]-r3[3]
			o := ty*tw + tx
			dst[o] = a0 - a2
			dst[xs+o] = a1 + a2
			dst[2*xs+o] = a2 - a1
			dst[3*xs+o] = a1 - a3
			dst[4*xs+o] = b0 - b2
			dst[5*xs+o] = b1 + b2
			dst[6*xs+o] = b2 - b1
			dst[7*xs+o] = b1 - b3
			dst[8*xs+o] = c0 - c2
			dst[9*xs+o] = c1 + c2
			dst[10*xs+o] = c2 - c1
			dst[11*xs+o] = c1 - c3
			dst[12*xs+o] = e0 - e2
			dst[13*xs+o] = e1 + e2
			dst[14*xs+o] = e2 - e1
			dst[15*xs+o] = e1 - e3
		}
	}
}

// winoOutput writes the h×w plane dst from the products of its tiles,
// m[ξ·ms + ty·tw + tx] (tw = ⌈w/2⌉), through scratch y of
// 2⌈h/2⌉·winoRowLen(w) elements: each tile is Aᵀ·M·A, of which a partial
// last row or column of tiles keeps only the part inside the plane. On the
// AVX2 tier it reads m up to 7 tiles past the plane's last.
func winoOutput(t cpu.Tier, m []float32, ms, h, w int, y, dst []float32) {
	dst = dst[:h*w]
	if winoOutDense(t, m, ms, h, w, y) {
		copy(dst, y[:h*w])
		return
	}
	yw := winoRowLen(w)
	winoOutTile(t, m, ms, (h+1)/2, (w+1)/2, y, yw)
	for oy := 0; oy < h; oy++ {
		copy(dst[oy*w:(oy+1)*w], y[oy*yw:])
	}
}

// winoOutTileGo is the reference for winoOutTile: for tile (ty, tx) of a
// th×tw grid, from M[ξ] = m[ξ·ms + ty·tw + tx], the 2×2 tile Aᵀ·M·A,
// computed as
//
//	p_j = M0j+M1j+M2j, q_j = M1j−M2j−M3j      (rows, left to right)
//	y00 = p0+p1+p2, y01 = p1−p2−p3, y10 = q0+q1+q2, y11 = q1−q2−q3
//
// written to y[(2ty+r)·yw + 2tx + c] for y_rc.
func winoOutTileGo(m []float32, ms, th, tw int, y []float32, yw int) {
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			t := ty*tw + tx
			m0, m1, m2, m3 := m[t], m[ms+t], m[2*ms+t], m[3*ms+t]
			m4, m5, m6, m7 := m[4*ms+t], m[5*ms+t], m[6*ms+t], m[7*ms+t]
			m8, m9, m10, m11 := m[8*ms+t], m[9*ms+t], m[10*ms+t], m[11*ms+t]
			m12, m13, m14, m15 := m[12*ms+t], m[13*ms+t], m[14*ms+t], m[15*ms+t]
			p0, p1, p2, p3 := m0+m4+m8, m1+m5+m9, m2+m6+m10, m3+m7+m11
			q0, q1, q2, q3 := m4-m8-m12, m5-m9-m13, m6-m10-m14, m7-m11-m15
			o := 2*ty*yw + 2*tx
			y[o] = p0 + p1 + p2
			y[o+1] = p1 - p2 - p3
			y[o+yw] = q0 + q1 + q2
			y[o+yw+1] = q1 - q2 - q3
		}
	}
}

// winoBatch convolves images 0..nimg−1 of a batch: the h×w planes in(i, c)
// (c < cin) with the transformed filters u ([16][cout][cin], winoFilter),
// writing (overwriting) the h×w planes out(i, c) (c < cout). It runs on the
// calling goroutine.
func winoBatch(t cpu.Tier, buf *winoBuf, nimg, cin, cout, h, w int, u []float32, in, out func(i, c int) []float32) {
	th, tw := (h+1)/2, (w+1)/2
	tiles := th * tw
	cols := nimg * tiles
	ld := padLD(cols + 8) // ≥ 7 columns of slack for the transforms' vectors
	// The 16 ξ rows a transform reads or writes together are cin·ld and
	// cout·ld apart, often a multiple of 4 KiB (cin = 128, ld = 248): 16
	// more elements put each in its own cache set rather than all in one.
	vs, ms := cin*ld+16, cout*ld+16
	buf.v = grow(buf.v, 16*vs)
	buf.m = grow(buf.m, 16*ms)
	buf.y = grow(buf.y, 2*th*winoRowLen(w))
	buf.padFor(h, w)
	// Images outer, channels inner: a plane's vector spill past its last
	// tile lands on the next image's first tiles, written later.
	for i := 0; i < nimg; i++ {
		for c := 0; c < cin; c++ {
			winoInput(t, in(i, c), h, w, buf.pad, buf.v[c*ld+i*tiles:], vs)
		}
	}
	for xi := 0; xi < 16; xi++ {
		sgemm(t, 1, false, false, cout, cols, cin, 1, u[xi*cout*cin:], cin, buf.v[xi*vs:], ld, 0, buf.m[xi*ms:], ld)
	}
	for i := 0; i < nimg; i++ {
		for c := 0; c < cout; c++ {
			winoOutput(t, buf.m[c*ld+i*tiles:], ms, h, w, buf.y, out(i, c))
		}
	}
}

// winoConv is the Winograd convolution of n images of cin planes (h×w) in
// src into n images of cout planes in dst (both NCHW, dst overwritten),
// with filters u as winoFilter writes them.
func winoConv(n, cin, cout, h, w int, src, u, dst []float32) {
	winoBatches(winoBatch, winoImages(((h+1)/2)*((w+1)/2), n), n, cin, cout, h, w, src, u, dst)
}

// winoBatches runs batch (winoBatch or wino4Batch) on the batches of bsz
// images of n in src and dst (as winoConv), spread over Threads()
// goroutines, each with its own winoBuf.
func winoBatches(batch func(t cpu.Tier, buf *winoBuf, nimg, cin, cout, h, w int, u []float32, in, out func(i, c int) []float32),
	bsz, n, cin, cout, h, w int, src, u, dst []float32) {
	t := tier
	hw := h * w
	forImages((n+bsz-1)/bsz, func(lo, hi int) {
		buf := getWinoBuf()
		defer putWinoBuf(buf)
		for g := lo; g < hi; g++ {
			n0, n1 := g*bsz, min((g+1)*bsz, n)
			batch(t, buf, n1-n0, cin, cout, h, w, u,
				func(i, c int) []float32 { return src[((n0+i)*cin+c)*hw:][:hw] },
				func(i, c int) []float32 { return dst[((n0+i)*cout+c)*hw:][:hw] })
		}
	})
}

// winogradForward is Conv2d on Winograd (useWinograd(s) must hold).
func winogradForward(s ConvShape, x, w, y []float32) {
	winoRun(s, false, s.Cin, s.Cout, x, w, y)
}

// winogradBackwardInput is Conv2dBackwardInput on Winograd (useWinograd(s)
// must hold): the convolution of dy with the rotated, transposed filters.
func winogradBackwardInput(s ConvShape, dy, w, dx []float32) {
	winoRun(s, true, s.Cout, s.Cin, dy, w, dx)
}

// winoRun convolves src (cin planes an image) into dst (cout planes) with
// the filters w of s, rotated and transposed when flip, on F(4×4,3×3) where
// useWino4(s) holds and F(2×2,3×3) otherwise.
func winoRun(s ConvShape, flip bool, cin, cout int, src, w, dst []float32) {
	filter, conv, xis := winoFilter, winoConv, 16
	if useWino4(s) {
		filter, conv, xis = wino4Filter, wino4Conv, 36
	}
	ub := getScratch(xis * s.Cout * s.Cin)
	defer putScratch(ub)
	filter(w, s.Cout, s.Cin, flip, ub.s)
	conv(s.N, cin, cout, s.H, s.W, src, ub.s, dst)
}

// UsesWinograd reports whether Conv2d and its backward functions run the
// convolution of shape s on Winograd (F(2×2,3×3) or F(4×4,3×3)) rather than
// on im2col.
func UsesWinograd(s ConvShape) bool { return useWinograd(s) }
