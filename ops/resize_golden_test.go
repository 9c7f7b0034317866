package ops

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/pairflow/pairflow/internal/cpu"
)

// Goldens from torchvision (scripts/goldens/geometry.py, run with Debian's
// python3-torchvision on uint8 tensors). The tolerance is ±1 intensity
// level for the resampling ops: torchvision 0.14 resamples in float32 and
// rounds, pairflow in 14-bit fixed point, so a value within ~0.05 of a .5
// boundary may round the other way. Crops, flips and quarter turns must be
// exact.

type geoGoldenCase struct {
	Op      string  `json:"op"`
	Input   string  `json:"input"`
	Top     int     `json:"top"`
	Left    int     `json:"left"`
	Height  int     `json:"height"`
	Width   int     `json:"width"`
	Size    [2]int  `json:"size"`
	K       int     `json:"k"`
	Angle   float64 `json:"angle"`
	Fill    uint8   `json:"fill"`
	Padding [4]int  `json:"padding"`
	Out     [3]int  `json:"out"`
	Offset  int     `json:"offset"`
}

func geoLoadPNG(t testing.TB, path string) *Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := im.Bounds()
	switch m := im.(type) {
	case *image.Gray:
		out := NewImage(b.Dx(), b.Dy(), 1)
		for y := 0; y < b.Dy(); y++ {
			copy(out.Row(y), m.Pix[y*m.Stride:y*m.Stride+b.Dx()])
		}
		return out
	default:
		out := NewImage(b.Dx(), b.Dy(), 3)
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				r, g, bb, _ := im.At(b.Min.X+x, b.Min.Y+y).RGBA()
				o := y*out.Stride + 3*x
				out.Pix[o], out.Pix[o+1], out.Pix[o+2] = uint8(r>>8), uint8(g>>8), uint8(bb>>8)
			}
		}
		return out
	}
}

func geoLoadGoldens(t testing.TB) ([]geoGoldenCase, []byte, map[string]*Image) {
	t.Helper()
	dir := filepath.Join("testdata", "geometry")
	js, err := os.ReadFile(filepath.Join(dir, "goldens.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Cases []geoGoldenCase `json:"cases"`
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		t.Fatal(err)
	}
	gz, err := os.ReadFile(filepath.Join(dir, "goldens.bin.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	ins := map[string]*Image{}
	for _, c := range meta.Cases {
		if ins[c.Input] == nil {
			ins[c.Input] = geoLoadPNG(t, filepath.Join(dir, "in_"+c.Input+".png"))
		}
	}
	return meta.Cases, raw, ins
}

// geoRunGolden computes one case with pairflow's ops.
func geoRunGolden(t *testing.T, s *Scratch, c geoGoldenCase, src *Image) *Image {
	t.Helper()
	var p Params
	switch c.Op {
	case "resized_crop":
		out, err := ResizedCrop(s, src, Box{int32(c.Left), int32(c.Top), int32(c.Width), int32(c.Height)}, c.Size[1], c.Size[0], 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "resize":
		op, err := NewResize(c.Size[0], c.Size[1])
		if err != nil {
			t.Fatal(err)
		}
		out, err := op.Apply(s, src, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "center_crop":
		op, err := NewCenterCrop(c.Size[0], c.Size[1], 0)
		if err != nil {
			t.Fatal(err)
		}
		out, err := op.Apply(s, src, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		return out
	case "pad_crop":
		// RandomCrop's core: the box in padded coordinates, shifted back
		// into the source, outside filled.
		out := s.Image(c.Width, c.Height, src.C)
		cropFill(out, src, c.Left-c.Padding[0], c.Top-c.Padding[1], c.Fill)
		return out
	case "hflip", "vflip":
		sub := src.Sub(c.Left, c.Top, c.Width, c.Height)
		src = &sub
		out := s.Image(src.W, src.H, src.C)
		copyImage(out, src)
		if c.Op == "hflip" {
			FlipH(out)
		} else {
			FlipV(out)
		}
		return out
	case "rot90":
		sub := src.Sub(c.Left, c.Top, c.Width, c.Height)
		src = &sub
		w, h := src.W, src.H
		if c.K%2 == 1 {
			w, h = h, w
		}
		out := s.Image(w, h, src.C)
		Rot90(out, src, c.K)
		return out
	case "rotate":
		out := s.Image(src.W, src.H, src.C)
		Rotate(out, src, c.Angle, c.Fill)
		return out
	}
	t.Fatalf("unknown golden op %q", c.Op)
	return nil
}

func TestGeometryGoldens(t *testing.T) {
	cases, raw, ins := geoLoadGoldens(t)
	if len(cases) < 190 {
		t.Fatalf("only %d golden cases", len(cases))
	}
	perOp := map[string]int{}
	for _, tr := range cpu.Tiers() {
		restore := setTier(tr)
		var s Scratch
		off1 := map[string]int{}
		for i, c := range cases {
			perOp[c.Op]++
			got := geoRunGolden(t, &s, c, ins[c.Input])
			h, w, ch := c.Out[0], c.Out[1], c.Out[2]
			if got.W != w || got.H != h || got.C != ch {
				t.Fatalf("%v case %d %+v: got %dx%dx%d, want %dx%dx%d", tr, i, c, got.W, got.H, got.C, w, h, ch)
			}
			want := raw[c.Offset : c.Offset+h*w*ch]
			tol := 1
			switch c.Op {
			case "center_crop", "pad_crop", "hflip", "vflip", "rot90":
				tol = 0
			}
			maxd, n1 := 0, 0
			for y := 0; y < h; y++ {
				row := got.Row(y)
				for x, v := range row {
					d := int(v) - int(want[y*w*ch+x])
					d = max(d, -d)
					maxd = max(maxd, d)
					if d > 0 {
						n1++
					}
				}
			}
			if maxd > tol {
				t.Errorf("%v case %d %s %+v: max diff %d > %d (%d of %d samples differ)", tr, i, c.Op, c, maxd, tol, n1, h*w*ch)
			}
			off1[c.Op] += n1
		}
		t.Logf("tier %v: samples off by 1 per op: %v", tr, off1)
		restore()
	}
	t.Logf("golden cases per op (all tiers): %v", perOp)
}

// geoFmt is a debugging aid for golden mismatches.
func geoFmt(m *Image) string { return fmt.Sprintf("%dx%dx%d", m.W, m.H, m.C) }
