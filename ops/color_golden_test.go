package ops

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Goldens from torchvision's functional ops on uint8 tensors, made by
// scripts/goldens/color.py (see its doc for the file format). Every stored
// sample must match within +-1: the kernels compute torchvision's float32
// formulas in the same order, so the colour ops are mostly bit-exact; the
// blur sums its taps separably where torch runs a 2-D convolution, so a few
// samples that round near .5 land one level away.

type cfGoldenCase struct {
	Op        string
	Params    map[string]any
	Input     string
	GrayInput bool `json:"gray_input"`
	Grid      []int
	W, H, C   int
	Off, N    int
}

func cfLoadPNG(t *testing.T, path string) *Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	rgba := image.NewRGBA(b)
	draw.Draw(rgba, b, src, b.Min, draw.Src)
	m := NewImage(b.Dx(), b.Dy(), 3)
	for i := 0; i < b.Dx()*b.Dy(); i++ {
		copy(m.Pix[3*i:3*i+3], rgba.Pix[4*i:4*i+3])
	}
	return m
}

func cfLoadGoldens(t *testing.T) ([]cfGoldenCase, []byte) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "color", "goldens.bin.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	n := int(binary.LittleEndian.Uint32(data))
	var head struct{ Cases []cfGoldenCase }
	if err := json.Unmarshal(data[4:4+n], &head); err != nil {
		t.Fatal(err)
	}
	return head.Cases, data[4+n:]
}

func cfNum(v any) float64 { return v.(float64) }

func TestColorGoldens(t *testing.T) {
	cases, blob := cfLoadGoldens(t)
	inputs := map[string]*Image{}
	var s Scratch
	type stat struct{ n, diff1, maxd int }
	stats := map[string]*stat{}
	for ci, gc := range cases {
		in, ok := inputs[gc.Input]
		if !ok {
			in = cfLoadPNG(t, filepath.Join("testdata", "color", gc.Input+".png"))
			inputs[gc.Input] = in
		}
		m := NewImage(in.W, in.H, 3)
		copy(m.Pix, in.Pix)
		if gc.GrayInput {
			m = cfToGray(&s, m, 1)
			m2 := NewImage(m.W, m.H, 1)
			copy(m2.Pix, m.Pix)
			m = m2
		}
		var out *Image
		switch gc.Op {
		case "brightness", "contrast", "saturation", "hue":
			k := map[string]int{"brightness": 0, "contrast": 1, "saturation": 2, "hue": 3}[gc.Op]
			adjustColor(&s, m, k, cfNum(gc.Params["f"]))
			out = m
		case "grayscale":
			out = cfToGray(&s, m, int(cfNum(gc.Params["channels"])))
		case "blur":
			cfBlur(&s, m, int(cfNum(gc.Params["k"])), cfNum(gc.Params["sigma"]))
			out = m
		case "jitter":
			fs := gc.Params["factors"].([]any)
			for _, k := range gc.Params["order"].([]any) {
				adjustColor(&s, m, int(cfNum(k)), cfNum(fs[int(cfNum(k))]))
			}
			out = m
		case "solarize":
			cfSolarize(m, uint8(cfNum(gc.Params["threshold"])))
			out = m
		default:
			t.Fatalf("case %d: unknown op %q", ci, gc.Op)
		}
		want := blob[gc.Off : gc.Off+gc.N]
		var got []uint8
		if gc.Grid != nil {
			ox, oy, st := gc.Grid[0], gc.Grid[1], gc.Grid[2]
			for y := oy; y < out.H; y += st {
				for x := ox; x < out.W; x += st {
					got = append(got, out.Pix[y*out.Stride+x*out.C:][:out.C]...)
				}
			}
		} else {
			got = cfTight(out)
		}
		if len(got) != len(want) || out.C != gc.C {
			t.Fatalf("case %d %s %v on %s: %d samples (C=%d), golden has %d (C=%d)", ci, gc.Op, gc.Params, gc.Input, len(got), out.C, len(want), gc.C)
		}
		st := stats[gc.Op]
		if st == nil {
			st = &stat{}
			stats[gc.Op] = st
		}
		for i := range got {
			d := int(got[i]) - int(want[i])
			if d < 0 {
				d = -d
			}
			st.n++
			if d > 0 {
				st.diff1++
			}
			st.maxd = max(st.maxd, d)
			if d > 1 {
				t.Errorf("case %d %s %v on %s (gray %v): sample %d = %d, torchvision %d", ci, gc.Op, gc.Params, gc.Input, gc.GrayInput, i, got[i], want[i])
				break
			}
		}
	}
	var buf bytes.Buffer
	for _, op := range []string{"brightness", "contrast", "saturation", "hue", "grayscale", "blur", "jitter", "solarize"} {
		if st := stats[op]; st != nil {
			fmt.Fprintf(&buf, "%s: %d samples, %d off by one, max diff %d; ", op, st.n, st.diff1, st.maxd)
		}
	}
	t.Log(buf.String())
}
