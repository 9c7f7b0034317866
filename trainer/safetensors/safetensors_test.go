package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// The trainer's golden checkpoint is a real file to start from.
const golden = "../testdata/checkpoint_v1.safetensors"

func TestRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "b", DType: "F32", Shape: []int{2}, Data: []byte{0, 0, 128, 63, 0, 0, 0, 64}},
		{Name: "a", DType: "I64", Shape: []int{}, Data: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
		{Name: "e", DType: "F64", Shape: []int{0, 3}, Data: nil},
	}
	var buf bytes.Buffer
	if err := Write(&buf, in, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint64(buf.Bytes())%8 != 0 {
		t.Error("header not padded to 8 bytes")
	}
	f, err := Read(bytes.NewReader(buf.Bytes()), "mem")
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata["k"] != "v" || len(f.Tensors) != 3 {
		t.Fatalf("metadata %v, %d tensors", f.Metadata, len(f.Tensors))
	}
	for _, w := range in {
		g, ok := f.Tensor(w.Name)
		if !ok || g.DType != w.DType || !bytes.Equal(g.Data, w.Data) || len(g.Shape) != len(w.Shape) {
			t.Errorf("%s: got %+v", w.Name, g)
		}
	}
	if err := Write(&buf, []Tensor{{Name: "x", DType: "F16", Shape: []int{1}, Data: []byte{0, 0}}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("F16: %v", err)
	}
	if err := Write(&buf, []Tensor{{Name: "x", DType: "F32", Shape: []int{-1}}}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("negative shape: %v", err)
	}
}

// FuzzRead: run with a short minimisation budget, as minimising inputs grown
// from the 1 KB seed takes the default 60 s each:
//
//	go test -run XXX -fuzz FuzzRead -fuzztime 60s -fuzzminimizetime 2s ./trainer/safetensors
func FuzzRead(f *testing.F) {
	if g, err := os.ReadFile(golden); err == nil {
		f.Add(g)
	}
	f.Add([]byte{})
	h := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{"v":"1"}}`
	f.Add(append(append(binary.LittleEndian.AppendUint64(nil, uint64(len(h))), h...), 0, 0, 128, 63))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := Read(bytes.NewReader(b), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error without ErrFormat: %v", err)
			}
			return
		}
		// Whatever parses writes back and parses to the same tensors.
		var out bytes.Buffer
		if err := Write(&out, st.Tensors, st.Metadata); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("write: %v", err)
			}
			return // e.g. a tensor named "" is readable but not writable
		}
		st2, err := Read(&out, "again")
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		for _, tt := range st.Tensors {
			u, ok := st2.Tensor(tt.Name)
			if !ok || !bytes.Equal(u.Data, tt.Data) || len(u.Shape) != len(tt.Shape) {
				t.Fatalf("tensor %q changed in round trip", tt.Name)
			}
		}
	})
}
