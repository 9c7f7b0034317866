package arrowpair

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestFixedShapeTensorTypeSerialize(t *testing.T) {
	for _, tc := range []struct {
		shape []int64
		names []string
		perm  []int64
		want  string
	}{
		// The three examples of the Arrow canonical extension specification.
		{[]int64{2, 5}, nil, nil, `{"shape":[2,5]}`},
		{[]int64{100, 200, 500}, []string{"C", "H", "W"}, nil, `{"shape":[100,200,500],"dim_names":["C","H","W"]}`},
		{[]int64{100, 200, 500}, nil, []int64{2, 0, 1}, `{"shape":[100,200,500],"permutation":[2,0,1]}`},
		{[]int64{}, nil, nil, `{"shape":[]}`},
	} {
		typ, err := NewFixedShapeTensorType(arrow.PrimitiveTypes.Float32, tc.shape, tc.names, tc.perm)
		if err != nil {
			t.Fatal(err)
		}
		if got := typ.Serialize(); got != tc.want {
			t.Errorf("Serialize = %s, want %s", got, tc.want)
		}
		n := int32(1)
		for _, d := range tc.shape {
			n *= int32(d)
		}
		if !arrow.TypeEqual(typ.StorageType(), arrow.FixedSizeListOf(n, arrow.PrimitiveTypes.Float32)) {
			t.Errorf("storage %s", typ.StorageType())
		}
		back, err := typ.Deserialize(typ.StorageType(), tc.want)
		if err != nil || !typ.ExtensionEquals(back) {
			t.Errorf("Deserialize(%s) = %v, %v", tc.want, back, err)
		}
	}
}

func TestFixedShapeTensorTypeInvalid(t *testing.T) {
	u8 := arrow.PrimitiveTypes.Uint8
	for _, tc := range []struct {
		name  string
		shape []int64
		names []string
		perm  []int64
	}{
		{"negative", []int64{2, -1}, nil, nil},
		{"names length", []int64{2, 3}, []string{"H"}, nil},
		{"perm length", []int64{2, 3}, nil, []int64{0}},
		{"perm repeat", []int64{2, 3}, nil, []int64{0, 0}},
		{"perm range", []int64{2, 3}, nil, []int64{0, 2}},
		{"overflow int32", []int64{1 << 16, 1 << 16}, nil, nil},
		{"overflow int64", []int64{1 << 40, 1 << 40}, nil, nil},
		{"empty", []int64{2, 0}, nil, nil},
	} {
		if _, err := NewFixedShapeTensorType(u8, tc.shape, tc.names, tc.perm); !errors.Is(err, ErrTensorType) {
			t.Errorf("%s: err = %v, want ErrTensorType", tc.name, err)
		}
	}
	var typ FixedShapeTensorType
	for _, tc := range []struct {
		storage arrow.DataType
		meta    string
	}{
		{arrow.ListOf(u8), `{"shape":[2]}`},
		{arrow.FixedSizeListOf(6, u8), `{"shape":[2,4]}`},
		{arrow.FixedSizeListOf(6, u8), `{"dim_names":["a"]}`},
		{arrow.FixedSizeListOf(6, u8), `{"shape":[2,3]} x`},
		{arrow.FixedSizeListOf(6, u8), `{"shape":[2,"3"]}`},
		{arrow.FixedSizeListOf(6, u8), ``},
	} {
		if _, err := typ.Deserialize(tc.storage, tc.meta); !errors.Is(err, ErrTensorType) {
			t.Errorf("Deserialize(%s, %q): err = %v, want ErrTensorType", tc.storage, tc.meta, err)
		}
	}
}

func TestFixedShapeTensorRegistered(t *testing.T) {
	if _, ok := arrow.GetExtensionType(FixedShapeTensorName).(*FixedShapeTensorType); !ok {
		t.Fatalf("registry holds %T for %s", arrow.GetExtensionType(FixedShapeTensorName), FixedShapeTensorName)
	}
}

// TestFixedShapeTensorIPCRoundTrip writes tensor columns with and without
// dim_names and permutation through IPC and reads back the same type and values.
func TestFixedShapeTensorIPCRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	types := []*FixedShapeTensorType{}
	for _, tc := range []struct {
		vt    arrow.DataType
		shape []int64
		names []string
		perm  []int64
	}{
		{arrow.PrimitiveTypes.Uint8, []int64{2, 3, 2}, []string{"H", "W", "C"}, nil},
		{arrow.PrimitiveTypes.Float32, []int64{2, 3, 2}, []string{"C", "H", "W"}, []int64{1, 2, 0}},
		{arrow.PrimitiveTypes.Float32, []int64{4}, nil, nil},
		{arrow.PrimitiveTypes.Uint8, []int64{3, 2}, nil, []int64{1, 0}},
	} {
		typ, err := NewFixedShapeTensorType(tc.vt, tc.shape, tc.names, tc.perm)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
	}
	const rows = 3
	var cols []arrow.Array
	var fields []arrow.Field
	for i, typ := range types {
		b := array.NewFixedSizeListBuilder(mem, int32(typ.NumElements()), typ.ValueType())
		for r := range rows {
			b.Append(true)
			for j := range typ.NumElements() {
				switch vb := b.ValueBuilder().(type) {
				case *array.Uint8Builder:
					vb.Append(uint8(r*50 + j + i))
				case *array.Float32Builder:
					vb.Append(float32(r) - float32(j)/4 + float32(i))
				}
			}
		}
		st := b.NewArray()
		b.Release()
		cols = append(cols, array.NewExtensionArrayWithStorage(typ, st))
		st.Release()
		fields = append(fields, arrow.Field{Name: string(rune('a' + i)), Type: typ})
	}
	schema := arrow.NewSchema(fields, nil)
	rec := array.NewRecordBatch(schema, cols, rows)
	for _, c := range cols {
		c.Release()
	}
	defer rec.Release()

	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := ipc.NewReader(&buf, ipc.WithAllocator(mem))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	if !r.Schema().Equal(schema) {
		t.Fatalf("schema read back\n%s\nwant\n%s", r.Schema(), schema)
	}
	got, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	for i, typ := range types {
		gt, ok := got.Column(i).DataType().(*FixedShapeTensorType)
		if !ok {
			t.Fatalf("column %d read back as %T", i, got.Column(i).DataType())
		}
		if !slices.Equal(gt.Shape(), typ.Shape()) || !slices.Equal(gt.DimNames(), typ.DimNames()) || !slices.Equal(gt.Permutation(), typ.Permutation()) {
			t.Errorf("column %d: %s, want %s", i, gt, typ)
		}
		if _, ok := got.Column(i).(*FixedShapeTensorArray); !ok {
			t.Errorf("column %d array is %T", i, got.Column(i))
		}
		if !array.Equal(got.Column(i), rec.Column(i)) {
			t.Errorf("column %d values differ: %s vs %s", i, got.Column(i), rec.Column(i))
		}
		tc, err := Tensors(got.Column(i))
		if err != nil {
			t.Fatal(err)
		}
		for r := range rows {
			for j := range typ.NumElements() {
				if typ.ValueType().ID() == arrow.UINT8 {
					if v := tc.Uint8(r)[j]; v != uint8(r*50+j+i) {
						t.Fatalf("column %d row %d [%d] = %d", i, r, j, v)
					}
				} else if v := tc.Float32(r)[j]; v != float32(r)-float32(j)/4+float32(i) {
					t.Fatalf("column %d row %d [%d] = %g", i, r, j, v)
				}
			}
		}
	}
}

// FuzzFixedShapeTensorDeserialize: any metadata either fails with
// ErrTensorType or yields a type that serializes and deserializes to itself.
func FuzzFixedShapeTensorDeserialize(f *testing.F) {
	f.Add(int32(6), `{"shape":[2,3],"dim_names":["H","W"],"permutation":[1,0]}`)
	f.Add(int32(1), `{"shape":[0,5]}`)
	f.Add(int32(1), `{"shape":[]}`)
	f.Add(int32(8), `{"shape":[2,2,2],"permutation":[2,2,0]}`)
	f.Add(int32(4), `{"shape":[9223372036854775807,2]}`)
	var typ FixedShapeTensorType
	f.Fuzz(func(t *testing.T, n int32, meta string) {
		if n < 1 { // arrow-go has no fixed_size_list of size <= 0
			n = 1
		}
		ext, err := typ.Deserialize(arrow.FixedSizeListOf(n, arrow.PrimitiveTypes.Uint8), meta)
		if err != nil {
			if !errors.Is(err, ErrTensorType) {
				t.Fatalf("error %v is not ErrTensorType", err)
			}
			return
		}
		back, err := typ.Deserialize(ext.StorageType(), ext.Serialize())
		if err != nil || !ext.ExtensionEquals(back) {
			t.Fatalf("round trip of %s: %v, %v", ext.Serialize(), back, err)
		}
		if got := ext.(*FixedShapeTensorType).NumElements(); got != int(n) {
			t.Fatalf("NumElements %d, list size %d", got, n)
		}
	})
}
