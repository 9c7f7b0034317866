package trainer

import (
	"fmt"

	"gorgonia.org/tensor"
)

// ToDense wraps t as a gorgonia.org/tensor Dense for interchange at the API
// edge. The Dense shares t's data: no copy is made.
func ToDense(t Tensor[float32]) *tensor.Dense {
	return tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.Data[:t.Len()]))
}

// FromDense views a float32 Dense as a Tensor, sharing its data. It fails
// with ErrShape for another dtype or a non-contiguous view.
func FromDense(d *tensor.Dense) (Tensor[float32], error) {
	if d.Dtype() != tensor.Float32 {
		return Tensor[float32]{}, fmt.Errorf("trainer: dense tensor of %v, want float32: %w", d.Dtype(), ErrShape)
	}
	if d.RequiresIterator() {
		return Tensor[float32]{}, fmt.Errorf("trainer: dense tensor is a non-contiguous view: %w", ErrShape)
	}
	data := d.Data().([]float32)
	shape := append([]int(nil), d.Shape()...)
	if numel(shape) != len(data) {
		return Tensor[float32]{}, fmt.Errorf("trainer: dense shape %v with %d values: %w", shape, len(data), ErrShape)
	}
	return Tensor[float32]{Data: data, Shape: shape}, nil
}
