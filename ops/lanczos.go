package ops

import "math"

// This file is Resample's Lanczos-3 filter: Pillow's antialiased Lanczos-3
// (PIL's Image.resize with LANCZOS) in 14-bit fixed point, moved verbatim
// from the benchmark-photo program so that its photos keep matching the
// ones the PyTorch peer makes with PIL. It is plain Go on every tier.

// lanczos3 is the windowed sinc with three lobes: K(x) for |x| < 3.
func lanczos3(x float64) float64 {
	x = math.Abs(x)
	if x >= 3 {
		return 0
	}
	return sinc(x) * sinc(x/3)
}

// lanczosSupport is lanczos3's half-width in input samples at scale 1.
const lanczosSupport = 3

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// lanczosPrecision is the number of fractional bits of the fixed-point
// weights. Sums stay inside int32: 255 × (sum of |weights| < 2) × 2^14 < 2^23.
const lanczosPrecision = 14

// lanczosPlan holds the fixed-point weights of one axis: output sample i
// reads input samples start[i] .. start[i]+n[i]-1 with weights w[off[i]:].
type lanczosPlan struct {
	start, n, off []int32
	w             []int32
}

// makeLanczosPlan computes weights to resample in samples to out samples.
// When downscaling, the kernel is stretched by the scale factor so every
// input sample contributes (antialiasing), as Pillow does.
func makeLanczosPlan(in, out int) lanczosPlan {
	scale := float64(in) / float64(out)
	fs := max(scale, 1)
	support := lanczosSupport * fs
	p := lanczosPlan{start: make([]int32, out), n: make([]int32, out), off: make([]int32, out)}
	ws := make([]float64, 0, int(2*support)+3)
	for i := range out {
		center := (float64(i) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		ws = ws[:0]
		var sum float64
		for j := lo; j < hi; j++ {
			w := lanczos3((float64(j) - center + 0.5) / fs)
			ws = append(ws, w)
			sum += w
		}
		p.start[i], p.n[i], p.off[i] = int32(lo), int32(hi-lo), int32(len(p.w))
		// Fixed point, rounded so the integer weights sum to exactly 1<<lanczosPrecision.
		var acc int32
		for k, w := range ws {
			q := int32(math.Round(w / sum * (1 << lanczosPrecision)))
			if k == len(ws)-1 {
				q = 1<<lanczosPrecision - acc
			}
			acc += q
			p.w = append(p.w, q)
		}
	}
	return p
}

func lanczosClamp8(v int32) uint8 {
	v = (v + 1<<(lanczosPrecision-1)) >> lanczosPrecision
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resampleLanczos3 resamples src into dst, already reshaped to its output
// size with src's channels. Horizontal pass first into a uint8 buffer, then
// vertical, with 14-bit fixed-point weights: the result is the same on
// every machine.
func resampleLanczos3(dst, src *Image) {
	w, h, c := dst.W, dst.H, src.C
	// Horizontal: src.H rows of w samples.
	tmp := NewImage(w, src.H, c)
	if w == src.W {
		for y := 0; y < src.H; y++ {
			copy(tmp.Row(y), src.Row(y))
		}
	} else {
		px := makeLanczosPlan(src.W, w)
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
					o[0], o[1], o[2] = lanczosClamp8(r), lanczosClamp8(g), lanczosClamp8(b)
					continue
				}
				for ch := 0; ch < c; ch++ {
					var acc int32
					for k, wk := range ws {
						acc += wk * int32(in[(s+k)*c+ch])
					}
					out[x*c+ch] = lanczosClamp8(acc)
				}
			}
		}
	}
	if h == src.H {
		for y := 0; y < h; y++ {
			copy(dst.Row(y), tmp.Row(y))
		}
		return
	}
	py := makeLanczosPlan(src.H, h)
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
			out[i] = lanczosClamp8(v)
		}
	}
}
