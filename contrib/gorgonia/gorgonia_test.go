package gorgonia

import (
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/trainer"
	"gorgonia.org/tensor"
)

func TestTrainerInterchange(t *testing.T) {
	x := trainer.NewTensor[float32](2, 3, 4, 4)
	for i := range x.Data {
		x.Data[i] = float32(i) * 0.5
	}
	d := FromTrainer(x)
	if !slices.Equal(d.Shape(), tensor.Shape(x.Shape)) {
		t.Fatalf("shape %v", d.Shape())
	}
	x.Data[5] = 42 // shared, not copied
	if v, _ := d.At(0, 0, 1, 1); v.(float32) != 42 {
		t.Errorf("Dense does not share data: %v", v)
	}
	back, err := ToTrainer(d)
	if err != nil || &back.Data[0] != &x.Data[0] || !slices.Equal(back.Shape, x.Shape) {
		t.Fatalf("ToTrainer: %v", err)
	}
	_, err = ToTrainer(tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2})))
	if !errors.Is(err, ErrShape) || !errors.Is(err, trainer.ErrShape) {
		t.Errorf("float64 dense: %v", err)
	}
	view, err := d.Slice(nil, tensor.S(1, 3)) // a strided view
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToTrainer(view.(*tensor.Dense)); !errors.Is(err, ErrShape) {
		t.Errorf("non-contiguous view: %v", err)
	}
}

// TestBatchInterchange fills a batch from Dense tensors with SetRow and
// reads its image columns back as Dense tensors with FromColumn.
func TestBatchInterchange(t *testing.T) {
	for _, dt := range []arrowpair.DType{arrowpair.Float32, arrowpair.Uint8} {
		t.Run(dt.String(), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			l := arrowpair.Layout{Kind: arrowpair.Eval, DType: dt, Shapes: []arrowpair.Shape{{H: 2, W: 3, C: 1}}}
			b, err := arrowpair.NewBatchBuilder(mem, l, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Release()
			dense := func(r int) *tensor.Dense {
				if dt == arrowpair.Float32 {
					v := make([]float32, 6)
					for j := range v {
						v[j] = float32(10*r+j) / 4
					}
					return tensor.New(tensor.WithShape(1, 2, 3), tensor.WithBacking(v))
				}
				v := make([]uint8, 6)
				for j := range v {
					v[j] = uint8(10*r + j)
				}
				return tensor.New(tensor.WithShape(2, 3, 1), tensor.WithBacking(v))
			}
			for r := range 3 {
				i, err := b.Append(&arrowpair.Row{SampleID: uint64(r), Params: []*ops.Params{nil}})
				if err != nil {
					t.Fatal(err)
				}
				if err := SetRow(b, 0, i, dense(r)); err != nil {
					t.Fatal(err)
				}
			}
			// Wrong dtype and wrong size are refused.
			wrong := tensor.New(tensor.WithShape(6), tensor.WithBacking([]float64{1, 2, 3, 4, 5, 6}))
			if err := SetRow(b, 0, 0, wrong); !errors.Is(err, ErrShape) {
				t.Errorf("float64 row: %v", err)
			}
			short := dense(0)
			short.Reshape(6)
			short2, _ := short.Slice(tensor.S(0, 5))
			if err := SetRow(b, 0, 0, short2.(*tensor.Dense).Materialize().(*tensor.Dense)); !errors.Is(err, ErrShape) {
				t.Errorf("short row: %v", err)
			}
			if err := SetRow(b, 0, 0, dense(0)); err != nil { // rewrite row 0 after the failed attempt
				t.Fatal(err)
			}
			rec, err := b.NewRecordBatch()
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Release()
			rb, err := arrowpair.ReadBatch(rec)
			if err != nil {
				t.Fatal(err)
			}
			col, err := rb.Tensors("view")
			if err != nil {
				t.Fatal(err)
			}
			got := FromColumn(col, 1, 3)
			wantShape := tensor.Shape{2, 2, 3, 1}
			if dt == arrowpair.Float32 {
				wantShape = tensor.Shape{2, 1, 2, 3}
			}
			if !got.Shape().Eq(wantShape) {
				t.Fatalf("FromColumn shape %v, want %v", got.Shape(), wantShape)
			}
			for r := 1; r < 3; r++ {
				want := dense(r)
				switch v := got.Data().(type) {
				case []float32:
					if !slices.Equal(v[(r-1)*6:r*6], want.Data().([]float32)) {
						t.Errorf("row %d: %v", r, v[(r-1)*6:r*6])
					}
				case []uint8:
					if !slices.Equal(v[(r-1)*6:r*6], want.Data().([]uint8)) {
						t.Errorf("row %d: %v", r, v[(r-1)*6:r*6])
					}
				}
			}
		})
	}
}
