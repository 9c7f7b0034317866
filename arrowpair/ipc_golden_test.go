package arrowpair

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden IPC streams in testdata/arrow")

// TestIPCGolden pins the bytes of each fixture stream: the same rows give the
// same stream, byte for byte. The files double as samples of every pair kind
// for other readers (pyarrow: pa.ipc.open_stream). Regenerate with
// go test ./arrowpair -run TestIPCGolden -update, only when SCHEMA.md changes.
func TestIPCGolden(t *testing.T) {
	for _, c := range fixtureCases() {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		recs := buildFixture(t, mem, c)
		var buf bytes.Buffer
		if _, err := WriteIPC(&buf, recs[0].Schema(), RecordSeq(recs...)); err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
		path := filepath.Join("testdata", "arrow", c.name+".arrows")
		if *updateGolden {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: stream of %d bytes differs from the golden %d bytes", path, buf.Len(), len(want))
		}
		// The golden stream reads back to the fixture values.
		r, err := ReadIPC(bytes.NewReader(want), nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var got = r.All()
		n := 0
		for rec, err := range got {
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			n += int(rec.NumRows())
		}
		r.Release()
		if want := c.rows[0] + c.rows[1]; n != want {
			t.Errorf("%s: %d rows, want %d", path, n, want)
		}
	}
}
