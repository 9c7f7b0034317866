package main

import (
	"bytes"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Zero-copy sending of record batches. arrow-go's Flight writer copies each
// batch's buffers into one []byte (FlightData.data_body), which protobuf then
// copies again into the message; for 77 MB batches on a machine whose cores
// also run the pipeline, those copies cost more than the pipeline's own work.
// Here the message is encoded by hand — the same protobuf bytes as
// FlightData {data_header = 2, app_metadata = 3, data_body = 1000} — as a
// list of slices that point into the batch's Arrow buffers, which gRPC
// writes straight to its connection buffer. The batch stays Retained until
// gRPC frees the last slice (mem.Buffer reference counts), so its memory is
// not reused (BatchBuilder recycles released batches) while still queued.
// Any Flight client reads the messages: the wire format is unchanged.

// flightCodec is gRPC's proto codec that also encodes *zcMessage.
type flightCodec struct{ proto encoding.CodecV2 }

func newFlightCodec() flightCodec { return flightCodec{proto: encoding.GetCodecV2("proto")} }

func (c flightCodec) Name() string { return c.proto.Name() }

func (c flightCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

func (c flightCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*zcMessage)
	if !ok {
		return c.proto.Marshal(v)
	}
	m.marshaled = true
	hdr := make([]byte, 0, len(m.header)+len(m.app)+32)
	hdr = protowire.AppendTag(hdr, 2, protowire.BytesType)
	hdr = protowire.AppendBytes(hdr, m.header)
	if len(m.app) > 0 {
		hdr = protowire.AppendTag(hdr, 3, protowire.BytesType)
		hdr = protowire.AppendBytes(hdr, m.app)
	}
	if m.bodyLen > 0 {
		hdr = protowire.AppendTag(hdr, 1000, protowire.BytesType)
		hdr = protowire.AppendVarint(hdr, uint64(m.bodyLen))
	}
	out := mem.BufferSlice{mem.SliceBuffer(hdr)}
	rel := &releaser{fn: m.release}
	rel.n.Add(1) // held until the loop ends
	for _, p := range m.body {
		if mem.IsBelowBufferPoolingThreshold(len(p)) {
			out = append(out, mem.SliceBuffer(bytes.Clone(p)))
			continue
		}
		rel.n.Add(1)
		p = p[:len(p):len(p)]
		out = append(out, mem.NewBuffer(&p, rel))
	}
	rel.Put(nil)
	return out, nil
}

// releaser is the "pool" of a message's referenced slices: when gRPC has
// freed them all, it releases the batch.
type releaser struct {
	n  atomic.Int64
	fn func()
}

func (r *releaser) Get(int) *[]byte { panic("serve: releaser hands out no buffers") }

func (r *releaser) Put(*[]byte) {
	if r.n.Add(-1) == 0 {
		r.fn()
	}
}

// zcMessage is one FlightData message whose body stays in Arrow memory.
type zcMessage struct {
	header, app []byte
	body        [][]byte
	bodyLen     int
	release     func()
	marshaled   bool
}

// pieces collects the slices Payload.SerializeBody writes, without copying.
type pieces struct {
	parts [][]byte
	n     int
}

func (p *pieces) Write(b []byte) (int, error) {
	p.parts = append(p.parts, b)
	p.n += len(b)
	return len(b), nil
}

// zcPayloadWriter is an ipc.PayloadWriter sending each payload as one
// zcMessage on a DoGet stream.
type zcPayloadWriter struct {
	ss  grpc.ServerStream
	rec arrow.RecordBatch // the batch being written; nil for the schema
	app []byte

	mu      sync.Mutex
	pending map[*zcMessage]struct{} // sent, not yet freed by gRPC
	drained chan struct{}           // closed when pending empties, if waited for
}

func (w *zcPayloadWriter) Start() error { return nil }
func (w *zcPayloadWriter) Close() error { return nil }

func (w *zcPayloadWriter) WritePayload(p ipc.Payload) error {
	meta := p.Meta()
	m := &zcMessage{header: bytes.Clone(meta.Bytes()), app: w.app}
	meta.Release()
	var body pieces
	if err := p.SerializeBody(&body); err != nil {
		return err
	}
	m.body, m.bodyLen = body.parts, body.n
	// Body slices point into the batch's buffers (kept by the Retain below)
	// or, for buffers the IPC writer made itself, into Go memory that the
	// slices keep alive.
	rec := w.rec
	if rec != nil {
		rec.Retain()
	}
	var once sync.Once
	m.release = func() {
		once.Do(func() {
			if rec != nil {
				rec.Release()
			}
			w.mu.Lock()
			delete(w.pending, m)
			if len(w.pending) == 0 && w.drained != nil {
				close(w.drained)
				w.drained = nil
			}
			w.mu.Unlock()
		})
	}
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[*zcMessage]struct{}{}
	}
	w.pending[m] = struct{}{}
	w.mu.Unlock()
	err := w.ss.SendMsg(m)
	if !m.marshaled {
		m.release()
	}
	return err
}

// finish waits until gRPC has freed every message sent. gRPC frees a queued
// message when it writes it or when the stream is reset, but not those of a
// connection that closed abruptly (their transport is gone and will not write
// them): so once the stream is done (gone), it waits at most grace more and
// then releases the rest itself; without this their batches would stay
// Retained.
func (w *zcPayloadWriter) finish(done <-chan struct{}, grace time.Duration) {
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	w.drained = ch
	w.mu.Unlock()
	select {
	case <-ch:
		return
	case <-done:
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-ch:
		return
	case <-t.C:
	}
	w.mu.Lock()
	left := make([]*zcMessage, 0, len(w.pending))
	for m := range w.pending {
		left = append(left, m)
	}
	w.mu.Unlock()
	for _, m := range left {
		m.release()
	}
}

// flightSink returns the write and close of a DoGet stream: each batch goes
// as one FlightData message, zero-copy, with its tags as app_metadata. The
// caller runs finish when the stream's handler ends (see zcPayloadWriter.finish).
func flightSink(fs flight.FlightService_DoGetServer, schema *arrow.Schema, alloc memory.Allocator) (write func(arrow.RecordBatch, []string, []string) error, closeOK func() error, finish func()) {
	pw := &zcPayloadWriter{ss: fs}
	w := ipc.NewWriterWithPayloadWriter(pw, ipc.WithSchema(schema), ipc.WithAllocator(alloc))
	write = func(rec arrow.RecordBatch, keys, vals []string) error {
		pw.rec, pw.app = rec, appMetadata(keys, vals)
		defer func() { pw.rec, pw.app = nil, nil }()
		return w.Write(rec)
	}
	finish = func() { pw.finish(fs.Context().Done(), time.Second) }
	return write, w.Close, finish
}

// ClientCodec is a gRPC codec for Go Flight clients of this service that
// decodes FlightData with one copy instead of two: the message is gathered
// into one fresh slice (never pooled memory, so it may outlive the call) and
// data_body aliases it, where protobuf would copy the body out again. Other
// messages use the proto codec. Use it with
// grpc.WithDefaultCallOptions(grpc.ForceCodecV2(ClientCodec())).
func ClientCodec() encoding.CodecV2 { return clientCodec{proto: encoding.GetCodecV2("proto")} }

type clientCodec struct{ proto encoding.CodecV2 }

func (c clientCodec) Name() string                           { return c.proto.Name() }
func (c clientCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

func (c clientCodec) Unmarshal(data mem.BufferSlice, v any) error {
	fd, ok := v.(*flight.FlightData)
	if !ok {
		return c.proto.Unmarshal(data, v)
	}
	b := data.Materialize()
	var out flight.FlightData
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		if typ != protowire.BytesType || (num != 1 && num != 2 && num != 3 && num != 1000) {
			// Not a field this codec knows: leave it to protobuf.
			return c.proto.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data.Materialize())}, v)
		}
		val, m := protowire.ConsumeBytes(b[n:])
		if m < 0 {
			return protowire.ParseError(m)
		}
		switch num {
		case 1:
			out.FlightDescriptor = &flight.FlightDescriptor{}
			if err := c.proto.Unmarshal(mem.BufferSlice{mem.SliceBuffer(val)}, out.FlightDescriptor); err != nil {
				return err
			}
		case 2:
			out.DataHeader = val
		case 3:
			out.AppMetadata = val
		case 1000:
			out.DataBody = val
		}
		b = b[n+m:]
	}
	fd.FlightDescriptor, fd.DataHeader, fd.AppMetadata, fd.DataBody = out.FlightDescriptor, out.DataHeader, out.AppMetadata, out.DataBody
	return nil
}
