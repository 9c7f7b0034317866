package arrowpair

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// readStream reads a whole stream and returns the batches read, the reader's
// verdict and the error that ended it (nil at a clean end).
func readStream(t *testing.T, data []byte) (n int, complete bool, err error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r, err := ReadIPC(bytes.NewReader(data), mem)
	if err != nil {
		return 0, false, err
	}
	defer r.Release()
	for _, err := range r.All() {
		if err != nil {
			return n, false, err
		}
		n++
	}
	return n, r.Complete(), nil
}

// fixtureStream writes fixture case i's batches (3 batches: its two plus a
// copy of the first) through seq's wrapper.
func fixtureBatches(t *testing.T, mem memory.Allocator) []arrow.RecordBatch {
	t.Helper()
	c := fixtureCases()[0]
	recs := buildFixture(t, mem, c)
	recs[0].Retain()
	return append(recs, recs[0]) // 3 batches
}

// TestWriteIPCFailureIsIncomplete: a stream whose producer fails ends
// without its summary and end marker, and reads as incomplete (before
// version 2 it read as a shorter, complete stream).
func TestWriteIPCFailureIsIncomplete(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtureBatches(t, mem)
	boom := errors.New("boom")
	var buf bytes.Buffer
	seq := func(yield func(arrow.RecordBatch, error) bool) {
		for _, r := range recs[:2] {
			if !yield(r, nil) {
				return
			}
		}
		yield(nil, boom)
	}
	if _, err := WriteIPC(&buf, recs[0].Schema(), seq); !errors.Is(err, boom) {
		t.Fatalf("WriteIPC: %v", err)
	}
	recs[2].Release()
	n, _, err := readStream(t, buf.Bytes())
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("read %d batches, err %v; want ErrTruncated", n, err)
	}
}

// TestCutStreamIsIncomplete: every proper prefix of a complete stream fails
// to read — cuts between messages with ErrTruncated — and the whole stream
// reads complete.
func TestCutStreamIsIncomplete(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtureBatches(t, mem)
	var buf bytes.Buffer
	if _, err := WriteIPC(&buf, recs[0].Schema(), RecordSeq(recs...)); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	n, complete, err := readStream(t, data)
	if err != nil || n != 3 || !complete {
		t.Fatalf("whole stream: %d batches, complete %v, %v", n, complete, err)
	}
	boundaries, step := 0, 1
	if testing.Short() {
		step = 5
	}
	for cut := len(data) - 1; cut > 0; cut -= step {
		_, _, err := readStream(t, data[:cut])
		if err == nil {
			t.Fatalf("prefix of %d of %d bytes read as a clean stream", cut, len(data))
		}
		if errors.Is(err, ErrTruncated) {
			boundaries++
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("prefix %d: %v", cut, err)
		}
	}
	// Cuts after the schema, after batches 1, 2 and 3, and before the end
	// marker's second word: each a clean message boundary.
	if boundaries < 4 && step == 1 {
		t.Fatalf("%d prefixes failed with ErrTruncated, want ≥ 4 (one per message boundary)", boundaries)
	}
}

// TestSummaryMismatch: a stream whose summary does not match its batches (a
// batch lost on the way) or with a batch after the summary is refused.
func TestSummaryMismatch(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtureBatches(t, mem)
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	var sum StreamSum
	for _, r := range recs {
		sum.Add(r)
	}
	k, v := sum.Metadata()
	raw := func(batches ...arrow.RecordBatch) []byte {
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(recs[0].Schema()))
		for _, b := range batches {
			if err := w.Write(b); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		return buf.Bytes()
	}
	last := WithMetadata(recs[2], k, v)
	defer last.Release()
	if _, complete, err := readStream(t, raw(recs[0], recs[1], last)); err != nil || !complete {
		t.Fatalf("hand-built complete stream: %v", err)
	}
	if _, _, err := readStream(t, raw(recs[0], last)); !errors.Is(err, ErrTruncated) {
		t.Errorf("batch lost: %v, want ErrTruncated", err)
	}
	if _, _, err := readStream(t, raw(recs[1], recs[0], last)); !errors.Is(err, ErrTruncated) {
		t.Errorf("batches swapped: %v, want ErrTruncated", err)
	}
	if _, _, err := readStream(t, raw(recs[0], recs[1], last, recs[2])); !errors.Is(err, ErrCorrupt) {
		t.Errorf("batch after the summary: %v, want ErrCorrupt", err)
	}
	if _, _, err := readStream(t, raw(recs[0], recs[1], recs[2])); !errors.Is(err, ErrTruncated) {
		t.Errorf("no summary: %v, want ErrTruncated", err)
	}
}

// TestWriterMetadata: a batch's own metadata is kept, summary keys handed in
// are dropped (a stream copied from another cannot carry a stale summary),
// and an empty stream reads complete only with its end marker.
func TestWriterMetadata(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	recs := fixtureBatches(t, mem)
	tagged := WithMetadata(recs[0], []string{MetaEpoch, MetaStreamBatches}, []string{"7", "1"})
	recs[0].Release()
	recs[0] = tagged
	var buf bytes.Buffer
	if _, err := WriteIPC(&buf, recs[0].Schema(), RecordSeq(recs...)); err != nil {
		t.Fatal(err)
	}
	r, err := ReadIPC(bytes.NewReader(buf.Bytes()), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	md := batchMetadata(rec)
	if v, _ := md.GetValue(MetaEpoch); v != "7" || md.FindKey(MetaStreamBatches) >= 0 {
		t.Errorf("first batch metadata %v", md)
	}
	for {
		if _, err := r.Next(); err != nil {
			if err != io.EOF || !r.Complete() {
				t.Fatalf("end: %v, complete %v", err, r.Complete())
			}
			break
		}
	}
	r.Release()

	schema, _ := NewSchema(fixtureCases()[0].layout)
	buf.Reset()
	if _, err := WriteIPC(&buf, schema, RecordSeq()); err != nil {
		t.Fatal(err)
	}
	if n, complete, err := readStream(t, buf.Bytes()); n != 0 || !complete || err != nil {
		t.Errorf("empty stream: %d batches, complete %v, %v", n, complete, err)
	}
	if _, _, err := readStream(t, buf.Bytes()[:buf.Len()-8]); !errors.Is(err, ErrTruncated) {
		t.Errorf("empty stream without its end marker: %v, want ErrTruncated", err)
	}
}

// TestReadVersion1: version-1 streams (written before the summary existed)
// still read, with completeness unknown.
func TestReadVersion1(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "arrow", "v1", "*.arrows"))
	if len(files) == 0 {
		t.Fatal("no version-1 streams in testdata/arrow/v1")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ReadIPC(bytes.NewReader(data), nil)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if r.Version() != 1 {
			t.Errorf("%s: version %d", f, r.Version())
		}
		n := 0
		for _, err := range r.All() {
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			n++
		}
		if n == 0 || r.Complete() {
			t.Errorf("%s: %d batches, complete %v (want unknown: false)", f, n, r.Complete())
		}
		r.Release()
	}
}

// TestWriteOldVersionRefused: the writer writes the current version only.
func TestWriteOldVersionRefused(t *testing.T) {
	s, _ := NewSchema(fixtureCases()[0].layout)
	md := s.Metadata()
	vals := append([]string(nil), md.Values()...)
	vals[md.FindKey(MetaSchemaVersion)] = "1"
	old := arrow.NewSchema(s.Fields(), func() *arrow.Metadata { m := arrow.NewMetadata(md.Keys(), vals); return &m }())
	if _, err := NewIPCWriter(io.Discard, old); !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("NewIPCWriter(v1 schema): %v", err)
	}
}
