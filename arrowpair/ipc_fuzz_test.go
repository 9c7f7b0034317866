package arrowpair

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// readAll reads every batch of a possibly corrupt stream, touching every
// tensor, and returns the first error.
func readAll(t *testing.T, data []byte, mem memory.Allocator) error {
	t.Helper()
	r, err := ReadIPC(bytes.NewReader(data), mem, WithMaxBatchBytes(1<<20))
	if err != nil {
		return err
	}
	defer r.Release()
	for rec, err := range r.All() {
		if err != nil {
			return err
		}
		for i := range int(rec.NumRows()) {
			for _, name := range r.Layout().TensorColumns() {
				col, err := TensorsByName(rec, name)
				if err != nil {
					t.Fatalf("valid schema, tensor column %s: %v", name, err)
				}
				if col.Type.ValueType().ID() == arrow.UINT8 {
					_ = col.Uint8(i)
				} else {
					_ = col.Float32(i)
				}
			}
		}
	}
	return nil
}

// FuzzReadIPC: a corrupt stream gives an error, never a panic, a hang, an
// unbounded allocation or a leak. Seeds: the golden streams of testdata/arrow.
func FuzzReadIPC(f *testing.F) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "arrow", "*.arrows"))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		_ = readAll(t, data, mem)
	})
}

// TestReadIPCCorruptBytes overwrites each byte of a golden stream in turn
// (the corruptions fuzzing found first: a field count, a buffer length) and
// demands an error or a clean read, with no panic and nothing leaked.
func TestReadIPCCorruptBytes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "arrow", "eval-u8.arrows"))
	if err != nil {
		t.Fatal(err)
	}
	step := 1
	if testing.Short() {
		step = 7
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	bad := bytes.Clone(data)
	corrupt := 0
	for i := 0; i < len(data); i += step {
		for _, v := range []byte{0xFF, 0x7F, 0x00} {
			bad[i] = v
			if err := readAll(t, bad, mem); err != nil {
				corrupt++
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNotPairflow) && !errors.Is(err, ErrSchemaVersion) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("byte %d = %#x: error %v is not ErrCorrupt", i, v, err)
				}
			}
			if mem.CurrentAlloc() != 0 {
				t.Fatalf("byte %d = %#x: %d bytes leaked", i, v, mem.CurrentAlloc())
			}
		}
		bad[i] = data[i]
	}
	if corrupt == 0 {
		t.Fatal("no corruption was detected at all")
	}
	t.Logf("%d of %d corrupted streams refused", corrupt, 3*((len(data)+step-1)/step))
}
