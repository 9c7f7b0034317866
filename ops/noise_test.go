package ops

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestNoiseTiersAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	var s Scratch
	for _, sz := range cfSizes {
		for _, c := range []int{1, 3} {
			src := cfRandImage(rng, sz[0], sz[1], c)
			for _, sigma := range []float64{0, 0.01, 0.1, 1} {
				cfTiersAgree(t, fmt.Sprintf("noise(%v)", sigma), src, func(m *Image) *Image {
					r := NewRand(1, 2, 3, 4)
					cfAddNoise(&s, m, &r, sigma)
					return m
				})
			}
		}
	}
}

func TestNoiseStatistics(t *testing.T) {
	var s Scratch
	m := NewImage(256, 256, 3)
	for i := range m.Pix {
		m.Pix[i] = 128
	}
	r := NewRand(5, 0, 0, 0)
	sigma := 0.05 // 12.75 levels: clipping never reached from 128
	cfAddNoise(&s, m, &r, sigma)
	var sum, sq float64
	for _, v := range m.Pix {
		d := float64(v) - 128
		sum += d
		sq += d * d
	}
	n := float64(len(m.Pix))
	mean, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	// rounding adds 1/12 to the variance
	wantSD := math.Sqrt(12.75*12.75 + 1.0/12)
	if math.Abs(mean) > 0.1 || math.Abs(sd-wantSD) > 0.1 {
		t.Fatalf("noise mean %.3f sd %.3f, want 0 and %.3f", mean, sd, wantSD)
	}
}

func TestNoiseOp(t *testing.T) {
	for _, bad := range []string{`{"op":"gaussian_noise"}`, `{"op":"gaussian_noise","sigma":-0.1}`, `{"op":"gaussian_noise","sigma":[0.2,0.1]}`, `{"op":"gaussian_noise","sigma":0.1,"p":2}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	op, err := Decode([]byte(`{"op":"gaussian_noise","sigma":[0.01,0.1]}`))
	if err != nil {
		t.Fatal(err)
	}
	var s Scratch
	m := cfRandImage(rand.New(rand.NewPCG(1, 2)), 33, 9, 3)
	var p Params
	r := NewRand(1, 1, 1, 1)
	if _, err := op.Apply(&s, m, &r, &p); err != nil || !p.Has(OpNoise) || p.NoiseSigma < 0.01 || p.NoiseSigma > 0.1 {
		t.Fatalf("%v %+v", err, p)
	}
	if a := testing.AllocsPerRun(10, func() { op.Apply(&s, m, &r, &p) }); a != 0 {
		t.Errorf("noise allocates %v per call", a)
	}
}
