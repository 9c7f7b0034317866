package ops

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSolarizeTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, sz := range cfSizes {
		for _, c := range []int{1, 3} {
			src := cfRandImage(rng, sz[0], sz[1], c)
			for _, th := range []uint8{0, 1, 127, 128, 254, 255} {
				got := cfTiersAgree(t, fmt.Sprintf("solarize(%d)", th), src, func(m *Image) *Image {
					cfSolarize(m, th)
					return m
				})
				for i, x := range cfTight(src) {
					want := x
					if x >= th {
						want = 255 - x
					}
					if got[i] != want {
						t.Fatalf("solarize(%d) of %d = %d", th, x, got[i])
					}
				}
			}
		}
	}
}

func TestSolarizeOp(t *testing.T) {
	for _, bad := range []string{`{"op":"random_solarize"}`, `{"op":"random_solarize","threshold":300}`, `{"op":"random_solarize","threshold":1,"p":-1}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	op, err := Decode([]byte(`{"op":"random_solarize","threshold":127.5,"p":1}`))
	if err != nil {
		t.Fatal(err)
	}
	m := NewImage(256, 1, 1)
	for i := range m.Pix {
		m.Pix[i] = uint8(i)
	}
	var p Params
	var s Scratch
	op.Apply(&s, m, &Rand{}, &p)
	if !p.Solarized || p.SolarizeThreshold != 128 || m.Pix[127] != 127 || m.Pix[128] != 127 || m.Pix[255] != 0 {
		t.Fatalf("%+v %v", p, m.Pix[126:130])
	}
}
