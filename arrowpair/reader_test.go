package arrowpair

import (
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

// TestReadBatch reads every fixture stream through the typed reader and
// checks each accessor against the fixture's formulas.
func TestReadBatch(t *testing.T) {
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
			r := 0
			for _, rec := range recs {
				b, err := ReadBatch(rec)
				if err != nil {
					t.Fatal(err)
				}
				if b.Record() != rec || b.Len() != int(rec.NumRows()) || b.Layout.Kind != c.layout.Kind {
					t.Fatalf("Record/Len/Layout: %d rows, kind %s", b.Len(), b.Layout.Kind)
				}
				ids := b.SampleIDs()
				if len(ids) != b.Len() {
					t.Fatalf("SampleIDs: %d ids for %d rows", len(ids), b.Len())
				}
				tensors := map[string]TensorColumn{}
				for _, name := range c.layout.TensorColumns() {
					tc, err := b.Tensors(name)
					if err != nil {
						t.Fatalf("Tensors(%q): %v", name, err)
					}
					tensors[name] = tc
				}
				for i := range b.Len() {
					if got, want := b.SampleID(i), fxSampleID(r); got != want || ids[i] != want {
						t.Errorf("row %d: sample id %d (slice %d), want %d", r, got, ids[i], want)
					}
					if got, want := b.Key(i), fxKey(r); got != want {
						t.Errorf("row %d: key %q, want %q", r, got, want)
					}
					l, ok := b.Label(i)
					wl, wok := fxLabel(r, c.layout.Kind)
					if l != wl || ok != wok {
						t.Errorf("row %d: label %d %v, want %d %v", r, l, ok, wl, wok)
					}
					if got, want := b.Epoch(i), fxEpoch(r); got != want {
						t.Errorf("row %d: epoch %d, want %d", r, got, want)
					}
					cl, ok := b.Class(i)
					_, classes := c.layout.ClassColumn()
					if ok != (classes > 0) || (ok && cl != int(fxClass(r, c.layout.Kind))) {
						t.Errorf("row %d: class %d %v, want %d (%d classes)", r, cl, ok, fxClass(r, c.layout.Kind), classes)
					}
					for tcIdx, name := range c.layout.TensorColumns() {
						tc := tensors[name]
						if tc.Type.ValueType().ID() == arrow.FLOAT32 {
							if got, want := tc.Float32(i)[1], fxF32(r, tcIdx, 1); got != want {
								t.Errorf("row %d %s[1] = %v, want %v", r, name, got, want)
							}
						} else if c.layout.Kind == Inpainting && name == "mask" {
							if got, want := tc.Uint8(i)[1], fxMask(r, 1); got != want {
								t.Errorf("row %d mask[1] = %v, want %v", r, got, want)
							}
						} else if got, want := tc.Uint8(i)[1], fxU8(r, tcIdx, 1); got != want {
							t.Errorf("row %d %s[1] = %v, want %v", r, name, got, want)
						}
					}
					for v, aug := range c.layout.AugColumns() {
						var p ops.Params
						if err := b.Params(aug[:len(aug)-len("_aug")], i, &p); err != nil {
							t.Fatal(err)
						}
						want := fxParams(r, v)
						if want == nil {
							want = &ops.Params{}
						}
						if !paramsEqual(&p, want) {
							t.Errorf("row %d %s: params %+v, want %+v", r, aug, p, *want)
						}
					}
					r++
				}
			}
		})
	}
}

func TestReadBatchErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	// A batch that is not pairflow's.
	bld := array.NewUint64Builder(mem)
	bld.Append(1)
	col := bld.NewArray()
	bld.Release()
	other := array.NewRecordBatch(arrow.NewSchema([]arrow.Field{{Name: "sample_id", Type: arrow.PrimitiveTypes.Uint64}}, nil), []arrow.Array{col}, 1)
	col.Release()
	if _, err := ReadBatch(other); !errors.Is(err, ErrNotPairflow) {
		t.Errorf("foreign batch: %v, want ErrNotPairflow", err)
	}
	other.Release()

	c := fixtureCases()[5] // supervised
	recs := buildFixture(t, mem, c)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	b, err := ReadBatch(recs[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Tensors("view_0"); !errors.Is(err, ErrNotPairflow) {
		t.Errorf("Tensors of a missing column: %v", err)
	}
	if _, err := b.Tensors("label"); !errors.Is(err, ErrNotPairflow) {
		t.Errorf("Tensors of a non-image column: %v", err)
	}
	var p ops.Params
	if err := b.Params("label", 0, &p); !errors.Is(err, ErrNotPairflow) {
		t.Errorf("Params of a missing column: %v", err)
	}
	if err := b.Params("view", b.Len(), &p); !errors.Is(err, ErrRow) {
		t.Errorf("Params past the end: %v", err)
	}
	if _, ok := b.Class(0); ok {
		t.Error("supervised batch has a class")
	}
	var zero Batch
	if zero.Len() != 0 || zero.SampleIDs() != nil {
		t.Error("zero Batch has rows")
	}
	if !slices.Equal(b.Layout.TensorColumns(), []string{"view"}) {
		t.Errorf("layout %v", b.Layout)
	}
}
