package ops

import (
	"bytes"
	"errors"
	"testing"
)

// TestResampleMatchesResize checks that Resample gives the Resize op's
// bytes (the recipes' resampler), also from a sub-image, and refuses bad
// sizes.
func TestResampleMatchesResize(t *testing.T) {
	src := NewImage(50, 37, 3)
	for i := range src.Pix {
		src.Pix[i] = uint8(i*7 + i/11)
	}
	var s Scratch
	for _, sz := range [][2]int{{17, 13}, {50, 37}, {80, 61}, {1, 1}} {
		op, err := NewResize(sz[1], sz[0])
		if err != nil {
			t.Fatal(err)
		}
		var p Params
		want, err := op.Apply(&s, src, nil, &p)
		if err != nil {
			t.Fatal(err)
		}
		wantPix := append([]uint8(nil), want.Pix...)
		var got Image
		if err := Resample(&s, &got, src, sz[0], sz[1]); err != nil {
			t.Fatal(err)
		}
		if got.W != sz[0] || got.H != sz[1] || got.C != 3 || !bytes.Equal(got.Pix, wantPix) {
			t.Errorf("%v: Resample differs from the Resize op", sz)
		}
	}
	sub := src.Sub(3, 4, 20, 18)
	tight := NewImage(20, 18, 3)
	for y := range 18 {
		copy(tight.Row(y), sub.Row(y))
	}
	var a, b Image
	if Resample(&s, &a, &sub, 9, 7) != nil || Resample(&s, &b, tight, 9, 7) != nil || !bytes.Equal(a.Pix, b.Pix) {
		t.Error("a sub-image resamples differently from its tight copy")
	}
	var d Image
	for _, sz := range [][2]int{{0, 5}, {5, -1}, {MaxSide + 1, 1}} {
		if err := Resample(&s, &d, src, sz[0], sz[1]); !errors.Is(err, ErrParam) {
			t.Errorf("size %v: %v, want ErrParam", sz, err)
		}
	}
	if err := Resample(&s, &d, &Image{C: 3}, 4, 4); err == nil {
		t.Error("empty source accepted")
	}
}
