package ops

import (
	"math/rand/v2"
	"testing"
)

func TestErasingOp(t *testing.T) {
	for _, bad := range []string{
		`{"op":"random_erasing","p":2}`, `{"op":"random_erasing","scale":[0.5,0.1]}`,
		`{"op":"random_erasing","ratio":[0,1]}`, `{"op":"random_erasing","value":300}`,
		`{"op":"random_erasing","value":"noise"}`, `{"op":"random_erasing","holes":0}`,
	} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	var s Scratch
	for ci, js := range []string{
		`{"op":"random_erasing","p":1,"value":7,"holes":3}`,
		`{"op":"random_erasing","p":1,"value":"random","holes":2,"scale":[0.1,0.2]}`,
	} {
		constant := ci == 0
		op, err := Decode([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		for _, sz := range [][2]int{{64, 48}, {1, 1}, {2, 2}, {300, 3}} {
			for _, c := range []int{1, 3} {
				src := cfRandImage(rand.New(rand.NewPCG(1, 2)), sz[0], sz[1], c)
				m := NewImage(sz[0], sz[1], c)
				copy(m.Pix, src.Pix)
				r := NewRand(3, 0, 1, 0)
				var p Params
				if _, err := op.Apply(&s, m, &r, &p); err != nil || !p.Has(OpErase) {
					t.Fatal(err)
				}
				inBox := func(x, y int) bool {
					for _, b := range p.Erased {
						if x >= int(b.X) && x < int(b.X+b.W) && y >= int(b.Y) && y < int(b.Y+b.H) {
							return true
						}
					}
					return false
				}
				for _, b := range p.Erased {
					if b.X < 0 || b.Y < 0 || int(b.X+b.W) > sz[0] || int(b.Y+b.H) > sz[1] {
						t.Fatalf("box %+v outside %v", b, sz)
					}
				}
				for y := 0; y < sz[1]; y++ {
					for x := 0; x < sz[0]*c; x++ {
						i := y*m.Stride + x
						if !inBox(x/c, y) && m.Pix[i] != src.Pix[i] {
							t.Fatalf("%s %v: pixel (%d,%d) outside the boxes changed", js, sz, x/c, y)
						}
						if inBox(x/c, y) && constant && m.Pix[i] != 7 {
							t.Fatalf("%s: erased pixel %d, want 7", js, m.Pix[i])
						}
					}
				}
				if sz[0] == 64 && len(p.Erased) == 0 {
					t.Fatalf("%s: no hole on 64x48", js)
				}
			}
		}
	}
}
