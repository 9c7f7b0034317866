package kern

import "github.com/pairflow/pairflow/internal/cpu"

// The weight gradient on Winograd F(2×2, 3×3). Per tile, the 3×3 gradient
// of one filter is the correlation of the tile's 4×4 input window d with
// its 2×2 output gradient e, r[i][j] = Σ_ab e[a][b]·d[a+i][b+j]: the
// transpose of F(2×2,3×3) is F(3×3,2×2),
//
//	r = Gᵀ·[(A·e·Aᵀ) ⊙ (Bᵀ·d·B)]·G
//
// with the forward pass's A, B and G (see winograd.go). Summed over the
// tiles of the batch, the 16 elements ξ of the bracket are 16 GEMMs whose
// reduction runs over the tiles:
//
//	M[ξ] (Cout × Cin) = E[ξ] (Cout × tiles) · V[ξ]ᵀ (tiles × Cin)
//
// and dW[co][ci] = Gᵀ·M[·][co][ci]·G at the end, once. V is the forward
// pass's input transform (winoInput). The output-gradient transform uses
// A' = D·A and G' = D·G with D = diag(1, 1, 1, −1), which moves the signs
// of A's last row into G (D·D = 1, and negation is exact, so the result
// is the same): A'·(u0, u1) = (u0, u0+u1, u0−u1, u1) and
//
//	G'ᵀ·(m0, m1, m2, m3) = (m0 + (m1+m2)/2, (m1−m2)/2, (m1+m2)/2 − m3).
//
// A partial last tile of a plane with an odd side takes zeros for the
// output gradient outside the plane, so whatever its window holds there
// adds nothing.
//
// Determinism: as on im2col, the batch is cut into contiguous image groups
// fixed by the shape (imageGroups(N, winoDWMaxGroups(s))); within a group,
// batches of winoDWImages images (a function of the shape) are reduced in
// order, each batch's GEMMs accumulating into the group's M (K = the
// batch's tiles: each element's reduction order depends on the shape
// alone); the groups' M are then added in group order and transformed
// once. Nothing depends on the thread count.

// winoDWWork sets the size of a weight-gradient batch: about
// winoDWWork/(Cin+Cout) tiles, so that its transformed tiles,
// 16·(Cin+Cout)·tiles floats (768 KiB), stay near the core while the 16
// GEMMs read them (whole images: at least one). Measured on FMNIST's
// layers (Conv2dBackwardBN of 1024 images with dx, then run in the same
// pass; alternated in one process, median of 12): 32→64 at
// 14×14, 128 tiles per batch 168 cpu-ms against 256 tiles 170 and 64
// tiles 180; 64→128 at 7×7, 64 tiles 180 against 128 tiles 196 and 256
// tiles 221 (another process's load makes these ±10%).
const winoDWWork = 12288

// winoDWPartsMax bounds the groups' partial sums (16·Cout·Cin floats
// each) to 64 MiB: layers of 512→512 channels reduce in 4 groups rather
// than dwMaxGroups' 8 (im2col's 9·Cout·Cin per group would be 72 MiB).
const winoDWPartsMax = 1 << 24

// winoDWMaxGroups is the most image groups the Winograd weight gradient
// of shape s reduces separately: dwMaxGroups, fewer where the partial sums
// would pass winoDWPartsMax. It depends on the shape alone.
func winoDWMaxGroups(s ConvShape) int {
	return min(dwMaxGroups, max(1, winoDWPartsMax/(16*s.Cout*s.Cin)))
}

// winoDWImages is the number of images per weight-gradient batch.
func winoDWImages(s ConvShape) int {
	tiles := ((s.H + 1) / 2) * ((s.W + 1) / 2)
	return max(1, min(s.N, winoDWWork/(s.Cin+s.Cout)/tiles))
}

// winoGradOutTileGo writes the transformed output-gradient tiles
// E = A'·e·A'ᵀ of n tiles: tile t has e[0][b] = r0[2t+b] and
// e[1][b] = r1[2t+b] (r0, r1 are the plane's even and odd rows, see
// winoGradOut), and dst[ξ·xs + t] = E[ξ], computed as
//
//	s_b = e0b + e1b, f_b = e0b − e1b                       (rows)
//	E = (e00, e00+e01, e00−e01, e01,  s0, s0+s1, s0−s1, s1,
//	     f0, f0+f1, f0−f1, f1,  e10, e10+e11, e10−e11, e11)  (columns)
func winoGradOutTileGo(r0, r1 []float32, n int, dst []float32, xs int) {
	for t := 0; t < n; t++ {
		a, b, c, d := r0[2*t], r0[2*t+1], r1[2*t], r1[2*t+1]
		s0, s1 := a+c, b+d
		f0, f1 := a-c, b-d
		dst[t] = a
		dst[xs+t] = a + b
		dst[2*xs+t] = a - b
		dst[3*xs+t] = b
		dst[4*xs+t] = s0
		dst[5*xs+t] = s0 + s1
		dst[6*xs+t] = s0 - s1
		dst[7*xs+t] = s1
		dst[8*xs+t] = f0
		dst[9*xs+t] = f0 + f1
		dst[10*xs+t] = f0 - f1
		dst[11*xs+t] = f1
		dst[12*xs+t] = c
		dst[13*xs+t] = c + d
		dst[14*xs+t] = c - d
		dst[15*xs+t] = d
	}
}

// winoGradRowLen is the length of each of winoGradOut's two row streams
// for planes of tiles tiles: two columns per tile, rounded up to whole
// vectors of 8 tiles.
func winoGradRowLen(tiles int) int { return 16 * ((tiles + 7) / 8) }

// winoGradOutLen is the scratch winoGradOut needs for an h×w plane.
func winoGradOutLen(h, w int) int { return 2 * winoGradRowLen(((h+1)/2)*((w+1)/2)) }

// gradOutZMM says whether the AVX-512 tier runs winoGradOutAVX512 (amd64).
// It does not: on Zen 4 it ran at 0.89–1.14× the AVX2 body's speed
// depending on the tile count (16 to 256 tiles), no gain overall
// (BenchmarkBodies). The bodies are bit-identical; the tests run both.
var gradOutZMM = false

// winoGradOut writes the transformed output-gradient tiles of the h×w
// plane src to dst[ξ·xs + ty·tw + tx] (tw = ⌈w/2⌉). It first copies the
// plane's even rows (2ty) one after another into r0 and its odd rows
// (2ty+1) into r1, in pad (winoGradOutLen(h, w) elements), each row 2tw
// long with a zero last column where w is odd, and a zero last odd row
// where h is odd, so that tile t is r0[2t..2t+1] over r1[2t..2t+1] and
// the tiles of the whole plane are one stream. On the AVX2 tier whole
// vectors of 8 tiles are written: up to 7 elements after the plane's last
// tile (in every ξ row of dst) are overwritten too, as winoInput does.
func winoGradOut(t cpu.Tier, src []float32, h, w int, pad []float32, dst []float32, xs int) {
	th, tw := (h+1)/2, (w+1)/2
	tiles, pw := th*tw, 2*tw
	rl := winoGradRowLen(tiles)
	r0, r1 := pad[:rl], pad[rl:2*rl]
	src = src[:h*w]
	for ty := 0; ty < th; ty++ {
		e, o := r0[ty*pw:(ty+1)*pw], r1[ty*pw:(ty+1)*pw]
		copy(e, src[2*ty*w:(2*ty+1)*w])
		if 2*ty+1 < h {
			copy(o, src[(2*ty+1)*w:(2*ty+2)*w])
		} else {
			clear(o)
		}
		if w%2 != 0 {
			e[w], o[w] = 0, 0
		}
	}
	// The lanes past the last tile reach only dst's slack; keep them zero.
	clear(r0[tiles*2:])
	clear(r1[tiles*2:])
	winoGradOutTile(t, r0, r1, tiles, dst, xs)
}

// winoGradFilter writes dw ([cout][cin][3][3], overwritten) from the
// ng partial sums in parts, each 16 × cout × cin laid out [ξ][co][ci]:
// the sums are added into the first in group order (parts is overwritten),
// then dw[co][ci] = G'ᵀ·(Σ_g M_g)·G' in float64, rounded once.
func winoGradFilter(parts []float32, ng, cout, cin int, dw []float32) {
	plane := cout * cin
	msz := 16 * plane
	mustLen("winoGradFilter parts", len(parts), ng*msz)
	mustLen("winoGradFilter dw", len(dw), 9*plane)
	sum := sumGroups(parts, ng, msz)
	for co := 0; co < cout; co++ {
		for ci := 0; ci < cin; ci++ {
			off := co*cin + ci
			var m [4][4]float64
			for xi := 0; xi < 16; xi++ {
				m[xi/4][xi%4] = float64(sum[xi*plane+off])
			}
			// Rows: G'ᵀ·m (3×4), then columns: (G'ᵀ·m)·G' (3×3).
			var gm [3][4]float64
			for j := range 4 {
				m0, m1, m2, m3 := m[0][j], m[1][j], m[2][j], m[3][j]
				gm[0][j], gm[1][j], gm[2][j] = m0+(m1+m2)/2, (m1-m2)/2, (m1+m2)/2-m3
			}
			r := (*[9]float32)(dw[(co*cin+ci)*9:])
			for i := range 3 {
				m0, m1, m2, m3 := gm[i][0], gm[i][1], gm[i][2], gm[i][3]
				r[3*i] = float32(m0 + (m1+m2)/2)
				r[3*i+1] = float32((m1 - m2) / 2)
				r[3*i+2] = float32((m1+m2)/2 - m3)
			}
		}
	}
}

// sumGroups adds the ng partial sums of msz elements each in parts into
// the first, in group order, and returns it (parts[:msz]).
func sumGroups(parts []float32, ng, msz int) []float32 {
	sum := parts[:msz]
	for g := 1; g < ng; g++ {
		for j, v := range parts[g*msz : (g+1)*msz] {
			sum[j] += v
		}
	}
	return sum
}

// winoGradBatch adds the transformed weight gradient of images n0..n1−1
// into m (16 × cout × cin, see winoGradFilter; overwritten when first):
// their input tiles V and output-gradient tiles E side by side, then one
// GEMM per ξ with the tiles as the reduction, each on up to threads
// goroutines (sgemm: the split does not change a bit).
func winoGradBatch(t cpu.Tier, threads int, buf *winoBuf, s ConvShape, x, dy []float32, n0, n1 int, first bool, m []float32) {
	cin, cout, h, w := s.Cin, s.Cout, s.H, s.W
	hw := h * w
	th, tw := (h+1)/2, (w+1)/2
	tiles := th * tw
	cols := (n1 - n0) * tiles
	ld := padLD(cols + 8) // ≥ 7 columns of slack for winoInput's vectors
	vs, es := cin*ld+16, cout*ld+16
	buf.v = grow(buf.v, 16*vs)
	buf.m = grow(buf.m, 16*es)
	buf.y = grow(buf.y, winoGradOutLen(h, w))
	buf.padFor(h, w)
	// Images outer, channels inner: a plane's vector spill past its last
	// tile lands on the next image's first tiles, written later.
	for i := n0; i < n1; i++ {
		for c := 0; c < cin; c++ {
			winoInput(t, x[(i*cin+c)*hw:][:hw], h, w, buf.pad, buf.v[c*ld+(i-n0)*tiles:], vs)
		}
		for c := 0; c < cout; c++ {
			winoGradOut(t, dy[(i*cout+c)*hw:][:hw], h, w, buf.y, buf.m[c*ld+(i-n0)*tiles:], es)
		}
	}
	beta := float32(1)
	if first {
		beta = 0
	}
	plane := cout * cin
	for xi := 0; xi < 16; xi++ {
		sgemm(t, threads, false, true, cout, cin, cols, 1, buf.m[xi*es:], ld, buf.v[xi*vs:], ld, beta, m[xi*plane:], cin)
	}
}

// winogradBackwardWeights is Conv2dBackwardWeights on Winograd
// (useWinograd(s) must hold): x and dy whole NCHW tensors, dw overwritten.
func winogradBackwardWeights(s ConvShape, x, dy, dw []float32) {
	winogradBackward(s, x, dy, nil, nil, dw, nil)
}

// winogradBackward is conv2dBackward on Winograd (useWinograd(s) must
// hold; the weight gradient on F(3×3,4×4) where useWino4DW(s) says so,
// winograd4_dw.go, on F(3×3,2×2) otherwise): dw (overwritten) and, unless
// dx is nil, dx (overwritten, with the filters w), from x and the output
// gradient dy or, when g is not nil, the output gradient computed from g
// (vecBNBack) batch by batch where the weight gradient first needs it and
// kept whole for the input gradient, which runs after the weight gradient
// (winoConv): in g.Into when it is set, else in scratch.
func winogradBackward(s ConvShape, x, dy []float32, g *BatchNormGrad, w, dw, dx []float32) {
	t := tier
	dw = dw[:s.WeightLen()]
	if s.N == 0 {
		clear(dw)
		return
	}
	hw := s.H * s.W
	if g != nil && g.Into != nil {
		dy = g.Into[:s.OutLen()]
	} else if g != nil {
		dyBuf := getScratch(s.OutLen())
		defer putScratch(dyBuf)
		dy = dyBuf.s[:s.OutLen()]
	}
	batch, filter := winoGradBatch, winoGradFilter
	bsz, msz, maxG := winoDWImages(s), 16*s.Cout*s.Cin, winoDWMaxGroups(s)
	if useWino4DW(s) {
		batch, filter = wino4GradBatch, wino4GradFilter
		bsz, msz, maxG = wino4DWImages(s), 36*s.Cout*s.Cin, wino4DWMaxGroups(s)
	}
	ng, per := imageGroups(s.N, maxG)
	// Threads the groups leave idle (fewer groups than threads: large
	// layers, small batches) split each GEMM instead.
	gemmThreads := max(1, Threads()/ng)
	partsBuf := getScratch(ng * msz)
	defer putScratch(partsBuf)
	parts := partsBuf.s
	forGroups(s.N, ng, per, func(gi, lo, hi int) {
		part := parts[gi*msz : (gi+1)*msz]
		buf := getWinoBuf()
		defer putWinoBuf(buf)
		for n0 := lo; n0 < hi; n0 += bsz {
			n1 := min(n0+bsz, hi)
			if g != nil {
				for n := n0; n < n1; n++ {
					for co := 0; co < s.Cout; co++ {
						o := (n*s.Cout + co) * hw
						vecBNBack(t, dy[o:o+hw], g.DY[o:o+hw], g.X[o:o+hw], g.Mean[co], g.C1[co], g.C2[co], g.C0[co])
					}
				}
			}
			batch(t, gemmThreads, buf, s, x, dy, n0, n1, n0 == lo, part)
		}
	})
	filter(parts, ng, s.Cout, s.Cin, dw)
	if dx != nil {
		winogradBackwardInput(s, dy, w, dx)
	}
}
