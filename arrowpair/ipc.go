package arrowpair

import (
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/endian"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/arrowpair/internal/ipcguard"
)

// IPCWriter writes pairflow record batches as an Arrow IPC stream
// (SCHEMA.md §5). It holds each batch back until the next one (or Close)
// arrives, so that the last batch can carry the stream's summary (StreamSum):
// only Close, after success, writes the summary and the end-of-stream marker;
// a failed stream is ended with Abort and reads as incomplete.
type IPCWriter struct {
	w      *ipc.Writer
	schema *arrow.Schema
	held   arrow.RecordBatch
	sum    StreamSum
	ended  bool
}

// NewIPCWriter starts a stream of batches of schema on w. The schema must be a
// pairflow schema of the current version (NewSchema); it is written on the
// first batch written, or by Close for an empty stream.
func NewIPCWriter(w io.Writer, schema *arrow.Schema) (*IPCWriter, error) {
	if _, err := ParseSchema(schema); err != nil {
		return nil, err
	}
	if v, _ := schema.Metadata().GetValue(MetaSchemaVersion); v != strconv.Itoa(SchemaVersion) {
		return nil, fmt.Errorf("%w: writing version %s; this package writes version %d only", ErrSchemaVersion, v, SchemaVersion)
	}
	return &IPCWriter{w: ipc.NewWriter(w, ipc.WithSchema(schema)), schema: schema}, nil
}

// Write queues rec, whose schema must equal the stream's, and writes the
// batch queued before it. It does not Release rec (it Retains it while
// queued). Summary keys in rec's own metadata are dropped; other custom
// metadata is kept.
func (w *IPCWriter) Write(rec arrow.RecordBatch) error {
	if w.ended {
		return fmt.Errorf("arrowpair: IPC stream already ended")
	}
	if !rec.Schema().Equal(w.schema) {
		return fmt.Errorf("%w: record schema %s differs from the stream's", ErrNotPairflow, fieldList(rec.Schema()))
	}
	if w.held != nil {
		held := w.held
		w.held = nil
		err := w.writeOut(held, false)
		held.Release()
		if err != nil {
			return err
		}
	}
	rec.Retain()
	w.held = rec
	return nil
}

// writeOut writes rec, with the summary when final.
func (w *IPCWriter) writeOut(rec arrow.RecordBatch, final bool) error {
	w.sum.Add(rec)
	md := batchMetadata(rec)
	var keys, vals []string
	for i, k := range md.Keys() {
		if !isSummaryKey(k) {
			keys, vals = append(keys, k), append(vals, md.Values()[i])
		}
	}
	if final {
		k, v := w.sum.Metadata()
		keys, vals = append(keys, k...), append(vals, v...)
	}
	out := array.NewRecordBatchWithMetadata(rec.Schema(), rec.Columns(), rec.NumRows(), arrow.NewMetadata(keys, vals))
	defer out.Release()
	if err := w.w.Write(out); err != nil {
		return fmt.Errorf("arrowpair: writing IPC record batch: %w", err)
	}
	return nil
}

// Close ends a successful stream: it writes the queued last batch with the
// stream's summary, then the end-of-stream marker (and the schema first, for
// an empty stream). It does not close the underlying io.Writer.
func (w *IPCWriter) Close() error {
	if w.ended {
		return nil
	}
	w.ended = true
	if w.held != nil {
		held := w.held
		w.held = nil
		err := w.writeOut(held, true)
		held.Release()
		if err != nil {
			return err
		}
	}
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("arrowpair: closing IPC stream: %w", err)
	}
	return nil
}

// Abort ends a failed stream: it drops the queued batch and writes neither
// the summary nor the end-of-stream marker, so that a reader of what was
// written sees an incomplete stream (ErrTruncated), never a shorter complete
// one.
func (w *IPCWriter) Abort() {
	if w.ended {
		return
	}
	w.ended = true
	if w.held != nil {
		w.held.Release()
		w.held = nil
	}
}

// Summary returns the summary of the batches written so far.
func (w *IPCWriter) Summary() StreamSum { return w.sum }

// WriteIPC writes schema and every batch of recs to w as one IPC stream and
// ends it (IPCWriter: the last batch carries the summary). It takes
// ownership of each batch recs yields and Releases it after writing (the
// receiver's side of the hand-over rule); it stops at the first error, from
// recs or from writing, and then leaves the stream without its end, so a
// reader sees it incomplete. It returns the number of batches written
// (after an error, handed to the writer).
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
			iw.Abort()
			return n, err
		}
		err = iw.Write(rec)
		rec.Release()
		if err != nil {
			iw.Abort()
			return n, err
		}
		n++
	}
	if err := iw.Close(); err != nil {
		return n, err
	}
	return n, nil
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
	r        *ipc.Reader
	msgs     *ipcguard.Messages
	layout   Layout
	version  int
	err      error
	n        int // batches read
	sum      StreamSum
	summary  bool // the last batch read carried a matching summary
	complete bool
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
	v, _ := ir.Schema().Metadata().GetValue(MetaSchemaVersion)
	version, _ := strconv.Atoi(v) // ParseSchema accepted it
	return &IPCReader{r: ir, msgs: msgs, layout: l, version: version}, nil
}

// Schema returns the stream's schema.
func (r *IPCReader) Schema() *arrow.Schema { return r.r.Schema() }

// Layout returns the stream's layout, read from its schema.
func (r *IPCReader) Layout() Layout { return r.layout }

// Version returns the stream's schema version (1 or 2).
func (r *IPCReader) Version() int { return r.version }

// Complete reports whether the stream was read to its end and verified
// complete: a version-2 stream whose last batch's summary matched the
// batches read and which ended with its end-of-stream marker. It is false
// before the end and for version-1 streams (completeness unknown: they carry
// no summary).
func (r *IPCReader) Complete() bool { return r.complete }

// Next returns the next record batch, or (nil, io.EOF) at the end of the
// stream. The batch is borrowed: it is valid until the next call to Next or
// Release; Retain it to keep it longer (and Release it then).
//
// A version-2 stream must end complete (SCHEMA.md §5.1): one cut short,
// between messages included, or whose summary disagrees with its batches
// fails with ErrTruncated instead of io.EOF. A version-1 stream ends with
// io.EOF at any clean message boundary (completeness unknown).
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
	if err == nil && r.version >= 2 {
		err = r.account(rec)
	}
	if errors.Is(err, io.EOF) && r.version >= 2 {
		switch {
		case !r.msgs.EndMarker():
			err = fmt.Errorf("%w: the stream ends after %d batches without its end-of-stream marker (cut short)", ErrTruncated, r.n)
		case r.n > 0 && !r.summary:
			err = fmt.Errorf("%w: the last of %d batches carries no summary (the writer failed)", ErrTruncated, r.n)
		default:
			r.complete = true
		}
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
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

// account adds rec to the running summary and checks the summary it may
// carry; a batch after a summary is an error.
func (r *IPCReader) account(rec arrow.RecordBatch) error {
	if r.summary {
		return fmt.Errorf("%w: record batch %d follows the stream summary", ErrCorrupt, r.n)
	}
	r.sum.Add(rec)
	has, err := r.sum.Check(batchMetadata(rec))
	r.summary = has && err == nil
	return err
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
