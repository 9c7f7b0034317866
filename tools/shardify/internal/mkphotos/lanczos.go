package main

import (
	"fmt"
	"math"

	"github.com/pairflow/pairflow/ops"
)

// This file is the photo set's resampler: Pillow's antialiased Lanczos-3 in
// fixed point, so that the benchmark photos match the ones the PyTorch
// peer's photo script makes with PIL. pairflow itself resamples with
// ops.Resample only; this one serves the benchmark data and nothing else.

// Filter is a resampling kernel: K(x) for |x| < Support, 0 outside.
type Filter struct {
	Name    string
	Support float64
	K       func(x float64) float64
}

// Lanczos3 is the windowed sinc with three lobes (PIL's LANCZOS).
var Lanczos3 = Filter{"lanczos3", 3, func(x float64) float64 {
	x = math.Abs(x)
	if x >= 3 {
		return 0
	}
	return sinc(x) * sinc(x/3)
}}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// precision is the number of fractional bits of the fixed-point weights.
// Sums stay inside int32: 255 × (sum of |weights| < 2) × 2^14 < 2^23.
const precision = 14

// plan holds the fixed-point weights of one axis: output sample i reads
// input samples start[i] .. start[i]+n[i]-1 with weights w[off[i]:].
type plan struct {
	start, n, off []int32
	w             []int32
}

// makePlan computes weights to resample in samples to out samples. When
// downscaling, the kernel is stretched by the scale factor so every input
// sample contributes (antialiasing), as Pillow does.
func makePlan(in, out int, f Filter) plan {
	scale := float64(in) / float64(out)
	fs := max(scale, 1)
	support := f.Support * fs
	p := plan{start: make([]int32, out), n: make([]int32, out), off: make([]int32, out)}
	ws := make([]float64, 0, int(2*support)+3)
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		ws = ws[:0]
		var sum float64
		for j := lo; j < hi; j++ {
			w := f.K((float64(j) - center + 0.5) / fs)
			ws = append(ws, w)
			sum += w
		}
		p.start[i], p.n[i], p.off[i] = int32(lo), int32(hi-lo), int32(len(p.w))
		// Fixed point, rounded so the integer weights sum to exactly 1<<precision.
		var acc int32
		for k, w := range ws {
			q := int32(math.Round(w / sum * (1 << precision)))
			if k == len(ws)-1 {
				q = 1<<precision - acc
			}
			acc += q
			p.w = append(p.w, q)
		}
	}
	return p
}

func clamp8(v int32) uint8 {
	v = (v + 1<<(precision-1)) >> precision
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// Resize resamples src to w×h with filter f into dst (reshaped; may be nil)
// and returns it. Horizontal pass first into a uint8 buffer, then vertical,
// with 14-bit fixed-point weights: the result is the same on every machine.
func Resize(dst, src *ops.Image, w, h int, f Filter) (*ops.Image, error) {
	if err := src.Validate(); err != nil {
		return nil, err
	}
	if w < 1 || h < 1 || w > ops.MaxSide || h > ops.MaxSide || src.W < 1 || src.H < 1 {
		return nil, fmt.Errorf("mkphotos: resize %dx%d to %dx%d out of bounds", src.W, src.H, w, h)
	}
	if dst == nil {
		dst = &ops.Image{}
	}
	c := src.C
	// Horizontal: src.H rows of w samples.
	tmp := ops.NewImage(w, src.H, c)
	if w == src.W {
		for y := 0; y < src.H; y++ {
			copy(tmp.Row(y), src.Row(y))
		}
	} else {
		px := makePlan(src.W, w, f)
		for y := 0; y < src.H; y++ {
			in, out := src.Row(y), tmp.Row(y)
			for x := 0; x < w; x++ {
				s, n := int(px.start[x]), int(px.n[x])
				ws := px.w[px.off[x] : int(px.off[x])+n]
				if c == 3 {
					seg := in[s*3 : (s+n)*3]
					var r, g, b int32
					for k, wk := range ws {
						p := seg[k*3 : k*3+3 : k*3+3]
						r += wk * int32(p[0])
						g += wk * int32(p[1])
						b += wk * int32(p[2])
					}
					o := out[x*3 : x*3+3 : x*3+3]
					o[0], o[1], o[2] = clamp8(r), clamp8(g), clamp8(b)
					continue
				}
				for ch := 0; ch < c; ch++ {
					var acc int32
					for k, wk := range ws {
						acc += wk * int32(in[(s+k)*c+ch])
					}
					out[x*c+ch] = clamp8(acc)
				}
			}
		}
	}
	dst.Reshape(w, h, c)
	if h == src.H {
		copy(dst.Pix, tmp.Pix)
		return dst, nil
	}
	py := makePlan(src.H, h, f)
	acc := make([]int32, w*c)
	for y := 0; y < h; y++ {
		s, n, ws := int(py.start[y]), int(py.n[y]), py.w[py.off[y]:]
		clear(acc)
		for k := 0; k < n; k++ {
			wk := ws[k]
			row := tmp.Row(s + k)
			row = row[:len(acc)]
			for i, v := range row {
				acc[i] += wk * int32(v)
			}
		}
		out := dst.Row(y)
		for i, v := range acc {
			out[i] = clamp8(v)
		}
	}
	return dst, nil
}
