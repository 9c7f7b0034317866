package arrowpair

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

// buildFixtureRows builds the fixture batches the other way: every batch's
// tensors written first into a ReserveRows reservation from several
// goroutines (run with -race), then adopted, then the metadata appended.
func buildFixtureRows(t testing.TB, mem memory.Allocator, c fixtureCase) []arrow.RecordBatch {
	t.Helper()
	b, err := NewBatchBuilder(mem, c.layout, c.cap, KeepBatches(1))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	var recs []arrow.RecordBatch
	r0 := 0
	for _, n := range c.rows {
		rows := b.ReserveRows()
		var wg sync.WaitGroup
		for w := range 3 {
			wg.Go(func() {
				for i := w; i < n; i += 3 {
					r := r0 + i
					for tc := range c.layout.TensorColumns() {
						if b.tensors[tc].f32 {
							dst := rows.Float32(tc, i)
							for j := range dst {
								dst[j] = fxF32(r, tc, j)
							}
							continue
						}
						dst := rows.Uint8(tc, i)
						for j := range dst {
							if c.layout.Kind == Inpainting && tc == 2 {
								dst[j] = fxMask(r, j)
							} else {
								dst[j] = fxU8(r, tc, j)
							}
						}
					}
				}
			})
		}
		wg.Wait()
		if err := b.Adopt(rows); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			r := r0 + i
			row := Row{SampleID: fxSampleID(r), Key: fxKey(r), Epoch: fxEpoch(r), Class: fxClass(r, c.layout.Kind)}
			row.Label, row.HasLabel = fxLabel(r, c.layout.Kind)
			for v := range c.layout.AugColumns() {
				row.Params = append(row.Params, fxParams(r, v))
			}
			if got, err := b.Append(&row); err != nil || got != i {
				t.Fatalf("Append = %d, %v; want row %d", got, err, i)
			}
		}
		rec, err := b.NewRecordBatch()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
		r0 += n
	}
	return recs
}

func ipcBytes(t *testing.T, recs []arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(recs[0].Schema()))
	for _, rec := range recs {
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBatchBuilderReserveRows: batches written through reserved Rows are
// byte-identical to those written through Append + Uint8/Float32, for every
// fixture layout, and no Arrow memory is left behind.
func TestBatchBuilderReserveRows(t *testing.T) {
	for _, c := range fixtureCases() {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			want := buildFixture(t, mem, c)
			got := buildFixtureRows(t, mem, c)
			checkFixture(t, c, got)
			if !bytes.Equal(ipcBytes(t, got), ipcBytes(t, want)) {
				t.Error("IPC bytes differ between the two ways of filling a batch")
			}
			for _, rec := range append(want, got...) {
				rec.Release()
			}
		})
	}
}

func TestBatchBuilderRowsErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := Layout{Kind: Contrastive, Shapes: []Shape{{2, 2, 3}, {2, 2, 3}}}
	b, err := NewBatchBuilder(mem, l, 4)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewBatchBuilder(mem, l, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	params := []*ops.Params{nil, nil}

	foreign := other.ReserveRows()
	if err := b.Adopt(foreign); !errors.Is(err, ErrRow) {
		t.Errorf("Adopt of another builder's rows: %v", err)
	}
	foreign.Release()
	foreign.Release() // a no-op
	if err := other.Adopt(foreign); !errors.Is(err, ErrRow) {
		t.Errorf("Adopt of released rows: %v", err)
	}

	// A row whose tensor was never written through the reservation.
	rows := b.ReserveRows()
	copy(rows.Uint8(0, 0), make([]uint8, 12))
	if err := b.Adopt(rows); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Append(&Row{Params: params}); err != nil {
		t.Fatal(err)
	}
	late := b.ReserveRows()
	if err := b.Adopt(late); !errors.Is(err, ErrRow) {
		t.Errorf("Adopt into a batch with rows: %v", err)
	}
	late.Release()
	if _, err := b.NewRecordBatch(); !errors.Is(err, ErrIncomplete) {
		t.Errorf("NewRecordBatch with view_1 row 0 unwritten: %v", err)
	}
	copy(rows.Uint8(1, 0), make([]uint8, 12))
	rec, err := b.NewRecordBatch()
	if err != nil {
		t.Fatal(err)
	}
	rec.Release()
	spare := b.ReserveRows()
	defer spare.Release()
	for _, f := range []func(){
		func() { rows.Uint8(0, 0) },    // taken by the record
		func() { spare.Float32(0, 0) }, // uint8 column
		func() { spare.Uint8(0, 4) },   // past capacity
		func() { spare.Uint8(2, 0) },   // no such column
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
	// An adopted reservation whose batch is never built is freed by Release.
	if err := b.Adopt(b.ReserveRows()); err != nil {
		t.Fatal(err)
	}
	b.Release()
}

func TestKeepBatches(t *testing.T) {
	l := Layout{Kind: Eval, Shapes: []Shape{{64, 64, 1}}}
	const tensorBytes = 2 * 64 * 64
	for _, n := range []int{-1, 1025} {
		if _, err := NewBatchBuilder(nil, l, 2, KeepBatches(n)); !errors.Is(err, ErrLayout) {
			t.Errorf("KeepBatches(%d): %v", n, err)
		}
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const keep = 5
	b, err := NewBatchBuilder(mem, l, 2, KeepBatches(keep))
	if err != nil {
		t.Fatal(err)
	}
	var recs []arrow.RecordBatch
	firsts := map[*byte]bool{}
	build := func() {
		rows := b.ReserveRows()
		for i := range 2 {
			clear(rows.Uint8(0, i))
		}
		if err := b.Adopt(rows); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, err := b.Append(&Row{Params: []*ops.Params{nil}}); err != nil {
				t.Fatal(err)
			}
		}
		firsts[&b.Uint8(0, 0)[0]] = true
		rec, err := b.NewRecordBatch()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	before := mem.CurrentAlloc()
	for range keep {
		build()
	}
	fresh := mem.CurrentAlloc() - before
	for _, r := range recs {
		r.Release()
	}
	recs = recs[:0]
	// All keep batches' buffers are kept: building keep more allocates only
	// their metadata.
	before = mem.CurrentAlloc()
	for range keep {
		build()
	}
	reused := mem.CurrentAlloc() - before
	if len(firsts) != keep {
		t.Errorf("%d distinct buffers over 2×%d batches, want %d (reused)", len(firsts), keep, keep)
	}
	if fresh-reused < keep*tensorBytes {
		t.Errorf("%d bytes allocated for %d fresh batches, %d for %d reusing ones", fresh, keep, reused, keep)
	}
	for _, r := range recs {
		r.Release()
	}
	b.Release()
}
