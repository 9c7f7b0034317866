//go:build amd64 && !purego && !noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

// wino4InCols is wino4InColsGo, on AVX2 or AVX-512 where the tier allows:
// whole vectors of 8 or 16 tiles, so it reads d and writes x up to 15
// tiles past n in every row (the caller leaves that slack). All three are
// bit-identical: the same operations in the same order, none fused.
func wino4InCols(t cpu.Tier, d []float32, ds, n int, x []float32, xs int) {
	if t < cpu.AVX2 || n == 0 {
		wino4InColsGo(d, ds, n, x, xs)
		return
	}
	n16 := (n + 15) &^ 15
	_ = d[35*ds+n16-1]
	_ = x[35*xs+n16-1]
	if t >= cpu.AVX512 && wino4ZMM {
		wino4InColsAVX512(&d[0], ds, n, &x[0], xs)
		return
	}
	wino4InColsAVX2(&d[0], ds, n, &x[0], xs)
}

// wino4OutCols is wino4OutColsGo, on AVX2 or AVX-512 where the tier
// allows: whole vectors, up to 15 tiles past n in every row of m and y,
// and rows 6r+j (r < 4) of m are overwritten; bit-identical.
func wino4OutCols(t cpu.Tier, m []float32, ms, n int, y []float32, ys int) {
	if t < cpu.AVX2 || n == 0 {
		wino4OutColsGo(m, ms, n, y, ys)
		return
	}
	n16 := (n + 15) &^ 15
	_ = m[35*ms+n16-1]
	_ = y[15*ys+n16-1]
	if t >= cpu.AVX512 && wino4ZMM {
		wino4OutColsAVX512(&m[0], ms, n, &y[0], ys)
		return
	}
	wino4OutColsAVX2(&m[0], ms, n, &y[0], ys)
}

// wino4ZMM: the AVX-512 tier runs the AVX-512 bodies of the F(4×4,3×3)
// transforms.
var wino4ZMM = true

// setWino4ZMM sets wino4ZMM (tests) and returns the previous value.
func setWino4ZMM(on bool) bool {
	prev := wino4ZMM
	wino4ZMM = on
	return prev
}

// wino4GatherTile is wino4GatherGo, on AVX-512 where the tier allows
// (wino4GatherAVX512, which reads p up to 30 elements past a row's end:
// wino4PadLen leaves that slack after the last row); the same bytes.
func wino4GatherTile(t cpu.Tier, p []float32, pw, th, tw int, d []float32, ds int) {
	if t < cpu.AVX512 || !wino4ZMM || th == 0 || tw == 0 {
		wino4GatherGo(p, pw, th, tw, d, ds)
		return
	}
	_ = p[(4*th+1)*pw+4*((tw-1)&^7)+35]
	_ = d[35*ds+th*tw-1]
	wino4GatherAVX512(&p[0], pw, th, tw, &d[0], ds)
}

// wino4GatherOutTile is wino4GatherOutGo, on AVX-512 where the tier allows
// (wino4GatherOutAVX512, which reads p up to 28 elements past a row's 4tw:
// wino4PadLen leaves that slack after the last row); the same bytes.
func wino4GatherOutTile(t cpu.Tier, p []float32, pw, th, tw int, d []float32, ds int) {
	if t < cpu.AVX512 || !wino4ZMM || th == 0 || tw == 0 {
		wino4GatherOutGo(p, pw, th, tw, d, ds)
		return
	}
	_ = p[(4*th-1)*pw+4*((tw-1)&^7)+31]
	_ = d[15*ds+th*tw-1]
	wino4GatherOutAVX512(&p[0], pw, th, tw, &d[0], ds)
}

// wino4GradOutCols is wino4GradOutColsGo, on AVX2 or AVX-512 where the
// tier allows: whole vectors of 8 or 16 tiles, so it reads g and writes x
// up to 15 tiles past n in every row (the caller leaves that slack);
// bit-identical (the same operations in the same order).
func wino4GradOutCols(t cpu.Tier, g []float32, gs, n int, x []float32, xs int) {
	if t < cpu.AVX2 || n == 0 {
		wino4GradOutColsGo(g, gs, n, x, xs)
		return
	}
	n16 := (n + 15) &^ 15
	_ = g[15*gs+n16-1]
	_ = x[35*xs+n16-1]
	if t >= cpu.AVX512 && wino4ZMM {
		wino4GradOutColsAVX512(&g[0], gs, n, &x[0], xs)
		return
	}
	wino4GradOutColsAVX2(&g[0], gs, n, &x[0], xs)
}
