package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestSobelTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var s Scratch
	for _, sz := range cfSizes {
		for _, c := range []int{1, 3} {
			src := cfRandImage(rng, sz[0], sz[1], c)
			for _, outC := range []int{1, 3} {
				cfTiersAgree(t, fmt.Sprintf("sobel%d", outC), src, func(m *Image) *Image {
					return cfSobel(&s, m, outC)
				})
			}
		}
	}
}

// TestSobelNaive compares with a direct 2-D evaluation (clamped coordinates).
func TestSobelNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	var s Scratch
	for _, sz := range [][2]int{{1, 1}, {2, 3}, {19, 17}, {40, 8}} {
		m := cfRandImage(rng, sz[0], sz[1], 1)
		// Strong edges so that the clip at 255 is reached.
		for i := range m.Pix {
			if rng.IntN(3) == 0 {
				m.Pix[i] = 255 * uint8(rng.IntN(2))
			}
		}
		out := cfSobel(&s, m, 1)
		at := func(x, y int) int {
			x = min(max(x, 0), m.W-1)
			y = min(max(y, 0), m.H-1)
			return int(m.Pix[y*m.W+x])
		}
		kx := [3][3]int{{-1, 0, 1}, {-2, 0, 2}, {-1, 0, 1}}
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				gx, gy := 0, 0
				for j := -1; j <= 1; j++ {
					for i := -1; i <= 1; i++ {
						gx += kx[j+1][i+1] * at(x+i, y+j)
						gy += kx[i+1][j+1] * at(x+i, y+j)
					}
				}
				want := math.Min(255, math.RoundToEven(math.Sqrt(float64(gx*gx+gy*gy))))
				if d := math.Abs(float64(out.Pix[y*out.Stride+x]) - want); d > 0 {
					t.Fatalf("%v (%d,%d): %d want %v", sz, x, y, out.Pix[y*out.Stride+x], want)
				}
			}
		}
	}
}

func TestSobelOp(t *testing.T) {
	if _, err := Decode([]byte(`{"op":"sobel","channels":2}`)); err == nil {
		t.Error("channels 2 accepted")
	}
	op, err := Decode([]byte(`{"op":"sobel","channels":3}`))
	if err != nil {
		t.Fatal(err)
	}
	var s Scratch
	m := cfRandImage(rand.New(rand.NewPCG(1, 2)), 9, 7, 3)
	var p Params
	out, err := op.Apply(&s, m, &Rand{}, &p)
	if err != nil || out.C != 3 || out.W != 9 || !p.Has(OpSobel) {
		t.Fatalf("%v %+v", err, out)
	}
	var r Rand
	if a := testing.AllocsPerRun(10, func() { op.Apply(&s, m, &r, &p) }); a != 0 {
		t.Errorf("sobel allocates %v per call", a)
	}
}
