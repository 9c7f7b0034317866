package ops

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// Per-op benchmarks of the geometry ops and the conversion, per tier, at
// 32×32 and 224×224 outputs. b.SetBytes is the number of OUTPUT PIXELS, so
// the MB/s column reads as MPix/s.
//
//	go test ./ops -run '^$' -bench 'Geometry' -benchtime 200ms

type geoBenchCase struct {
	name   string
	side   int
	src    *Image
	run    func(s *Scratch, src *Image) *Image
	noTier bool // no fast path: run once, on the generic tier
}

// benchPhoto returns the golden photo224 resized by NewResize(h, w) into an
// image of its own: the large sources of the benchmarks.
func benchPhoto(ins map[string]*Image, h, w int) *Image {
	var s Scratch
	var p Params
	r, _ := NewResize(h, w)
	out, _ := r.Apply(&s, ins["photo224"], nil, &p)
	img := NewImage(out.W, out.H, 3)
	copyImage(img, out)
	return img
}

func geoBenchCases(b *testing.B) []geoBenchCase {
	_, _, ins := geoLoadGoldens(b)
	var s Scratch
	src400 := benchPhoto(ins, 350, 400) // a 400×350 photo
	src672 := benchPhoto(ins, 672, 672)
	src28 := NewImage(28, 28, 3)
	grayToRGB(src28, ins["gray28"])
	var cs []geoBenchCase
	for _, side := range []int{32, 224} {
		side := side
		src := src28
		box := Box{2, 3, 20, 22} // RRC-like upscale, as in setting A
		if side == 224 {
			src, box = src400, Box{50, 40, 300, 280}
		}
		cs = append(cs, geoBenchCase{name: "resized_crop", side: side, src: src, run: func(s *Scratch, src *Image) *Image {
			out, _ := ResizedCrop(s, src, box, side, side, 0)
			return out
		}})
		if side == 32 {
			gray := ins["gray28"]
			cs = append(cs, geoBenchCase{name: "resized_crop_gray", side: 28, src: gray, run: func(s *Scratch, src *Image) *Image {
				out, _ := ResizedCrop(s, src, Box{2, 3, 20, 22}, 28, 28, 0) // fmnist-simclr-v1-like
				return out
			}})
		}
		if side == 224 {
			cs = append(cs, geoBenchCase{name: "resize_3x_down", side: side, src: src672, run: func(s *Scratch, src *Image) *Image {
				out, _ := ResizedCrop(s, src, Box{0, 0, 672, 672}, 224, 224, 0)
				return out
			}})
		}
		sq := NewImage(side, side, 3)
		copyImage(sq, func() *Image { o, _ := ResizedCrop(&s, src400, Box{0, 0, 350, 350}, side, side, 0); return o }())
		cs = append(cs,
			geoBenchCase{name: "hflip", side: side, src: sq, noTier: true, run: func(s *Scratch, src *Image) *Image { FlipH(src); return src }},
			geoBenchCase{name: "rot90", side: side, src: sq, noTier: true, run: func(s *Scratch, src *Image) *Image {
				out := s.Image(src.H, src.W, 3)
				Rot90(out, src, 1)
				return out
			}},
			geoBenchCase{name: "rotate", side: side, src: sq, noTier: true, run: func(s *Scratch, src *Image) *Image {
				out := s.Image(src.W, src.H, 3)
				Rotate(out, src, 17.5, 0)
				return out
			}},
		)
		dst := make([]float32, side*side*3)
		mean, std := []float32{0.485, 0.456, 0.406}, []float32{0.229, 0.224, 0.225}
		cs = append(cs, geoBenchCase{name: "convert_f32_norm", side: side, src: sq, run: func(s *Scratch, src *Image) *Image {
			ToFloat32CHW(dst, src, mean, std)
			return src
		}}, geoBenchCase{name: "convert_f32_01", side: side, src: sq, run: func(s *Scratch, src *Image) *Image {
			ToFloat32CHW(dst, src, nil, nil)
			return src
		}})
	}
	return cs
}

func BenchmarkGeometry(b *testing.B) {
	for _, c := range geoBenchCases(b) {
		for _, tr := range cpu.Tiers() {
			if c.noTier && tr != cpu.Generic {
				continue
			}
			b.Run(fmt.Sprintf("%s/%d/%v", c.name, c.side, tr), func(b *testing.B) {
				restore := setTier(tr)
				defer restore()
				var s Scratch
				c.run(&s, c.src) // warm plans
				b.SetBytes(int64(c.side * c.side))
				b.ReportAllocs()
				cpu0 := geoCPUSeconds()
				for b.Loop() {
					c.run(&s, c.src)
				}
				if d := geoCPUSeconds() - cpu0; d > 0 {
					b.ReportMetric(float64(b.N*c.side*c.side)/1e6/d, "MPix/cpu_s")
				}
			})
		}
	}
}

// BenchmarkRecipe runs shipped presets through the public Recipe API: two
// views per source image, each converted into a float32 buffer, reporting
// source images per second on one goroutine (one core), by wall time and by
// the process's CPU time (src_img/cpu_s: the per-core rate on a shared
// machine).
//
//	go test ./ops -run '^$' -bench 'Recipe' -benchtime 2s
func BenchmarkRecipe(b *testing.B) {
	_, _, ins := geoLoadGoldens(b)
	src400 := benchPhoto(ins, 350, 400)
	src28x3 := NewImage(28, 28, 3) // setting A: Fashion-MNIST tiled to 3 channels
	grayToRGB(src28x3, ins["gray28"])
	for _, c := range []struct {
		preset string
		src    *Image
	}{
		{"torchvision-a", src28x3},
		{"simclr-small", src28x3},
		{"fmnist-simclr-v1", ins["gray28"]},
		{"inpainting-fmnist", ins["gray28"]},
		{"simclr-imagenet", src400},
	} {
		for _, tr := range cpu.Tiers() {
			b.Run(fmt.Sprintf("%s/%v", c.preset, tr), func(b *testing.B) {
				rc, err := Preset(c.preset)
				if err != nil {
					if strings.Contains(err.Error(), "unknown op") {
						b.Skipf("needs an op not registered yet: %v", err)
					}
					b.Fatal(err)
				}
				restore := setTier(tr)
				defer restore()
				w, h, ch := rc.ViewShape(c.src.W, c.src.H)
				v1, v2 := make([]float32, w*h*ch), make([]float32, w*h*ch)
				var s Scratch
				var p1, p2 Params
				var r1, r2 Rand // outside the loop: &r1 escapes through the Op interface
				i := uint64(0)
				b.ReportAllocs()
				cpu0 := geoCPUSeconds()
				for b.Loop() {
					r1 = NewRand(1, 0, i, 0)
					r2 = NewRand(1, 0, i, 1)
					i++
					if err := rc.ApplyFloat32(&s, c.src, &r1, &p1, v1); err != nil {
						b.Fatal(err)
					}
					if err := rc.ApplyFloat32(&s, c.src, &r2, &p2, v2); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "src_img/s")
				if d := geoCPUSeconds() - cpu0; d > 0 {
					b.ReportMetric(float64(b.N)/d, "src_img/cpu_s")
				}
			})
		}
	}
}
