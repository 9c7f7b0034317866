package arrowpair

import (
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair/internal/ipcguard"
)

// IPCWriter writes pairflow record batches as an Arrow IPC stream
// (SCHEMA.md §5).
type IPCWriter struct {
	w      *ipc.Writer
	schema *arrow.Schema
}

// NewIPCWriter starts a stream of batches of schema on w. The schema must be a
// pairflow schema (ParseSchema); it is written on the first Write, or by Close
// for an empty stream.
func NewIPCWriter(w io.Writer, schema *arrow.Schema) (*IPCWriter, error) {
	if _, err := ParseSchema(schema); err != nil {
		return nil, err
	}
	return &IPCWriter{w: ipc.NewWriter(w, ipc.WithSchema(schema)), schema: schema}, nil
}

// Write writes rec, whose schema must equal the stream's. It does not Release
// rec.
func (w *IPCWriter) Write(rec arrow.RecordBatch) error {
	if !rec.Schema().Equal(w.schema) {
		return fmt.Errorf("%w: record schema %s differs from the stream's", ErrNotPairflow, fieldList(rec.Schema()))
	}
	if err := w.w.Write(rec); err != nil {
		return fmt.Errorf("arrowpair: writing IPC record batch: %w", err)
	}
	return nil
}

// Close ends the stream (writing the schema if no batch was written and the
// end-of-stream marker). It does not close the underlying io.Writer.
func (w *IPCWriter) Close() error {
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("arrowpair: closing IPC stream: %w", err)
	}
	return nil
}

// WriteIPC writes schema and every batch of recs to w as one IPC stream and
// ends it. It takes ownership of each batch recs yields and Releases it after
// writing (the receiver's side of the hand-over rule); it stops at the first
// error, from recs or from writing. It returns the number of batches written.
func WriteIPC(w io.Writer, schema *arrow.Schema, recs iter.Seq2[arrow.RecordBatch, error]) (int, error) {
	iw, err := NewIPCWriter(w, schema)
	if err != nil {
		return 0, err
	}
	n := 0
	for rec, err := range recs {
		if err != nil {
			if rec != nil {
				rec.Release()
			}
			return n, errors.Join(err, iw.w.Close())
		}
		err = iw.Write(rec)
		rec.Release()
		if err != nil {
			return n, errors.Join(err, iw.w.Close())
		}
		n++
	}
	return n, iw.Close()
}

// RecordSeq adapts a slice of record batches to the sequence WriteIPC takes.
// The batches' ownership passes with them: WriteIPC Releases each, so a
// caller that keeps using them Retains them first.
func RecordSeq(recs ...arrow.RecordBatch) iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for i, rec := range recs {
			if !yield(rec, nil) {
				for _, r := range recs[i+1:] {
					r.Release()
				}
				return
			}
		}
	}
}

// DefaultMaxBatchBytes is the default bound on one IPC message body (one
// record batch), 1 GiB: a 256-pair 224×224 float32 contrastive batch is
// about 308 MB.
const DefaultMaxBatchBytes = 1 << 30

// ReadOption configures ReadIPC.
type ReadOption func(*readConfig)

type readConfig struct {
	maxBatch int64
}

// WithMaxBatchBytes bounds the body of one record batch (default
// DefaultMaxBatchBytes). A corrupt stream can make the reader allocate up to
// this much once; larger batches are refused with ErrCorrupt.
func WithMaxBatchBytes(n int64) ReadOption {
	return func(c *readConfig) { c.maxBatch = n }
}

// IPCReader reads a pairflow IPC stream.
type IPCReader struct {
	r      *ipc.Reader
	layout Layout
	err    error
	n      int // batches read
}

// ReadIPC opens an Arrow IPC stream of pairflow batches from r, allocating
// from mem (nil: memory.DefaultAllocator). It reads the schema at once and
// refuses a stream whose pairflow.schema_version is not SchemaVersion
// (ErrSchemaVersion) or whose columns are not SCHEMA.md's (ErrNotPairflow).
// The caller must Release the reader.
//
// The stream may be untrusted: malformed framing or metadata, a batch over
// the size limit (WithMaxBatchBytes), compression, or arrays whose buffers do
// not cover them fail with ErrCorrupt, naming the batch, instead of
// panicking or allocating without bound.
func ReadIPC(r io.Reader, mem memory.Allocator, opts ...ReadOption) (*IPCReader, error) {
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	cfg := readConfig{maxBatch: DefaultMaxBatchBytes}
	for _, o := range opts {
		o(&cfg)
	}
	msgs := ipcguard.NewMessages(r, mem, cfg.maxBatch)
	ir, err := ipc.NewReaderFromMessageReader(msgs, ipc.WithAllocator(mem), ipc.WithEnsureNativeEndian(true))
	// The ipc.Reader owns msgs now and releases it, also on error.
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
		return nil, fmt.Errorf("arrowpair: reading IPC stream schema: %w", err)
	}
	l, err := ParseSchema(ir.Schema())
	if err != nil {
		ir.Release()
		return nil, err
	}
	if ir.Schema().Endianness() != endian.LittleEndian {
		ir.Release()
		return nil, fmt.Errorf("%w: %s stream; pairflow streams are little-endian", ErrCorrupt, ir.Schema().Endianness())
	}
	msgs.SetSchema(ir.Schema())
	return &IPCReader{r: ir, layout: l}, nil
}

// Schema returns the stream's schema.
func (r *IPCReader) Schema() *arrow.Schema { return r.r.Schema() }

// Layout returns the stream's layout, read from its schema.
func (r *IPCReader) Layout() Layout { return r.layout }

// Next returns the next record batch, or (nil, io.EOF) at the end of the
// stream. The batch is borrowed: it is valid until the next call to Next or
// Release; Retain it to keep it longer (and Release it then).
func (r *IPCReader) Next() (arrow.RecordBatch, error) {
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.r.Read()
	if err == nil {
		if cerr := ipcguard.CheckRecord(rec); cerr != nil {
			err = fmt.Errorf("%w: record batch %d: %v", ErrCorrupt, r.n, cerr)
		}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			if !errors.Is(err, ErrCorrupt) {
				err = fmt.Errorf("%w: %w", ErrCorrupt, err)
			}
			err = fmt.Errorf("arrowpair: reading IPC record batch %d: %w", r.n, err)
		}
		r.err = err
		return nil, err
	}
	r.n++
	return rec, nil
}

// All returns the remaining batches as a sequence, ending at the end of the
// stream or after yielding the first error. Each batch is borrowed, as from
// Next: valid during its loop iteration.
func (r *IPCReader) All() iter.Seq2[arrow.RecordBatch, error] {
	return func(yield func(arrow.RecordBatch, error) bool) {
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if !yield(rec, err) || err != nil {
				return
			}
		}
	}
}

// Release frees the reader and the batch it last returned.
func (r *IPCReader) Release() { r.r.Release() }
