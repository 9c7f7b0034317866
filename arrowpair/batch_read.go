package arrowpair

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/pairflow/pairflow/ops"
)

// TensorColumn is a zero-copy read view of an arrow.fixed_shape_tensor column
// of uint8 or float32. The slices it returns alias the column's memory: they
// are valid while the column (or its record batch) is retained, and must not
// be written.
type TensorColumn struct {
	Type  *FixedShapeTensorType
	n     int
	off   int // the storage list's offset, in rows
	elems int
	u8    []uint8
	f32   []float32
}

// Tensors returns a read view of col, which must be an arrow.fixed_shape_tensor
// array of uint8 or float32 values.
func Tensors(col arrow.Array) (TensorColumn, error) {
	ext, ok := col.(array.ExtensionArray)
	if !ok {
		return TensorColumn{}, fmt.Errorf("%w: column is %s, not %s", ErrTensorType, col.DataType(), FixedShapeTensorName)
	}
	t, ok := ext.ExtensionType().(*FixedShapeTensorType)
	if !ok {
		return TensorColumn{}, fmt.Errorf("%w: column is %s, not %s", ErrTensorType, col.DataType(), FixedShapeTensorName)
	}
	list := ext.Storage().(*array.FixedSizeList)
	c := TensorColumn{Type: t, n: list.Len(), off: list.Offset(), elems: t.NumElements()}
	switch v := list.ListValues().(type) {
	case *array.Uint8:
		c.u8 = v.Uint8Values()
	case *array.Float32:
		c.f32 = v.Float32Values()
	default:
		return TensorColumn{}, fmt.Errorf("%w: %s values are not uint8 or float32", ErrTensorType, t.ValueType())
	}
	return c, nil
}

// TensorsByName returns a read view of rec's tensor column name.
func TensorsByName(rec arrow.RecordBatch, name string) (TensorColumn, error) {
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return TensorColumn{}, fmt.Errorf("%w: %d columns named %q", ErrNotPairflow, len(idx), name)
	}
	return Tensors(rec.Column(idx[0]))
}

// Len returns the number of tensors.
func (c TensorColumn) Len() int { return c.n }

// Uint8 returns tensor i's values without copying. It panics when i is out of
// range or the column is not uint8.
func (c TensorColumn) Uint8(i int) []uint8 {
	if c.u8 == nil && c.elems > 0 {
		panic("arrowpair: Uint8 on a " + c.Type.ValueType().String() + " tensor column")
	}
	c.check(i)
	lo := (c.off + i) * c.elems
	return c.u8[lo : lo+c.elems : lo+c.elems]
}

// Float32 returns tensor i's values without copying. It panics when i is out
// of range or the column is not float32.
func (c TensorColumn) Float32(i int) []float32 {
	if c.f32 == nil && c.elems > 0 {
		panic("arrowpair: Float32 on a " + c.Type.ValueType().String() + " tensor column")
	}
	c.check(i)
	lo := (c.off + i) * c.elems
	return c.f32[lo : lo+c.elems : lo+c.elems]
}

// Uint8Rows returns tensors lo..hi−1 as one slice without copying (rows are
// contiguous in an Arrow column), for consumers that take a whole batch at
// once. It panics when the range is invalid or the column is not uint8.
func (c TensorColumn) Uint8Rows(lo, hi int) []uint8 {
	if c.u8 == nil && c.elems > 0 {
		panic("arrowpair: Uint8Rows on a " + c.Type.ValueType().String() + " tensor column")
	}
	c.checkRange(lo, hi)
	a, b := (c.off+lo)*c.elems, (c.off+hi)*c.elems
	return c.u8[a:b:b]
}

// Float32Rows returns tensors lo..hi−1 as one slice without copying. It
// panics when the range is invalid or the column is not float32.
func (c TensorColumn) Float32Rows(lo, hi int) []float32 {
	if c.f32 == nil && c.elems > 0 {
		panic("arrowpair: Float32Rows on a " + c.Type.ValueType().String() + " tensor column")
	}
	c.checkRange(lo, hi)
	a, b := (c.off+lo)*c.elems, (c.off+hi)*c.elems
	return c.f32[a:b:b]
}

func (c TensorColumn) checkRange(lo, hi int) {
	if lo < 0 || hi < lo || hi > c.n {
		panic(fmt.Sprintf("arrowpair: tensors %d..%d of %d", lo, hi, c.n))
	}
}

func (c TensorColumn) check(i int) {
	if i < 0 || i >= c.n {
		panic(fmt.Sprintf("arrowpair: tensor %d of %d", i, c.n))
	}
}

// ReadParams decodes row i of an augmentation column (AugType) into p,
// reusing p.Erased's storage: the inverse of what BatchBuilder wrote.
func ReadParams(col arrow.Array, i int, p *ops.Params) error {
	s, ok := col.(*array.Struct)
	if !ok || !arrow.TypeEqual(col.DataType(), AugType) {
		return fmt.Errorf("%w: column is %s, not the augmentation struct", ErrNotPairflow, col.DataType())
	}
	if i < 0 || i >= s.Len() {
		return fmt.Errorf("%w: row %d of %d", ErrRow, i, s.Len())
	}
	p.Reset()
	if s.IsNull(i) {
		return nil
	}
	for k := range ops.ParamFields {
		f := &ops.ParamFields[k]
		col := s.Field(k)
		if col.IsNull(i) {
			continue
		}
		p.Applied |= f.Op
		if !f.Struct() {
			readValue(&f.Values[0], col, i, p)
			continue
		}
		st := col.(*array.Struct)
		for j := range f.Values {
			readValue(&f.Values[j], st.Field(j), i, p)
		}
	}
	return nil
}

// readValue stores row i of col, a value of v's kind, into p. The column's
// type has been checked against AugType.
func readValue(v *ops.ParamValue, col arrow.Array, i int, p *ops.Params) {
	box := func(b *array.Struct, j int) ops.Box {
		return ops.Box{
			X: b.Field(0).(*array.Int32).Value(j), Y: b.Field(1).(*array.Int32).Value(j),
			W: b.Field(2).(*array.Int32).Value(j), H: b.Field(3).(*array.Int32).Value(j),
		}
	}
	switch v.Kind {
	case ops.ParamBool:
		*v.Bool(p) = col.(*array.Boolean).Value(i)
	case ops.ParamPresent:
		// the field is true whenever present
	case ops.ParamUint8:
		*v.Uint8(p) = col.(*array.Uint8).Value(i)
	case ops.ParamInt32:
		*v.Int32(p) = col.(*array.Int32).Value(i)
	case ops.ParamFloat32:
		*v.Float32(p) = col.(*array.Float32).Value(i)
	case ops.ParamBox:
		*v.Box(p) = box(col.(*array.Struct), i)
	case ops.ParamBoxes:
		l := col.(*array.List)
		boxes := l.ListValues().(*array.Struct)
		lo, hi := l.ValueOffsets(i)
		dst := v.Boxes(p)
		for j := lo; j < hi; j++ {
			*dst = append(*dst, box(boxes, int(j)))
		}
	case ops.ParamOrder:
		order := col.(*array.FixedSizeList)
		vals := order.ListValues().(*array.Uint8).Uint8Values()
		copy(v.Order(p)[:], vals[(order.Offset()+i)*4:])
	}
}
