package arrowpair

import (
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

// checkFixture compares recs, built or read back for c, with the fixture
// formulas.
func checkFixture(t *testing.T, c fixtureCase, recs []arrow.RecordBatch) {
	t.Helper()
	if len(recs) != len(c.rows) {
		t.Fatalf("%d batches, want %d", len(recs), len(c.rows))
	}
	r := 0
	var p ops.Params
	for bi, rec := range recs {
		if int(rec.NumRows()) != c.rows[bi] {
			t.Fatalf("batch %d: %d rows, want %d", bi, rec.NumRows(), c.rows[bi])
		}
		checkRows(t, rec, len(c.layout.TensorColumns()))
		ids := rec.Column(0).(*array.Uint64)
		keys := rec.Column(1).(*array.String)
		labels := rec.Column(2).(*array.Int32)
		epochs := rec.Column(3).(*array.Int64)
		ntens := len(c.layout.TensorColumns())
		for i := range int(rec.NumRows()) {
			if ids.Value(i) != fxSampleID(r) || keys.Value(i) != fxKey(r) || epochs.Value(i) != fxEpoch(r) {
				t.Fatalf("row %d: id %d key %q epoch %d", r, ids.Value(i), keys.Value(i), epochs.Value(i))
			}
			if l, ok := fxLabel(r, c.layout.Kind); labels.IsValid(i) != ok || (ok && labels.Value(i) != l) {
				t.Fatalf("row %d: label valid %v value %d, want %v %d", r, labels.IsValid(i), labels.Value(i), ok, l)
			}
			for tc := range ntens {
				col, err := Tensors(rec.Column(numCommon + tc))
				if err != nil {
					t.Fatal(err)
				}
				if col.Type.ValueType().ID() == arrow.FLOAT32 {
					for j, v := range col.Float32(i) {
						if v != fxF32(r, tc, j) {
							t.Fatalf("row %d tensor %d [%d] = %g, want %g", r, tc, j, v, fxF32(r, tc, j))
						}
					}
				} else {
					for j, v := range col.Uint8(i) {
						want := fxU8(r, tc, j)
						if c.layout.Kind == Inpainting && tc == 2 {
							want = fxMask(r, j)
						}
						if v != want {
							t.Fatalf("row %d tensor %d [%d] = %d, want %d", r, tc, j, v, want)
						}
					}
				}
			}
			next := numCommon + ntens
			if name, _ := c.layout.ClassColumn(); name != "" {
				if got := rec.Column(next).(*array.Uint8).Value(i); got != fxClass(r, c.layout.Kind) {
					t.Fatalf("row %d: %s %d", r, name, got)
				}
				next++
			}
			for v := range c.layout.AugColumns() {
				if err := ReadParams(rec.Column(next+v), i, &p); err != nil {
					t.Fatal(err)
				}
				want := fxParams(r, v)
				if want == nil {
					want = &ops.Params{}
				}
				if !paramsEqual(&p, want) {
					t.Fatalf("row %d view %d: params\n got %+v\nwant %+v", r, v, p, *want)
				}
			}
			r++
		}
	}
}

// paramsEqual compares the fields of a and b that their Applied bits say were
// drawn.
func paramsEqual(a, b *ops.Params) bool {
	if a.Applied != b.Applied {
		return false
	}
	norm := func(p *ops.Params) ops.Params {
		q := ops.Params{Applied: p.Applied}
		if p.Has(ops.OpCrop) {
			q.Crop = p.Crop
		}
		if p.Has(ops.OpHFlip) {
			q.HFlip = p.HFlip
		}
		if p.Has(ops.OpVFlip) {
			q.VFlip = p.VFlip
		}
		if p.Has(ops.OpRot90) {
			q.Rot90 = p.Rot90
		}
		if p.Has(ops.OpRotate) {
			q.Angle = p.Angle
		}
		if p.Has(ops.OpJitter) {
			q.Brightness, q.Contrast, q.Saturation, q.Hue, q.JitterOrder = p.Brightness, p.Contrast, p.Saturation, p.Hue, p.JitterOrder
		}
		if p.Has(ops.OpGrayscale) {
			q.Gray = p.Gray
		}
		if p.Has(ops.OpBlur) {
			q.BlurSigma, q.BlurKernel = p.BlurSigma, p.BlurKernel
		}
		if p.Has(ops.OpErase) {
			q.Erased = append([]ops.Box{}, p.Erased...)
		}
		if p.Has(ops.OpNoise) {
			q.NoiseSigma = p.NoiseSigma
		}
		if p.Has(ops.OpSolarize) {
			q.Solarized, q.SolarizeThreshold = p.Solarized, p.SolarizeThreshold
		}
		return q
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestBatchBuilderFixtures(t *testing.T) {
	for _, c := range fixtureCases() {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			recs := buildFixture(t, mem, c)
			defer func() {
				for _, r := range recs {
					r.Release()
				}
			}()
			for _, rec := range recs {
				if !rec.Schema().Equal(recs[0].Schema()) {
					t.Fatal("batches of one builder have different schemas")
				}
				for i, col := range rec.Columns() {
					if col.Len() != int(rec.NumRows()) {
						t.Fatalf("column %d: %d rows, batch %d", i, col.Len(), rec.NumRows())
					}
					if ext, ok := col.(array.ExtensionArray); ok {
						if err := ext.Storage().(*array.FixedSizeList).Validate(); err != nil {
							t.Fatalf("column %d: %v", i, err)
						}
					}
				}
			}
			checkFixture(t, c, recs)
		})
	}
}

func TestBatchBuilderErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rot := Layout{Kind: Rotation, Shapes: []Shape{{2, 2, 1}}}
	b, err := NewBatchBuilder(mem, rot, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	one := []*ops.Params{nil}
	for _, tc := range []struct {
		name string
		row  Row
	}{
		{"class 4", Row{Class: 4, Params: one}},
		{"negative epoch", Row{Epoch: -1, Params: one}},
		{"two params", Row{Params: []*ops.Params{nil, nil}}},
		{"no params", Row{}},
	} {
		if _, err := b.Append(&tc.row); !errors.Is(err, ErrRow) {
			t.Errorf("%s: err = %v, want ErrRow", tc.name, err)
		}
	}
	if b.Len() != 0 {
		t.Fatalf("rejected rows were appended: Len %d", b.Len())
	}
	i, err := b.Append(&Row{SampleID: 7, Class: 3, Params: one})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.SetUint8(0, i, make([]uint8, 3)); !errors.Is(err, ErrRow) {
		t.Errorf("short tensor: err = %v", err)
	}
	if _, err := b.NewRecordBatch(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("unwritten tensor: err = %v, want ErrIncomplete", err)
	}
	if err := b.SetUint8(0, i, []uint8{1, 2, 3, 4}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(&Row{Params: one}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(&Row{Params: one}); !errors.Is(err, ErrRow) {
		t.Errorf("full batch: err = %v, want ErrRow", err)
	}
	// Release with an unfinished batch must free everything (AssertSize).

	sup, err := NewBatchBuilder(mem, Layout{Kind: Supervised, Shapes: []Shape{{2, 2, 1}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Release()
	if _, err := sup.Append(&Row{Params: one}); !errors.Is(err, ErrRow) {
		t.Errorf("supervised without label: err = %v, want ErrRow", err)
	}
	if _, err := sup.Append(&Row{Class: 1, HasLabel: true, Params: one}); !errors.Is(err, ErrRow) {
		t.Errorf("class in supervised: err = %v, want ErrRow", err)
	}
	if _, err := NewBatchBuilder(mem, rot, 0); !errors.Is(err, ErrLayout) {
		t.Errorf("capacity 0: err = %v", err)
	}
	if _, err := NewBatchBuilder(mem, Layout{Kind: Eval, DType: Float32, Shapes: []Shape{{1 << 15, 1 << 15, 3}}}, 2); !errors.Is(err, ErrLayout) {
		t.Errorf("4 GiB column: err = %v", err)
	}
}

func TestBatchBuilderPanics(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, err := NewBatchBuilder(mem, Layout{Kind: Eval, Shapes: []Shape{{2, 2, 1}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	if _, err := b.Append(&Row{Params: []*ops.Params{nil}}); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(){
		"float32 of uint8": func() { b.Float32(0, 0) },
		"row not appended": func() { b.Uint8(0, 1) },
		"column 1":         func() { b.Uint8(1, 0) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// TestBatchBuilderReuse: many batches from one builder, some dropped by
// Reset, all released; the checked allocator ends at zero.
func TestBatchBuilderReuse(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Layout{Kind: Contrastive, Shapes: []Shape{{2, 2, 3}, {1, 1, 3}}}
	b, err := NewBatchBuilder(mem, l, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	params := []*ops.Params{fxParams(0, 0), fxParams(1, 1)}
	for k := range 5 {
		for range k%3 + 1 {
			i, err := b.Append(&Row{SampleID: uint64(k), Params: params})
			if err != nil {
				t.Fatal(err)
			}
			for tc := range 2 {
				dst := b.Uint8(tc, i)
				for j := range dst {
					dst[j] = uint8(k)
				}
			}
		}
		if k == 2 {
			b.Reset()
			continue
		}
		rec, err := b.NewRecordBatch()
		if err != nil {
			t.Fatal(err)
		}
		col, _ := TensorsByName(rec, "view_1")
		if rec.NumRows() != int64(k%3+1) || col.Uint8(0)[0] != uint8(k) {
			t.Errorf("batch %d: %d rows, first byte %d", k, rec.NumRows(), col.Uint8(0)[0])
		}
		rec.Release()
	}
	empty, err := b.NewRecordBatch()
	if err != nil {
		t.Fatal(err)
	}
	if empty.NumRows() != 0 {
		t.Errorf("empty batch has %d rows", empty.NumRows())
	}
	empty.Release()
}

// TestBatchBuilderParallelFill: workers fill disjoint slots of one batch at
// once (run with -race), and the record crosses to another goroutine:
// Retained by the sender, Released by the receiver.
func TestBatchBuilderParallelFill(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Layout{Kind: Contrastive, DType: Float32, Shapes: []Shape{{8, 8, 3}, {8, 8, 3}}}
	const n = 16
	b, err := NewBatchBuilder(mem, l, n)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	dst := make([][2][]float32, n)
	for i := range n {
		if _, err := b.Append(&Row{SampleID: uint64(i), Params: []*ops.Params{nil, nil}}); err != nil {
			t.Fatal(err)
		}
		dst[i] = [2][]float32{b.Float32(0, i), b.Float32(1, i)}
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				for v := range 2 {
					for j := range dst[i][v] {
						dst[i][v][j] = float32(i*1000 + v*100 + j)
					}
				}
			}
		})
	}
	wg.Wait()
	rec, err := b.NewRecordBatch()
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan arrow.RecordBatch, 1)
	rec.Retain() // sender's hand-over reference
	ch <- rec
	rec.Release() // the sender is done with its own
	got := <-ch
	defer got.Release() // the receiver's
	col, err := TensorsByName(got, "view_1")
	if err != nil {
		t.Fatal(err)
	}
	if v := col.Float32(13)[5]; v != 13*1000+100+5 {
		t.Errorf("row 13 view 1 [5] = %g", v)
	}
}

func BenchmarkBatchBuilder(b *testing.B) {
	for _, bc := range []struct {
		name  string
		dtype DType
		shape Shape
	}{
		{"contrastive-256x32x32x3-uint8", Uint8, Shape{32, 32, 3}},
		{"contrastive-256x224x224x3-float32", Float32, Shape{224, 224, 3}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 256
			l := Layout{Kind: Contrastive, DType: bc.dtype, Shapes: []Shape{bc.shape, bc.shape}}
			bb, err := NewBatchBuilder(memory.NewGoAllocator(), l, n)
			if err != nil {
				b.Fatal(err)
			}
			defer bb.Release()
			elems := bc.shape.H * bc.shape.W * bc.shape.C
			// The workers' reusable view buffers, copied in per sample.
			srcU8 := [2][]uint8{make([]uint8, elems), make([]uint8, elems)}
			srcF32 := [2][]float32{make([]float32, elems), make([]float32, elems)}
			for j := range elems {
				srcU8[0][j], srcU8[1][j] = uint8(j), uint8(j*3)
				srcF32[0][j], srcF32[1][j] = float32(j), float32(-j)
			}
			params := [2]ops.Params{*fxParams(0, 0), *fxParams(0, 1)}
			row := Row{Key: "k", Params: []*ops.Params{&params[0], &params[1]}}
			bytesPerRow := 2 * elems
			if bc.dtype == Float32 {
				bytesPerRow *= 4
			}
			b.SetBytes(int64(n * bytesPerRow))
			b.ReportAllocs()
			for b.Loop() {
				for s := range n {
					row.SampleID = uint64(s)
					i, err := bb.Append(&row)
					if err != nil {
						b.Fatal(err)
					}
					for v := range 2 {
						if bc.dtype == Float32 {
							err = bb.SetFloat32(v, i, srcF32[v])
						} else {
							err = bb.SetUint8(v, i, srcU8[v])
						}
						if err != nil {
							b.Fatal(err)
						}
					}
				}
				rec, err := bb.NewRecordBatch()
				if err != nil {
					b.Fatal(err)
				}
				rec.Release()
			}
		})
	}
}

// BenchmarkTensorColumnNaive is the naive twin of BenchmarkBatchBuilder's
// tensor work: the two view columns built with arrow-go's FixedSizeListBuilder
// appending one element at a time (no augmentation or scalar columns).
func BenchmarkTensorColumnNaive(b *testing.B) {
	for _, bc := range []struct {
		name  string
		dtype DType
		shape Shape
	}{
		{"contrastive-256x32x32x3-uint8", Uint8, Shape{32, 32, 3}},
		{"contrastive-256x224x224x3-float32", Float32, Shape{224, 224, 3}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const n = 256
			mem := memory.NewGoAllocator()
			elems := bc.shape.H * bc.shape.W * bc.shape.C
			srcU8 := make([]uint8, elems)
			srcF32 := make([]float32, elems)
			vt := arrow.DataType(arrow.PrimitiveTypes.Uint8)
			bytesPerRow := 2 * elems
			if bc.dtype == Float32 {
				vt, bytesPerRow = arrow.PrimitiveTypes.Float32, bytesPerRow*4
			}
			b.SetBytes(int64(n * bytesPerRow))
			b.ReportAllocs()
			for b.Loop() {
				for range 2 {
					lb := array.NewFixedSizeListBuilder(mem, int32(elems), vt)
					for range n {
						lb.Append(true)
						switch vb := lb.ValueBuilder().(type) {
						case *array.Uint8Builder:
							for _, v := range srcU8 {
								vb.Append(v)
							}
						case *array.Float32Builder:
							for _, v := range srcF32 {
								vb.Append(v)
							}
						}
					}
					arr := lb.NewArray()
					arr.Release()
					lb.Release()
				}
			}
		})
	}
}

// TestBatchBuilderRecycles: a released batch's image buffers serve the next
// batch; the kept memory is bounded and returns to the allocator on Release,
// also for batches released after the builder.
func TestBatchBuilderRecycles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Layout{Kind: Eval, Shapes: []Shape{{16, 16, 3}}}
	b, err := NewBatchBuilder(mem, l, 4)
	if err != nil {
		t.Fatal(err)
	}
	batch := func() (arrow.RecordBatch, *byte) {
		t.Helper()
		var first *byte
		for i := range 4 {
			if _, err := b.Append(&Row{Params: []*ops.Params{nil}}); err != nil {
				t.Fatal(err)
			}
			s := b.Uint8(0, i)
			if i == 0 {
				first = &s[0]
			}
			for j := range s {
				s[j] = uint8(i)
			}
		}
		rec, err := b.NewRecordBatch()
		if err != nil {
			t.Fatal(err)
		}
		return rec, first
	}
	r1, p1 := batch()
	done := make(chan struct{})
	go func() { r1.Release(); close(done) }() // the receiver releases, elsewhere
	<-done
	r2, p2 := batch()
	if p1 != p2 {
		t.Error("the second batch did not reuse the first batch's released buffer")
	}
	r3, p3 := batch() // r2 still held: a fresh buffer
	if p3 == p2 {
		t.Error("a buffer still in use was handed out again")
	}
	r2.Release()
	r4, _ := batch()
	r5, _ := batch()
	r4.Release()
	r5.Release() // now two buffers are kept: the limit
	r6, _ := batch()
	r7, _ := batch()
	r8, _ := batch()
	r6.Release()
	r7.Release()
	r8.Release() // over the limit: this one goes to the allocator
	if held := b.pool.held; held > b.pool.limit {
		t.Errorf("pool holds %d bytes over its limit %d", held, b.pool.limit)
	}
	b.Release()
	r3.Release() // after the builder: straight to the allocator
}

// TestReadSliced: the zero-copy readers honour a sliced batch's offset.
func TestReadSliced(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, c := range fixtureCases() {
		recs := buildFixture(t, mem, c)
		sl := recs[0].NewSlice(1, int64(c.rows[0]))
		var p ops.Params
		for i := range int(sl.NumRows()) {
			r := i + 1
			for tc := range c.layout.TensorColumns() {
				col, err := Tensors(sl.Column(numCommon + tc))
				if err != nil {
					t.Fatal(err)
				}
				if col.Len() != c.rows[0]-1 {
					t.Fatalf("%s: sliced column has %d tensors", c.name, col.Len())
				}
				if col.Type.ValueType().ID() == arrow.FLOAT32 {
					if got := col.Float32(i)[3]; got != fxF32(r, tc, 3) {
						t.Fatalf("%s row %d tensor %d: %g", c.name, r, tc, got)
					}
				} else if got, want := col.Uint8(i)[3], fxU8(r, tc, 3); got != want && !(c.layout.Kind == Inpainting && tc == 2) {
					t.Fatalf("%s row %d tensor %d: %d, want %d", c.name, r, tc, got, want)
				}
			}
			augs := c.layout.AugColumns()
			first := int(sl.NumCols()) - len(augs)
			for v := range augs {
				if err := ReadParams(sl.Column(first+v), i, &p); err != nil {
					t.Fatal(err)
				}
				want := fxParams(r, v)
				if want == nil {
					want = &ops.Params{}
				}
				if !paramsEqual(&p, want) {
					t.Fatalf("%s row %d view %d: params %+v, want %+v", c.name, r, v, p, *want)
				}
			}
		}
		sl.Release()
		for _, rec := range recs {
			rec.Release()
		}
	}
}

// checkRows checks that Float32Rows/Uint8Rows over a whole batch, and over a
// slice of it, are the rows' tensors back to back.
func checkRows(t *testing.T, rec arrow.RecordBatch, ntens int) {
	t.Helper()
	n := int(rec.NumRows())
	for _, r := range []arrow.RecordBatch{rec, rec.NewSlice(int64(min(1, n)), int64(n))} {
		for tc := range ntens {
			col, err := Tensors(r.Column(numCommon + tc))
			if err != nil {
				t.Fatal(err)
			}
			var whole, rows []float64
			if col.Type.ValueType().ID() == arrow.FLOAT32 {
				for _, v := range col.Float32Rows(0, col.Len()) {
					whole = append(whole, float64(v))
				}
				for i := range col.Len() {
					for _, v := range col.Float32(i) {
						rows = append(rows, float64(v))
					}
				}
			} else {
				for _, v := range col.Uint8Rows(0, col.Len()) {
					whole = append(whole, float64(v))
				}
				for i := range col.Len() {
					for _, v := range col.Uint8(i) {
						rows = append(rows, float64(v))
					}
				}
			}
			if !slices.Equal(whole, rows) {
				t.Fatalf("tensor column %d: rows slice differs from the rows", tc)
			}
		}
		if r != rec {
			r.Release()
		}
	}
}
