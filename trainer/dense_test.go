package trainer

import (
	"errors"
	"testing"

	"gorgonia.org/tensor"
)

func TestDenseInterchange(t *testing.T) {
	x := randTensor[float32](NewRNG(1), 2, 3, 4, 4)
	d := ToDense(x)
	if !sameShape(d.Shape(), x.Shape) {
		t.Fatalf("shape %v", d.Shape())
	}
	x.Data[5] = 42 // shared, not copied
	if v, _ := d.At(0, 0, 1, 1); v.(float32) != 42 {
		t.Errorf("Dense does not share data: %v", v)
	}
	back, err := FromDense(d)
	if err != nil || &back.Data[0] != &x.Data[0] || !sameShape(back.Shape, x.Shape) {
		t.Fatalf("FromDense: %v", err)
	}
	if _, err := FromDense(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2}))); !errors.Is(err, ErrShape) {
		t.Errorf("float64 dense: %v", err)
	}
}
