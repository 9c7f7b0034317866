package kern

import "github.com/pairflow/pairflow/internal/cpu"

// Winograd F(4×4, 3×3), the larger sibling of winograd.go's F(2×2, 3×3),
// with the interpolation points 0, ±1, ±2, ∞ of Lavin and Gray (the
// matrices wincnn prints for them): each 4×4 output tile comes from a 6×6
// input window, V = Bᵀ·d·B, U = G·g·Gᵀ (6×6), Y = Aᵀ·(Σ_c U_c ⊙ V_c)·A,
// and the channel sums are 36 GEMMs, one per element ξ of the 6×6 tile:
// 36 multiplies per 16 outputs and input channel, 4× fewer than direct
// and 1.78× fewer than F(2×2, 3×3).
//
//	Bᵀ = | 4  0 −5  0  1  0 |   G = |  1/4     0     0  |   Aᵀ = | 1  1  1  1  1  0 |
//	     | 0 −4 −4  1  1  0 |       | −1/6  −1/6  −1/6  |        | 0  1 −1  2 −2  0 |
//	     | 0  4 −4 −1  1  0 |       | −1/6   1/6  −1/6  |        | 0  1  1  4  4  0 |
//	     | 0 −2 −1  2  1  0 |       |  1/24  1/12  1/6  |        | 0  1 −1  8 −8  1 |
//	     | 0  2 −1 −2  1  0 |       |  1/24 −1/12  1/6  |
//	     | 0  4  0 −5  0  1 |       |  0     0     1    |
//
// The price is rounding: Bᵀ and Aᵀ have entries up to 5 and 8, so the
// transformed values are larger than the inputs they mix, and the products'
// rounding errors are amplified on the way back (see the package doc for the
// tolerance the tests hold it to). The transforms are plain Go, the same
// code on every tier, so results stay bit-identical across tiers; products
// by constants that are not powers of two are converted explicitly, so that
// no compiler fuses them into a multiply-add. As for F(2×2, 3×3), every
// output element is computed the same way whatever batch it falls in, so
// results do not depend on the thread count nor on how images are grouped.

// wino4Mode chooses between F(4×4,3×3) and F(2×2,3×3) for the shapes
// useWinograd accepts: 0 follows useWino4's rule, 1 forces F(4×4,3×3), −1
// F(2×2,3×3) (the weight gradient too, F(3×3,4×4) or F(3×3,2×2), unless
// wino4DWMode says otherwise). For tests and benchmarks; not to be changed
// while kernels run.
var wino4Mode = 0

// useWino4 reports whether a convolution that useWinograd accepts runs its
// forward pass and input gradient on F(4×4,3×3) rather than F(2×2,3×3).
func useWino4(s ConvShape) bool {
	switch wino4Mode {
	case 1:
		return true
	case -1:
		return false
	}
	c := min(s.Cin, s.Cout)
	th, tw := (s.H+3)/4, (s.W+3)/4
	return s.H*s.W > 16 && s.N*th*tw >= wino4MinCols &&
		(c >= wino4MinC || c >= wino4MinCLarge && s.H*s.W >= wino4MinPlane)
}

// wino4MinC and wino4MinPlane: F(4×4,3×3) runs where the smaller channel
// count is at least 128, or at least 64 on planes of 16×16 or more. Its
// transforms cost more per output than F(2×2,3×3)'s, which the GEMMs' 1.78×
// fewer multiplies pay back only with enough channels: BenchmarkWinograd4,
// two threads, GFLOP/cpu-s, F(2,3) → F(4,3), two runs: 64→64 at 32×32
// (128 images) fwd 171 → 195, 169 → 191, dX 173 → 191, 171 → 192;
// 128→128 at 16×16 fwd 177 → 199, 171 → 195, dX 165 → 199, 166 → 194;
// 256→256 at 8×8 fwd 147 → 200, 150 → 199, dX 151 → 204, 144 → 206; but
// 64→128 at 8×8 fwd 153 → 157, 140 → 144, dX 155 → 147, 143 → 138, 64→128
// at 7×7 (256 images) fwd ~1.0×, dX 0.90–0.98×, 32→64 at 14×14 0.87–0.95×
// and 32→64 at 16×16 fwd 1.08–1.11×, dX 0.87–0.92×. 4×4 planes (one
// tile) stay on F(2×2,3×3): 512→512 on 128 images fwd 138–140 vs 131–132,
// dX 118–119 vs 123–124. Below wino4MinCols tiles a layer (fewer GEMM
// columns than any shape measured) stays on F(2×2,3×3) too.
const (
	wino4MinCols   = 128
	wino4MinC      = 128
	wino4MinCLarge = 64
	wino4MinPlane  = 16 * 16
)

// wino4Cols is the number of tiles (GEMM columns) an F(4×4,3×3) batch of
// images aims at.
var wino4Cols = 256

// wino4Filter writes the transformed filters U = G·g·Gᵀ of w
// ([cout][cin][3][3]) into u, laid out [36][cout][cin] (ξ = 6·row + col),
// or with flip those of the input-gradient convolution (winoFilter), laid
// out [36][cin][cout]. It computes in float64 and rounds once. It fills u
// in blocks of wino4FilterBlock consecutive elements of each ξ row: 36
// streams of stores a multiple of 4 KiB apart thrash the L1 cache (this
// ran 3× slower written tile by tile).
func wino4Filter(w []float32, cout, cin int, flip bool, u []float32) {
	mustLen("wino4Filter w", len(w), cout*cin*9)
	mustLen("wino4Filter u", len(u), 36*cout*cin)
	plane := cout * cin
	var blk [36][wino4FilterBlock]float32
	for off0 := 0; off0 < plane; off0 += wino4FilterBlock {
		nb := min(wino4FilterBlock, plane-off0)
		for k := 0; k < nb; k++ {
			off := off0 + k
			co, ci := off/cin, off%cin // u's element off is U[co][ci]
			if flip {
				ci, co = off/cout, off%cout // U'[ci][co] = rot180(g[co][ci])
			}
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
			var gg [6][3]float64 // G·g
			for j := range 3 {
				c := gcol4(g[0][j], g[1][j], g[2][j])
				for i := range 6 {
					gg[i][j] = c[i]
				}
			}
			for i := range 6 {
				row := gcol4(gg[i][0], gg[i][1], gg[i][2])
				for j := range 6 {
					blk[6*i+j][k] = float32(row[j])
				}
			}
		}
		for xi := range 36 {
			copy(u[xi*plane+off0:xi*plane+off0+nb], blk[xi][:nb])
		}
	}
}

// wino4FilterBlock is the number of filters wino4Filter transforms before
// it writes them out.
const wino4FilterBlock = 64

// gcol4 is G·(a, b, c) in float64.
func gcol4(a, b, c float64) [6]float64 {
	const r6, r12, r24 = 1.0 / 6, 1.0 / 12, 1.0 / 24
	return [6]float64{a / 4, -(a + b + c) * r6, -(a - b + c) * r6, a*r24 + b*r12 + c*r6, a*r24 - b*r12 + c*r6, c}
}

// wino4RowLen is the row length of wino4Pad's plane for planes w wide.
func wino4RowLen(w int) int { return 4*((w+3)/4) + 2 }

// wino4PadLen is the scratch an h×w plane's padded copy needs: the plane
// and 32 elements of slack that wino4GatherAVX512 may read past its last row.
func wino4PadLen(h, w int) int { return (4*((h+3)/4)+2)*wino4RowLen(w) + 32 }

// wino4PadFor makes b.pad4 the zero-bordered padded plane of h×w inputs,
// zeroed when the plane size changes; wino4Pad writes only the plane's own
// rows and columns into it, so the border stays zero.
func (b *winoBuf) wino4PadFor(h, w int) {
	if n := wino4PadLen(h, w); len(b.pad4) != n || b.pad4H != h || b.pad4W != w {
		b.pad4 = grow(b.pad4, n)
		b.pad4H, b.pad4W = h, w
		clear(b.pad4)
	}
}

// wino4Gather writes the 6×6 input windows of the tiles of one h×w plane
// src (padding 1 on every side; the window of tile (ty, tx) starts at row
// 4ty−1, column 4tx−1, zero outside the plane) into the columns of d:
// element (i, j) of tile ty·tw + tx at d[(6i+j)·ds + ty·tw + tx], tw =
// ⌈w/4⌉. pad is the zero-bordered padded plane (wino4PadFor), filled by
// wino4Pad.
func wino4Gather(t cpu.Tier, src []float32, h, w int, pad []float32, d []float32, ds int) {
	pw := wino4Pad(src, h, w, pad)
	wino4GatherTile(t, pad, pw, (h+3)/4, (w+3)/4, d, ds)
}

// wino4Pad copies the rows of the h×w plane src into the zero-bordered
// padded plane pad (wino4PadFor(h, w)) from row 1, column 1, and returns
// its row length wino4RowLen(w). Only the plane's own rows and columns are
// written, so the border stays zero.
func wino4Pad(src []float32, h, w int, pad []float32) (pw int) {
	pw = wino4RowLen(w)
	src = src[:h*w]
	for y := 0; y < h; y++ {
		copy(pad[(y+1)*pw+1:(y+1)*pw+1+w], src[y*w:y*w+w])
	}
	return pw
}

// wino4GatherGo is the reference for wino4GatherTile: d[(6i+j)·ds + ty·tw
// + tx] = p[(4ty+i)·pw + 4tx + j] for the th×tw tiles.
func wino4GatherGo(p []float32, pw, th, tw int, d []float32, ds int) {
	_ = d[35*ds+th*tw-1]
	for ty := 0; ty < th; ty++ {
		for tx := 0; tx < tw; tx++ {
			o := ty*tw + tx
			for i := range 6 {
				r := (*[6]float32)(p[(4*ty+i)*pw+4*tx:])
				b := 6*i*ds + o
				d[b] = r[0]
				d[b+ds] = r[1]
				d[b+2*ds] = r[2]
				d[b+3*ds] = r[3]
				d[b+4*ds] = r[4]
				d[b+5*ds] = r[5]
			}
		}
	}
}

// bt4 is Bᵀ·d for one column (or row) d of a 6×6 window.
func bt4(d0, d1, d2, d3, d4, d5 float32) (t0, t1, t2, t3, t4, t5 float32) {
	t0 = (4*d0 + d4) - float32(5*d2)
	t5 = (4*d1 + d5) - float32(5*d3)
	a := d4 - 4*d2
	b := d3 - 4*d1
	c := d4 - d2
	e := d3 - d1
	e += e
	t1, t2 = a+b, a-b
	t3, t4 = c+e, c-e
	return
}

// at4 is Aᵀ·m for one column (or row) m of a 6×6 product tile.
func at4(m0, m1, m2, m3, m4, m5 float32) (y0, y1, y2, y3 float32) {
	a, b := m1+m2, m1-m2
	c, e := m3+m4, m3-m4
	y0 = m0 + a + c
	y1 = b + (e + e)
	y2 = a + 4*c
	y3 = (b + 8*e) + m5
	return
}

// wino4InColsGo is the reference for wino4InCols: for tiles T < n whose
// window element (i, j) is d[(6i+j)·ds + T], it writes (Bᵀ·d·B)[ξ] to
// x[ξ·xs + T]: bt4 down each column, then bt4 along each row.
func wino4InColsGo(d []float32, ds, n int, x []float32, xs int) {
	if n == 0 {
		return
	}
	_ = d[35*ds+n-1]
	_ = x[35*xs+n-1]
	for o := 0; o < n; o++ {
		var z [6][6]float32 // z[i][j] = (Bᵀ·d)[i][j]
		for j := range 6 {
			z[0][j], z[1][j], z[2][j], z[3][j], z[4][j], z[5][j] = bt4(d[j*ds+o], d[(6+j)*ds+o], d[(12+j)*ds+o], d[(18+j)*ds+o], d[(24+j)*ds+o], d[(30+j)*ds+o])
		}
		for i := range 6 {
			r := &z[i]
			v0, v1, v2, v3, v4, v5 := bt4(r[0], r[1], r[2], r[3], r[4], r[5])
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

// wino4OutColsGo is the reference for wino4OutCols: for tiles T < n whose
// product element ξ is m[ξ·ms + T], it writes (Aᵀ·M·A)[4r+k] to
// y[(4r+k)·ys + T]: at4 down each column, then at4 along each row. (The
// assembly bodies also overwrite part of m; this one leaves it alone.)
func wino4OutColsGo(m []float32, ms, n int, y []float32, ys int) {
	if n == 0 {
		return
	}
	_ = m[35*ms+n-1]
	_ = y[15*ys+n-1]
	for o := 0; o < n; o++ {
		var z [4][6]float32 // z[r][j] = (Aᵀ·M)[r][j]
		for j := range 6 {
			z[0][j], z[1][j], z[2][j], z[3][j] = at4(m[j*ms+o], m[(6+j)*ms+o], m[(12+j)*ms+o], m[(18+j)*ms+o], m[(24+j)*ms+o], m[(30+j)*ms+o])
		}
		for r := range 4 {
			q := &z[r]
			y0, y1, y2, y3 := at4(q[0], q[1], q[2], q[3], q[4], q[5])
			b := 4*r*ys + o
			y[b] = y0
			y[b+ys] = y1
			y[b+2*ys] = y2
			y[b+3*ys] = y3
		}
	}
}

// wino4Scatter writes the h×w plane dst from the output tiles in the
// columns of y (element (r, k) of tile ty·tw + tx at y[(4r+k)·ys + ty·tw +
// tx]), keeping of a partial last row or column of tiles only the part
// inside the plane.
func wino4Scatter(y []float32, ys, h, w int, dst []float32) {
	th, tw := (h+3)/4, (w+3)/4
	dst = dst[:h*w]
	_ = y[15*ys+th*tw-1]
	for ty := 0; ty < th; ty++ {
		rows := min(4, h-4*ty)
		for tx := 0; tx < tw; tx++ {
			o := ty*tw + tx
			x0 := 4 * tx
			if x0+4 <= w {
				for r := 0; r < rows; r++ {
					q := (*[4]float32)(dst[(4*ty+r)*w+x0:])
					b := 4*r*ys + o
					q[0], q[1], q[2], q[3] = y[b], y[b+ys], y[b+2*ys], y[b+3*ys]
				}
				continue
			}
			for r := 0; r < rows; r++ {
				for k := 0; k < w-x0; k++ {
					dst[(4*ty+r)*w+x0+k] = y[(4*r+k)*ys+o]
				}
			}
		}
	}
}

// wino4Batch is winoBatch on F(4×4,3×3): images 0..nimg−1, the h×w planes
// in(i, c) (c < cin) with the transformed filters u ([36][cout][cin],
// wino4Filter), overwriting the h×w planes out(i, c) (c < cout). The
// transforms run channel by channel over the tiles of all the batch's
// images (wino4InCols, wino4OutCols: whole vectors, whatever the plane
// size), through windows gathered into the columns of a 36-row matrix and
// output tiles scattered from a 16-row one.
func wino4Batch(t cpu.Tier, buf *winoBuf, nimg, cin, cout, h, w int, u []float32, in, out func(i, c int) []float32) {
	th, tw := (h+3)/4, (w+3)/4
	tiles := th * tw
	cols := nimg * tiles
	ld := padLD(cols + 16) // ≥ 15 columns of slack for the transforms' whole vectors
	vs, ms := cin*ld+16, cout*ld+16
	buf.v = grow(buf.v, 36*vs)
	buf.m = grow(buf.m, 36*ms)
	buf.y = grow(buf.y, 36*ld)
	buf.wino4PadFor(h, w)
	d := buf.y[:36*ld]
	for c := 0; c < cin; c++ {
		for i := 0; i < nimg; i++ {
			wino4Gather(t, in(i, c), h, w, buf.pad4, d[i*tiles:], ld)
		}
		wino4InCols(t, d, ld, cols, buf.v[c*ld:], vs)
	}
	for xi := 0; xi < 36; xi++ {
		sgemm(t, 1, false, false, cout, cols, cin, 1, u[xi*cout*cin:], cin, buf.v[xi*vs:], ld, 0, buf.m[xi*ms:], ld)
	}
	y := buf.y[:16*ld]
	for c := 0; c < cout; c++ {
		wino4OutCols(t, buf.m[c*ld:], ms, cols, y, ld)
		for i := 0; i < nimg; i++ {
			wino4Scatter(y[i*tiles:], ld, h, w, out(i, c))
		}
	}
}

// wino4Conv is winoConv on F(4×4,3×3), with filters u from wino4Filter.
func wino4Conv(n, cin, cout, h, w int, src, u, dst []float32) {
	bsz := max(1, min(n, wino4Cols/(((h+3)/4)*((w+3)/4))))
	winoBatches(wino4Batch, bsz, n, cin, cout, h, w, src, u, dst)
}
