package kern

import "github.com/pairflow/pairflow/internal/cpu"

// The weight gradient on Winograd F(3×3, 4×4), the transpose of
// F(4×4, 3×3) (winograd4.go) as winograd_dw.go's F(3×3, 2×2) is that of
// F(2×2, 3×3). Per tile, the 3×3 gradient of one filter is the
// correlation of the tile's 6×6 input window d with its 4×4 output
// gradient e, r[i][j] = Σ_ab e[a][b]·d[a+i][b+j], and
//
//	r = Gᵀ·[(A·e·Aᵀ) ⊙ (Bᵀ·d·B)]·G
//
// with F(4×4,3×3)'s A, B and G. Summed over the batch's tiles, the 36
// elements ξ of the bracket are 36 GEMMs whose reduction runs over the
// tiles, M[ξ] (Cout × Cin) = E[ξ] (Cout × tiles) · V[ξ]ᵀ (tiles × Cin),
// and dW[co][ci] = Gᵀ·M[·][co][ci]·G at the end, once, in float64: 36
// multiplies per 16 outputs of a channel pair where F(3×3,2×2) has 64,
// 1.78× fewer. V is the forward pass's input transform (wino4Gather,
// wino4InCols); E = A·e·Aᵀ, A = (Aᵀ)ᵀ of winograd4.go, is
//
//	A·(u0, u1, u2, u3) = (u0, p+q, p−q, r+s, r−s, u3),
//	p = u0+u2, q = u1+u3, r = u0 + 4·u2, s = 2·(u1 + 4·u3)
//
// down each column and then along each row (a4): additions and exact
// products by powers of two, the same operations on every tier
// (wino4GradOutCols), so the tiers agree bit for bit. A partial last
// tile of a plane whose side is not a multiple of 4 takes zeros for the
// output gradient outside the plane (wino4GatherOut reads the plane's
// zero-bordered copy), so whatever its window holds there adds nothing.
//
// Rounding: E's entries reach 15·max|e| (row 3: 1+2+4+8) and V's 25·max|d|
// before the products are summed, and Gᵀ's rows recombine them with
// weights down to 1/24, so the sums cancel more than F(3×3,2×2)'s (see
// the package doc's Tolerance for the bound the tests hold it to).
//
// Determinism: as winograd_dw.go, the batch is cut into image groups fixed
// by the shape (imageGroups(N, wino4DWMaxGroups(s))); within a group,
// batches of wino4DWImages(s) images are reduced in order, each batch's 36
// GEMMs accumulating into the group's M; the groups' M are added in group
// order and transformed once. Nothing depends on the thread count.

// useWino4DW reports whether the weight gradient of a convolution that
// useWinograd accepts runs on F(3×3,4×4) rather than F(3×3,2×2):
// wino4DWMode, else wino4Mode, where they force one, otherwise where the
// forward pass runs on F(4×4,3×3) (useWino4) and on the 4×4 planes
// useWinograd admits (winoPlaneOK: ≥ 512 channels, ≥ 128 images), whose
// forward pass stays on F(2×2,3×3). BenchmarkWinograd4DW, 512 images, two
// threads, GFLOP/cpu-s, F(3×3,2×2) → F(3×3,4×4), medians of three
// alternated runs (docs/benchmarks-avx512.md): dW 64→64 at 32×32 1.07×,
// 128→128 at 16×16 1.09×, 256→256 at 8×8 1.56×, 512→512 at 4×4 3.44×
// (2.45× on 128 images); with dx (the fused backward pass) 1.09×, 1.13×,
// 1.21×, 1.84×. smallcnn's shapes (32→64 and 64→128 at 14, 16, 7 and 8
// px) measured 0.85–1.08× (dW) and 0.83–1.16× (with dx): they stay on
// F(3×3,2×2).
func useWino4DW(s ConvShape) bool {
	for _, m := range [2]int{wino4DWMode, wino4Mode} {
		switch m {
		case 1:
			return true
		case -1:
			return false
		}
	}
	return useWino4(s) || s.H*s.W <= 16
}

// wino4DWMode chooses the weight gradient's algorithm alone: 0 follows
// wino4Mode (and then useWino4's rule), 1 forces F(3×3,4×4), −1
// F(3×3,2×2). For tests and benchmarks; not to be changed while kernels
// run.
var wino4DWMode = 0

// wino4DWCols is the number of tiles (GEMM reduction length) a weight
// gradient batch of images aims at (whole images, at least one). Of 128,
// 256, 512 and 1024 (BenchmarkWinograd4DW -wino4dwcols, dW, two runs,
// GFLOP/cpu-s), 256 was best or within the noise everywhere: 64→64 at
// 32×32 193/220, 202/213, 179/166, 176/164; 128→128 at 16×16 191/183,
// 208/200, 206/197, 207/195; 256→256 at 8×8 165/192, 162/224, 172/219,
// 208/204. Its transformed tiles, 36·(Cin+Cout)·256 floats (18 MiB at
// 256→256), do not stay in cache; the GEMMs stream them once per ξ.
var wino4DWCols = 256

// wino4DWImages is the number of images per F(3×3,4×4) weight-gradient
// batch: about wino4DWCols tiles, whole images. It depends on the shape
// alone.
func wino4DWImages(s ConvShape) int {
	tiles := ((s.H + 3) / 4) * ((s.W + 3) / 4)
	return max(1, min(s.N, wino4DWCols/tiles))
}

// wino4DWMaxGroups is the most image groups the F(3×3,4×4) weight
// gradient of shape s reduces separately: dwMaxGroups, fewer where the
// partial sums (36·Cout·Cin floats each) would pass winoDWPartsMax. It
// depends on the shape alone.
func wino4DWMaxGroups(s ConvShape) int {
	return min(dwMaxGroups, max(1, winoDWPartsMax/(36*s.Cout*s.Cin)))
}

// a4 is A·u for one column (or row) u of a 4×4 output-gradient tile.
func a4(u0, u1, u2, u3 float32) (t0, t1, t2, t3, t4, t5 float32) {
	p := u0 + u2
	q := u1 + u3
	r := u0 + 4*u2
	e := u1 + 4*u3
	e += e
	return u0, p + q, p - q, r + e, r - e, u3
}

// wino4GradOutColsGo is the reference for wino4GradOutCols: for tiles
// T < n whose output-gradient element (r, k) is g[(4r+k)·gs + T], it
// writes (A·e·Aᵀ)[ξ] to x[ξ·xs + T]: a4 down each column, then a4 along
// each row.
func wino4GradOutColsGo(g []float32, gs, n int, x []float32, xs int) {
	if n == 0 {
		return
	}
	_ = g[15*gs+n-1]
	_ = x[35*xs+n-1]
	for o := 0; o < n; o++ {
		var z [6][4]float32 // z[i][k] = (A·e)[i][k]
		for k := range 4 {
			z[0][k], z[1][k], z[2][k], z[3][k], z[4][k], z[5][k] = a4(g[k*gs+o], g[(4+k)*gs+o], g[(8+k)*gs+o], g[(12+k)*gs+o])
		}
		for i := range 6 {
			r := &z[i]
			v0, v1, v2, v3, v4, v5 := a4(r[0], r[1], r[2], r[3])
			b := 6*i*xs + o
			x[b] = v0
			x[b+xs] = v1
			x[b+2*xs] = v2
			x[b+3*xs] = v3
			x[b+4*xs] = v4
			x[b+5*xs] = v5
		}
	}
}

// wino4GatherOut writes the 4×4 output-gradient tiles of one h×w plane src
// (tile (ty, tx) covers rows 4ty.., columns 4tx.., zero outside the plane)
// into the columns of d: element (r, k) of tile ty·tw + tx at
// d[(4r+k)·ds + ty·tw + tx], tw = ⌈w/4⌉. pad is the zero-bordered padded
// plane wino4Gather uses (wino4PadFor(h, w)), filled as there (wino4Pad);
// the tiles read from row 1, column 1.
func wino4GatherOut(t cpu.Tier, src []float32, h, w int, pad []float32, d []float32, ds int) {
	pw := wino4Pad(src, h, w, pad)
	wino4GatherOutTile(t, pad[pw+1:], pw, (h+3)/4, (w+3)/4, d, ds)
}

// wino4GatherOutGo is the reference for wino4GatherOutTile: d[(4r+k)·ds +
// ty·tw + tx] = p[(4ty+r)·pw + 4tx + k] for the th×tw tiles.
func wino4GatherOutGo(p []float32, pw, th, tw int, d []float32, ds int) {
	_ = d[15*ds+th*tw-1]
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			o := ty*tw + tx
			for r := range 4 {
				q := (*[4]float32)(p[(4*ty+r)*pw+4*tx:])
				b := 4*r*ds + o
				d[b] = q[0]
				d[b+ds] = q[1]
				d[b+2*ds] = q[2]
				d[b+3*ds] = q[3]
			}
		}
	}
}

// wino4GradFilter writes dw ([cout][cin][3][3], overwritten) from the ng
// partial sums in parts, each 36 × cout × cin laid out [ξ][co][ci]: the
// sums are added into the first in group order (parts is overwritten),
// then dw[co][ci] = Gᵀ·(Σ_g M_g)·G in float64, rounded once.
func wino4GradFilter(parts []float32, ng, cout, cin int, dw []float32) {
	plane := cout * cin
	msz := 36 * plane
	mustLen("wino4GradFilter parts", len(parts), ng*msz)
	mustLen("wino4GradFilter dw", len(dw), 9*plane)
	sum := sumGroups(parts, ng, msz)
	for off := 0; off < plane; off++ {
		var gm [3][6]float64 // Gᵀ·M
		for j := range 6 {
			gm[0][j], gm[1][j], gm[2][j] = gt4(
				float64(sum[j*plane+off]), float64(sum[(6+j)*plane+off]), float64(sum[(12+j)*plane+off]),
				float64(sum[(18+j)*plane+off]), float64(sum[(24+j)*plane+off]), float64(sum[(30+j)*plane+off]))
		}
		r := (*[9]float32)(dw[off*9:])
		for i := range 3 {
			q := &gm[i]
			a, b, c := gt4(q[0], q[1], q[2], q[3], q[4], q[5])
			r[3*i], r[3*i+1], r[3*i+2] = float32(a), float32(b), float32(c)
		}
	}
}

// gt4 is Gᵀ·m for one column (or row) m of a 6×6 sum, in float64.
func gt4(m0, m1, m2, m3, m4, m5 float64) (r0, r1, r2 float64) {
	const r6, r12, r24 = 1.0 / 6, 1.0 / 12, 1.0 / 24
	s12, d12 := m1+m2, m1-m2
	s34, d34 := m3+m4, m3-m4
	return m0/4 - s12*r6 + s34*r24, d34*r12 - d12*r6, (s34-s12)*r6 + m5
}

// wino4GradBatch adds the transformed weight gradient of images n0..n1−1
// into m (36 × cout × cin, see wino4GradFilter; overwritten when first):
// per channel, the windows (tiles) of all the batch's images are gathered
// into the columns of a 36-row (16-row) matrix and transformed in whole
// vectors, input tiles V and output-gradient tiles E side by side, then
// one GEMM per ξ with the tiles as the reduction, each on up to threads
// goroutines (sgemm: the split does not change a bit).
func wino4GradBatch(t cpu.Tier, threads int, buf *winoBuf, s ConvShape, x, dy []float32, n0, n1 int, first bool, m []float32) {
	cin, cout, h, w := s.Cin, s.Cout, s.H, s.W
	hw := h * w
	tiles := ((h + 3) / 4) * ((w + 3) / 4)
	cols := (n1 - n0) * tiles
	ld := padLD(cols + 16) // ≥ 15 columns of slack for the transforms' whole vectors
	vs, es := cin*ld+16, cout*ld+16
	buf.v = grow(buf.v, 36*vs)
	buf.m = grow(buf.m, 36*es)
	buf.y = grow(buf.y, 36*ld)
	buf.wino4PadFor(h, w)
	d := buf.y[:36*ld]
	for c := 0; c < cin; c++ {
		for i := n0; i < n1; i++ {
			wino4Gather(t, x[(i*cin+c)*hw:][:hw], h, w, buf.pad4, d[(i-n0)*tiles:], ld)
		}
		wino4InCols(t, d, ld, cols, buf.v[c*ld:], vs)
	}
	g := buf.y[:16*ld]
	for c := 0; c < cout; c++ {
		for i := n0; i < n1; i++ {
			wino4GatherOut(t, dy[(i*cout+c)*hw:][:hw], h, w, buf.pad4, g[(i-n0)*tiles:], ld)
		}
		wino4GradOutCols(t, g, ld, cols, buf.m[c*ld:], es)
	}
	beta := float32(1)
	if first {
		beta = 0
	}
	plane := cout * cin
	for xi := 0; xi < 36; xi++ {
		sgemm(t, threads, false, true, cout, cin, cols, 1, buf.m[xi*es:], ld, buf.v[xi*vs:], ld, beta, m[xi*plane:], cin)
	}
}
