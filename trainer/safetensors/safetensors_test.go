package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/pairflow/pairflow/internal/inputfile"
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

// ReadSized checks the declared lengths against the input's size before
// reading either: a header or data section longer than the file fails at
// once, naming both figures.
func TestReadSized(t *testing.T) {
	good, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ReadSized(bytes.NewReader(good), int64(len(good)), "good"); err != nil {
		t.Fatal(err)
	}

	// A reader that fails if asked for more than the first 8 bytes proves
	// the header length is refused before the header is read.
	bigHeader := binary.LittleEndian.AppendUint64(nil, MaxHeaderBytes)
	if _, err := ReadSized(&onlyFirst{b: bigHeader}, 4096, "big"); !errors.Is(err, ErrFormat) ||
		!strings.Contains(err.Error(), "header length 104857600, but the file has 4088 bytes") {
		t.Errorf("header longer than the file: %v", err)
	}
	for _, c := range []struct {
		name string
		size int64
		want string
	}{
		{"cut", int64(len(good)) - 4, "declares"},
		{"longer", int64(len(good)) + 4, "declares"},
		{"tiny", 3, "shorter than"},
	} {
		if _, err := ReadSized(bytes.NewReader(good), c.size, c.name); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

type onlyFirst struct {
	b []byte
	n int
}

func (r *onlyFirst) Read(p []byte) (int, error) {
	if r.n >= len(r.b) {
		return 0, errors.New("read past the header length")
	}
	n := copy(p, r.b[r.n:])
	r.n += n
	return n, nil
}

// ReadFile refuses what is not a regular file without reading it:
// /dev/zero would otherwise be read as a stream of zeros.
func TestReadFile(t *testing.T) {
	if _, err := ReadFile(golden); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dev/zero", t.TempDir()} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if _, err := ReadFile(p); !errors.Is(err, inputfile.ErrNotRegular) {
			t.Errorf("%s: %v", p, err)
		}
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
		// Knowing the size changes when an error is found, not whether.
		if _, serr := ReadSized(bytes.NewReader(b), int64(len(b)), "fuzz"); (serr == nil) != (err == nil) {
			t.Fatalf("Read: %v; ReadSized: %v", err, serr)
		}
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
