package arrowpair

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

func TestIPCRoundTrip(t *testing.T) {
	for _, c := range fixtureCases() {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			recs := buildFixture(t, mem, c)
			schema := recs[0].Schema()
			var buf bytes.Buffer
			n, err := WriteIPC(&buf, schema, RecordSeq(recs...)) // releases recs
			if err != nil || n != len(c.rows) {
				t.Fatalf("WriteIPC = %d, %v", n, err)
			}

			rmem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer rmem.AssertSize(t, 0)
			r, err := ReadIPC(&buf, rmem)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			if !r.Schema().Equal(schema) || r.Layout().Kind != c.layout.Kind {
				t.Fatalf("schema read back:\n%s", r.Schema())
			}
			var got []arrow.RecordBatch
			for rec, err := range r.All() {
				if err != nil {
					t.Fatal(err)
				}
				rec.Retain() // borrowed: keep past the iteration
				got = append(got, rec)
			}
			defer func() {
				for _, rec := range got {
					rec.Release()
				}
			}()
			checkFixture(t, c, got)
		})
	}
}

// streamWithMetadata writes an IPC stream of one batch of a rotation layout
// whose schema metadata is replaced by md.
func streamWithMetadata(t *testing.T, md map[string]string) []byte {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := fixtureCase{"rotation", Layout{Kind: Rotation, Shapes: []Shape{{2, 2, 1}}}, 2, []int{2}}
	recs := buildFixture(t, mem, c)
	defer recs[0].Release()
	meta := arrow.MetadataFrom(md)
	schema := arrow.NewSchema(recs[0].Schema().Fields(), &meta)
	rec := array.NewRecordBatch(schema, recs[0].Columns(), recs[0].NumRows())
	defer rec.Release()
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestReadIPCRefuses(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   map[string]string
		want error
	}{
		{"version 3", map[string]string{MetaSchemaVersion: "3", MetaKind: "rotation", MetaRecipe: "{}"}, ErrSchemaVersion},
		{"version missing", map[string]string{MetaKind: "rotation"}, ErrNotPairflow},
		{"kind eval", map[string]string{MetaSchemaVersion: "1", MetaKind: "eval"}, ErrNotPairflow},
	} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		r, err := ReadIPC(bytes.NewReader(streamWithMetadata(t, tc.md)), mem)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if r != nil {
			r.Release()
		}
		mem.AssertSize(t, 0)
	}
	ok := streamWithMetadata(t, map[string]string{MetaSchemaVersion: "1", MetaKind: "rotation"})
	r, err := ReadIPC(bytes.NewReader(ok), nil)
	if err != nil {
		t.Fatalf("valid stream: %v", err)
	}
	r.Release()
	// A truncated stream: schema fine, batch cut short.
	r, err = ReadIPC(bytes.NewReader(ok[:len(ok)-40]), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if _, err := r.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("truncated batch: err = %v", err)
	}
	if _, err := ReadIPC(bytes.NewReader(nil), nil); err == nil {
		t.Error("empty input accepted")
	}
}

func TestWriteIPCErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	foreign := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int8}}, nil)
	if _, err := WriteIPC(io.Discard, foreign, RecordSeq()); !errors.Is(err, ErrNotPairflow) {
		t.Errorf("foreign schema: err = %v", err)
	}
	a := buildFixture(t, mem, fixtureCase{"", Layout{Kind: Eval, Shapes: []Shape{{2, 2, 1}}}, 2, []int{1, 1}})
	b := buildFixture(t, mem, fixtureCase{"", Layout{Kind: Eval, Shapes: []Shape{{2, 2, 3}}}, 2, []int{1}})
	// The second batch's schema differs: WriteIPC stops, and still releases
	// every batch it was handed (AssertSize).
	n, err := WriteIPC(io.Discard, a[0].Schema(), RecordSeq(a[0], b[0], a[1]))
	if n != 1 || !errors.Is(err, ErrNotPairflow) {
		t.Errorf("mixed schemas: n %d err %v", n, err)
	}
	// An error from the sequence stops the stream.
	boom := errors.New("boom")
	seq := func(yield func(arrow.RecordBatch, error) bool) { yield(nil, boom) }
	if _, err := WriteIPC(io.Discard, a[0].Schema(), seq); !errors.Is(err, boom) {
		t.Errorf("sequence error: %v", err)
	}
}

// Example_contrastive builds a SimCLR batch, writes it as an IPC stream and
// reads it back.
func Example_contrastive() {
	layout := Layout{
		Kind:   Contrastive,
		DType:  Uint8,
		Shapes: []Shape{{H: 2, W: 2, C: 3}, {H: 2, W: 2, C: 3}},
		Recipe: []byte(`{"preset":"simclr"}`),
	}
	b, err := NewBatchBuilder(memory.DefaultAllocator, layout, 2)
	if err != nil {
		panic(err)
	}
	defer b.Release()

	var p0, p1 ops.Params
	p0.Applied, p0.HFlip = ops.OpHFlip, true
	for s := range 2 {
		i, err := b.Append(&Row{SampleID: uint64(s), Key: "img" + string(rune('A'+s)), Params: []*ops.Params{&p0, &p1}})
		if err != nil {
			panic(err)
		}
		for v := range 2 {
			view := b.Uint8(v, i) // the batch's own storage: fill in place
			for j := range view {
				view[j] = uint8(10*s + v)
			}
		}
	}
	rec, err := b.NewRecordBatch()
	if err != nil {
		panic(err)
	}

	var stream bytes.Buffer
	if _, err := WriteIPC(&stream, b.Schema(), RecordSeq(rec)); err != nil { // releases rec
		panic(err)
	}

	r, err := ReadIPC(&stream, nil)
	if err != nil {
		panic(err)
	}
	defer r.Release()
	fmt.Println(r.Layout().Kind, r.Schema().Field(4).Type.(*FixedShapeTensorType).Serialize())
	for batch, err := range r.All() {
		if err != nil {
			panic(err)
		}
		rows, err := ReadBatch(batch) // typed access by name
		if err != nil {
			panic(err)
		}
		v1, _ := rows.Tensors("view_1")
		var p ops.Params
		_ = rows.Params("view_0", 0, &p)
		fmt.Println(rows.Len(), rows.Key(1), v1.Uint8(1)[:3], p.HFlip, p.Has(ops.OpCrop))
	}
	// Output:
	// contrastive {"shape":[2,2,3],"dim_names":["H","W","C"]}
	// 2 imgB [11 11 11] true false
}
