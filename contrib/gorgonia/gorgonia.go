// Package gorgonia converts between pairflow's tensors and gorgonia.org/tensor
// Dense tensors, sharing memory: a batch's image column or a trainer tensor
// becomes a Dense without a copy, and a float32 Dense becomes a trainer
// tensor. Its one job is that interchange; it is its own Go module so that
// gorgonia and its dependencies (an old Arrow module, protobuf, gRPC) stay
// out of pairflow's main module.
package gorgonia

import (
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/trainer"
	"gorgonia.org/tensor"
)

// ErrShape: a Dense has another dtype, is a non-contiguous view, or does not
// hold as many values as its shape says. Errors wrap it and, for trainer
// tensors, trainer.ErrShape too.
var ErrShape = errors.New("gorgonia: tensor of the wrong dtype or shape")

// FromTrainer wraps t as a Dense for interchange at the API edge. The Dense
// shares t's data: no copy is made.
func FromTrainer(t trainer.Tensor[float32]) *tensor.Dense {
	return tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(t.Data[:t.Len()]))
}

// ToTrainer views a float32 Dense as a trainer tensor, sharing its data. It
// fails with ErrShape (and trainer.ErrShape) for another dtype or a
// non-contiguous view.
func ToTrainer(d *tensor.Dense) (trainer.Tensor[float32], error) {
	if d.Dtype() != tensor.Float32 {
		return trainer.Tensor[float32]{}, fmt.Errorf("%w: dense tensor of %v, want float32: %w", ErrShape, d.Dtype(), trainer.ErrShape)
	}
	if d.RequiresIterator() {
		return trainer.Tensor[float32]{}, fmt.Errorf("%w: dense tensor is a non-contiguous view: %w", ErrShape, trainer.ErrShape)
	}
	data := d.Data().([]float32)
	shape := append([]int(nil), d.Shape()...)
	if numel(shape) != len(data) {
		return trainer.Tensor[float32]{}, fmt.Errorf("%w: dense shape %v with %d values: %w", ErrShape, shape, len(data), trainer.ErrShape)
	}
	return trainer.Tensor[float32]{Data: data, Shape: shape}, nil
}

// FromColumn returns rows lo..hi−1 of a batch's image column (see
// arrowpair.Batch.Tensors) as one Dense of shape [hi−lo, tensor shape...]
// (float32 C×H×W or uint8 H×W×C, as the column holds), sharing the batch's
// memory: it is valid while the batch is retained and must not be written.
// It panics when the range is out of the column, as TensorColumn does.
func FromColumn(col arrowpair.TensorColumn, lo, hi int) *tensor.Dense {
	shape := []int{hi - lo}
	for _, s := range col.Type.Shape() {
		shape = append(shape, int(s))
	}
	if col.Type.ValueType().ID() == arrow.FLOAT32 {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(col.Float32Rows(lo, hi)))
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(col.Uint8Rows(lo, hi)))
}

// SetRow copies d into tensor column t of row row of b (see
// arrowpair.BatchBuilder.SetFloat32 and SetUint8). d must hold the column's
// dtype, contiguously, and exactly the column's number of values; otherwise
// SetRow fails with ErrShape.
func SetRow(b *arrowpair.BatchBuilder, t, row int, d *tensor.Dense) error {
	if d.RequiresIterator() {
		return fmt.Errorf("%w: dense tensor is a non-contiguous view", ErrShape)
	}
	names := b.Layout().TensorColumns()
	if t < 0 || t >= len(names) {
		return fmt.Errorf("%w: tensor column %d of %d", ErrShape, t, len(names))
	}
	idx := b.Schema().FieldIndices(names[t])
	want := b.Schema().Field(idx[0]).Type.(*arrowpair.FixedShapeTensorType).ValueType()
	var err error
	switch v := d.Data().(type) {
	case []float32:
		if want.ID() != arrow.FLOAT32 {
			break
		}
		if err = b.SetFloat32(t, row, v); err == nil {
			return nil
		}
	case []uint8:
		if want.ID() != arrow.UINT8 {
			break
		}
		if err = b.SetUint8(t, row, v); err == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrShape, err)
	}
	return fmt.Errorf("%w: dense tensor of %v for column %s of %s", ErrShape, d.Dtype(), names[t], want)
}

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}
