//go:build amd64 && !purego && !noasm

package kern

import "github.com/pairflow/pairflow/internal/cpu"

// winoInTile is winoInTileGo, on AVX2 or AVX-512 where the tier allows (see
// winoInAVX2 for what it reads and writes past each row; winoInAVX512 stays
// inside both). The results are bit-identical: all do the same additions in
// the same order. The AVX-512 body runs rows of more than 8 tiles: it ran
// 1.07–1.25× the AVX2 body's speed on Zen 4 on rows of 9 to 32 tiles, and
// 0.54–0.60× on 7 and 8, where most of its lanes are masked off
// (BenchmarkBodies).
func winoInTile(t cpu.Tier, p []float32, pw, th, tw int, dst []float32, xs int) {
	if t < cpu.AVX2 || th == 0 || tw == 0 {
		winoInTileGo(p, pw, th, tw, dst, xs)
		return
	}
	r8 := (tw + 7) &^ 7
	// Bounds the assembly relies on: the last vectors it reads and writes.
	_ = p[(2*th+1)*pw+2*r8+1]
	_ = dst[15*xs+(th-1)*tw+r8-1]
	if t >= cpu.AVX512 && tw > 8 {
		winoInAVX512(&p[0], pw, th, tw, &dst[0], xs)
		return
	}
	winoInAVX2(&p[0], pw, th, tw, &dst[0], xs)
}

// winoOutTile is winoOutTileGo, on AVX2 or AVX-512 where the tier allows
// (see winoOutAVX2, winoOutAVX512); bit-identical. The AVX-512 body runs rows
// of 16 tiles or more: on Zen 4, where a zmm operation costs two ymm ones,
// it ran 1.02–1.04× (16 tiles) and 0.99–1.06× (32) the AVX2 body's speed
// but 0.91–0.97× on 9 to 15, where its masked tail does more work than
// AVX2's two whole vectors, and 0.50× on 7 and 8 (BenchmarkBodies).
func winoOutTile(t cpu.Tier, m []float32, ms, th, tw int, y []float32, yw int) {
	if t < cpu.AVX2 || th == 0 || tw == 0 {
		winoOutTileGo(m, ms, th, tw, y, yw)
		return
	}
	r8 := (tw + 7) &^ 7
	if yw < 2*r8 {
		panic("kern: winoOutTile: output rows too short for whole vectors")
	}
	_ = m[15*ms+(th-1)*tw+r8-1]
	_ = y[(2*th-1)*yw+2*r8-1]
	if t >= cpu.AVX512 && tw >= 16 {
		winoOutAVX512(&m[0], ms, th, tw, &y[0], yw)
		return
	}
	winoOutAVX2(&m[0], ms, th, tw, &y[0], yw)
}

// winoOutDense is winoOutput's fast case: on AVX2, for planes of at most 8
// tiles per row, it writes the output tiles of an h×w plane to y with rows
// w apart, so that they form the plane itself (rows 0..h−1), and reports
// true. Each row of tiles is one vector per output row, stored in order:
// what a store writes past its row's end lands on rows stored after it.
// y needs (2⌈h/2⌉−1)·w + 16 elements.
func winoOutDense(t cpu.Tier, m []float32, ms, h, w int, y []float32) bool {
	th, tw := (h+1)/2, (w+1)/2
	if t < cpu.AVX2 || tw > 8 {
		return false
	}
	_ = m[15*ms+(th-1)*tw+7]
	_ = y[(2*th-1)*w+15]
	winoOutAVX2(&m[0], ms, th, tw, &y[0], w)
	return true
}

// winoGradOutTile is winoGradOutTileGo, on AVX2 where the tier allows (see
// winoGradOutAVX2 for what it reads and writes past the last tile);
// bit-identical.
func winoGradOutTile(t cpu.Tier, r0, r1 []float32, n int, dst []float32, xs int) {
	if t < cpu.AVX2 || n == 0 {
		winoGradOutTileGo(r0, r1, n, dst, xs)
		return
	}
	n8 := (n + 7) &^ 7
	_ = r0[2*n8-1]
	_ = r1[2*n8-1]
	_ = dst[15*xs+n8-1]
	if t >= cpu.AVX512 && gradOutZMM {
		winoGradOutAVX512(&r0[0], &r1[0], n, &dst[0], xs)
		return
	}
	winoGradOutAVX2(&r0[0], &r1[0], n, &dst[0], xs)
}
