package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/pipeline"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The same-host shared-memory transport (docs/serve.md, "Same host"). A
// client on the server's machine opens DoExchange and sends, as the first
// message's CMD descriptor, a ShmRequest naming a ticket. The server streams
// the ticket's batches as DoGet would — the same schema message, batches,
// tags, summary, errors and limits — except that each record batch's Arrow
// IPC message (the data_header and data_body DoGet sends, encapsulated as in
// an IPC stream) is written into a slot of a ring file it creates in
// /dev/shm (mode 0600, random name), and the FlightData carries only
// app_metadata: the batch's tags plus where its message lies
// (pairflow.shm.seq, .offset, .length). Before the first such batch the
// server announces the ring (pairflow.shm.ring, …); the client maps it
// read-only, answers {"released":0} (upon which the server unlinks the
// file), decodes each batch zero-copy from the mapping, and reports through
// the exchange how many ring batches it has released ({"released":N},
// cumulative): batch seq n uses slot n mod slots, and the server waits
// until it is released before reusing it — the slots are the stream's
// backpressure. The stream ends once the client has released every batch.
// A batch too large for its slot is sent inline, as DoGet would send it.

// ErrShm is wrapped by the errors of malformed shared-memory requests and
// messages (from the network, in either direction).
var ErrShm = errors.New("serve: bad shared-memory transport message")

const (
	// ShmRequestVersion is the version a ShmRequest carries.
	ShmRequestVersion = 1
	// DefaultShmSlots and MaxShmSlots bound a request's ring slots.
	DefaultShmSlots = 4
	MaxShmSlots     = 64
	// MaxShmRingBytes bounds a ring (slots × slot size).
	MaxShmRingBytes = 16 << 30

	shmMagic       = "PFSHMRNG"
	shmHeaderBytes = 4096 // the ring's header page; slots follow
	shmSlotAlign   = 4096
	maxShmRequest  = maxTicketBytes*2 + 4096 // base64 ticket and a few fields

	// App-metadata keys of the transport (never part of a batch's tags).
	// shmRingFailed starts the Unavailable status of a server that cannot
	// create a ring (clients read it as "use DoGet").
	shmRingFailed = "serve: cannot create the shared-memory ring"

	shmKeyPrefix    = "pairflow.shm."
	shmKeyRing      = "pairflow.shm.ring"
	shmKeyRingBytes = "pairflow.shm.ring_bytes"
	shmKeySlots     = "pairflow.shm.slots"
	shmKeySlotBytes = "pairflow.shm.slot_bytes"
	shmKeyNonce     = "pairflow.shm.nonce"
	shmKeySeq       = "pairflow.shm.seq"
	shmKeyOffset    = "pairflow.shm.offset"
	shmKeyLength    = "pairflow.shm.length"
)

// ShmRequest is what a client sends, as JSON in the CMD FlightDescriptor of
// its first DoExchange message, to read a ticket over shared memory.
type ShmRequest struct {
	Version int    `json:"version"`
	Ticket  []byte `json:"ticket"`          // a ticket of GetFlightInfo (base64 in JSON)
	Slots   int    `json:"slots,omitempty"` // ring slots (0: DefaultShmSlots)
}

// parseShmRequest reads and checks a ShmRequest (untrusted input).
func parseShmRequest(d *flight.FlightDescriptor) (*ShmRequest, error) {
	if d == nil || d.GetType() != flight.DescriptorCMD {
		return nil, fmt.Errorf("%w: the first DoExchange message must carry a CMD descriptor holding the shm request JSON", ErrShm)
	}
	b := d.GetCmd()
	if len(b) > maxShmRequest {
		return nil, fmt.Errorf("%w: request of %d bytes (at most %d)", ErrShm, len(b), maxShmRequest)
	}
	var r ShmRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: request: %v", ErrShm, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: request: data after the JSON object", ErrShm)
	}
	switch {
	case r.Version != ShmRequestVersion:
		return nil, fmt.Errorf("%w: request version %d (this server speaks %d)", ErrShm, r.Version, ShmRequestVersion)
	case len(r.Ticket) == 0:
		return nil, fmt.Errorf("%w: request without a ticket", ErrShm)
	case r.Slots < 0 || r.Slots > MaxShmSlots:
		return nil, fmt.Errorf("%w: slots %d (1..%d, 0 for %d)", ErrShm, r.Slots, MaxShmSlots, DefaultShmSlots)
	}
	if r.Slots == 0 {
		r.Slots = DefaultShmSlots
	}
	return &r, nil
}

// parseShmAck reads a client's {"released":N} (untrusted input).
func parseShmAck(app []byte) (int64, error) {
	if len(app) > 256 {
		return 0, fmt.Errorf("%w: acknowledgement of %d bytes", ErrShm, len(app))
	}
	var a struct {
		Released *int64 `json:"released"`
	}
	dec := json.NewDecoder(bytes.NewReader(app))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil || a.Released == nil || *a.Released < 0 || dec.More() {
		return 0, fmt.Errorf("%w: want app_metadata {\"released\":N}, got %q", ErrShm, app)
	}
	return *a.Released, nil
}

// DoExchange serves a ticket over the shared-memory transport.
func (s *Server) DoExchange(fs flight.FlightService_DoExchangeServer) error {
	first, err := fs.Recv()
	if err != nil {
		return err
	}
	req, err := parseShmRequest(first.GetFlightDescriptor())
	if err != nil {
		s.m.refused.WithLabelValues("descriptor").Inc()
		s.log.Info("shm request refused", "err", err)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.releaseSlot()
	st, name, err := s.openTicket(req.Ticket)
	if err != nil {
		s.log.Info("ticket refused", "err", err)
		return err
	}
	ctx, cancel := context.WithCancel(fs.Context())
	defer cancel()
	write, closeOK, finish := shmStream(ctx, cancel, fs, req.Slots, st.schema, s.opt.Allocator, &st.ep.cfg)
	return finish(s.serve(ctx, st, name, "shm", write, closeOK))
}

// shmStream returns the write and close of a shared-memory stream over fs
// (as flightSink does for DoGet). A protocol error of the client cancels
// ctx (through cancel); finish, given the stream's error, releases the
// batches the client still holds, unmaps and removes the ring and returns
// that error, or the client's protocol error in its place.
//
// When cfg is not nil (the config of the pipeline that will make the
// stream's batches, not yet started), the ring is made now with a tensor
// area, and cfg.Allocator becomes the allocator of its chunks (parent:
// cfg.Allocator): the batches' tensors are then written into the ring by
// the pipeline and not copied (shm_tensor.go). If that ring cannot be made,
// the stream goes the copying way, whose ring is made at the first batch.
func shmStream(ctx context.Context, cancel func(), fs flight.FlightService_DoExchangeServer, slots int,
	schema *arrow.Schema, alloc memory.Allocator, cfg *pipeline.Config) (write func(arrow.RecordBatch, []string, []string) error, closeOK func() error, finish func(error) error) {
	sk := &shmSink{fs: fs, slots: slots, ctx: ctx, wake: make(chan struct{}, 1), held: map[int64]arrow.RecordBatch{}}
	if cfg != nil && shmTensorAreas {
		sk.tensorRing(schema, cfg)
	}
	// The client's acknowledgements. Recv returns when the client sends,
	// closes its side, or the stream ends (the handler returning ends it),
	// so the goroutine does not outlive the stream.
	go sk.readAcks(cancel)
	w := ipc.NewWriterWithPayloadWriter(sk, ipc.WithSchema(schema), ipc.WithAllocator(alloc))
	write = func(rec arrow.RecordBatch, keys, vals []string) error {
		sk.rec, sk.keys, sk.vals = rec, keys, vals
		defer func() { sk.rec, sk.keys, sk.vals = nil, nil, nil }()
		if err := w.Write(rec); err != nil {
			return sk.cause(err)
		}
		return nil
	}
	closeOK = func() error {
		if err := w.Close(); err != nil {
			return sk.cause(err)
		}
		return sk.waitReleased()
	}
	finish = func(err error) error {
		sk.releaseHeld(-1)
		sk.close()
		if perr := sk.protocolErr(); perr != nil {
			return status.Error(codes.InvalidArgument, perr.Error())
		}
		return err
	}
	return write, closeOK, finish
}

// shmSink is the ipc.PayloadWriter of a shared-memory stream.
type shmSink struct {
	fs    flight.FlightService_DoExchangeServer
	slots int
	ctx   context.Context
	wake  chan struct{} // a release arrived

	rec        arrow.RecordBatch // the batch being written; nil for the schema
	keys, vals []string

	mu        sync.Mutex
	ring      *shmRing
	announced bool                        // the client was told of the ring
	held      map[int64]arrow.RecordBatch // ring batches whose tensors lie in chunks, by seq, until released
	sent      int64                       // ring batches written
	released  int64                       // ring batches the client released
	perr      error                       // the client broke the protocol
	mapped    bool                        // the client answered the ring's announcement
}

// waitReleased waits, at the end of a stream, until the client has mapped
// the ring (so that it is not removed before the client opens it) and
// released every batch (so that its releases all arrive before the stream
// ends: a client such as Arrow C++'s whose write fails after the end drops
// the messages it has not read yet), or is gone.
func (k *shmSink) waitReleased() error {
	for {
		k.mu.Lock()
		done := !k.announced || (k.mapped && k.released == k.sent)
		k.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-k.wake:
		case <-k.ctx.Done():
			return k.cause(k.ctx.Err())
		}
	}
}

func (k *shmSink) Start() error { return nil }
func (k *shmSink) Close() error { return nil }

// cause returns the client's protocol error, if any, in place of err.
func (k *shmSink) cause(err error) error {
	if perr := k.protocolErr(); perr != nil && err != nil {
		return status.Error(codes.InvalidArgument, perr.Error())
	}
	return err
}

func (k *shmSink) protocolErr() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.perr
}

// readAcks reads the client's messages until the stream ends; a malformed
// one cancels the stream.
func (k *shmSink) readAcks(cancel func()) {
	for {
		fd, err := k.fs.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				cancel() // the client is gone
			}
			return
		}
		n, err := parseShmAck(fd.GetAppMetadata())
		k.mu.Lock()
		if err == nil && (n < k.released || n > k.sent) {
			err = fmt.Errorf("%w: released %d ring batches, after %d, of %d sent", ErrShm, n, k.released, k.sent)
		}
		if err != nil {
			k.perr = err
			k.mu.Unlock()
			cancel()
			return
		}
		k.released = n
		k.mu.Unlock()
		k.releaseHeld(n)
		k.mu.Lock()
		if k.ring != nil {
			k.ring.unlink() // the client has it mapped
			k.mapped = true
		}
		k.mu.Unlock()
		select {
		case k.wake <- struct{}{}:
		default:
		}
	}
}

// tensorRing makes the stream's ring with a tensor area before its
// pipeline starts, and points cfg.Allocator at its chunks; on failure it
// leaves the copying way (a ring made at the first batch).
func (k *shmSink) tensorRing(schema *arrow.Schema, cfg *pipeline.Config) {
	plan, ok := planTensors(schema, cfg, k.slots)
	if !ok {
		return
	}
	slotBytes := shmSlotSize(plan.smallBytes)
	area := int64(plan.chunks) * plan.chunkBytes
	if int64(k.slots)*slotBytes+area > MaxShmRingBytes {
		return
	}
	r, err := createRing(shmDir, k.slots, slotBytes, area)
	if err != nil {
		return
	}
	r.areaOff = shmHeaderBytes + int64(k.slots)*slotBytes
	parent := cfg.Allocator
	if parent == nil {
		parent = memory.DefaultAllocator
	}
	r.alloc = newChunkAllocator(parent, r.data[r.areaOff:], int(plan.chunkBytes))
	cfg.Allocator = r.alloc
	k.ring = r
	if shmRingCreated != nil {
		shmRingCreated(r.path)
	}
}

// releaseHeld releases the held batches the client has released (seq < n;
// all when n < 0), returning their chunks.
func (k *shmSink) releaseHeld(n int64) {
	var recs []arrow.RecordBatch
	k.mu.Lock()
	for seq, rec := range k.held {
		if n < 0 || seq < n {
			recs = append(recs, rec)
			delete(k.held, seq)
		}
	}
	k.mu.Unlock()
	for _, rec := range recs {
		rec.Release()
	}
}

// close unmaps and removes the ring.
func (k *shmSink) close() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.ring != nil {
		k.ring.close()
		k.ring = nil
	}
}

// bodyCounter sums what Payload.SerializeBody writes, without copying.
type bodyCounter int64

func (c *bodyCounter) Write(b []byte) (int, error) { *c += bodyCounter(len(b)); return len(b), nil }

// sliceWriter copies into a fixed slice.
type sliceWriter struct {
	b []byte
	n int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, io.ErrShortWrite
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

// ipcPrefix returns the encapsulated-message prefix length for metadata of
// metaLen bytes: continuation, length, metadata padded so that the body
// starts 64-byte aligned.
func ipcPrefix(metaLen int) int { return (8 + metaLen + 63) &^ 63 }

// putIPCMessage writes the encapsulated IPC message (continuation marker,
// metadata length, metadata, padding, body) into dst, which must hold
// ipcPrefix(len(meta)) + body bytes.
func putIPCMessage(dst, meta []byte, p *ipc.Payload) error {
	pre := ipcPrefix(len(meta))
	binary.LittleEndian.PutUint32(dst[0:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(dst[4:], uint32(pre-8))
	copy(dst[8:], meta)
	clear(dst[8+len(meta) : pre])
	return p.SerializeBody(&sliceWriter{b: dst[pre:]})
}

// shmSlotSize is the slot size of a ring whose first batch message is n
// bytes: room for the summary's extra metadata and small variations (a
// variable: tests shrink it to reach the inline path).
var shmSlotSize = func(n int64) int64 {
	n += n/16 + 64<<10
	return (n + shmSlotAlign - 1) &^ (shmSlotAlign - 1)
}

// shmRingCreated, when set (by tests), sees each ring as it is created.
var shmRingCreated func(path string)

// shmWrote, when set (by tests), sees each batch written into the ring:
// whether its tensors were referenced in the tensor area (not copied).
var shmWrote func(zeroCopy bool)

// shmTensorAreas: streams get a ring with a tensor area (tests turn it off
// to reach the copying way).
var shmTensorAreas = true

// shmRingsMapped counts the server's ring mappings not yet unmapped.
var shmRingsMapped atomic.Int64

func (k *shmSink) WritePayload(p ipc.Payload) error {
	meta := p.Meta()
	defer meta.Release()
	if msg := ipc.NewMessage(meta, memory.NewBufferBytes(nil)); msg.Type() != ipc.MessageRecordBatch {
		msg.Release() // the schema: as DoGet sends it
		return k.fs.Send(&flight.FlightData{DataHeader: bytes.Clone(meta.Bytes())})
	} else {
		msg.Release()
	}
	tags := make(map[string]string, len(k.keys)+3)
	for i, key := range k.keys {
		tags[key] = k.vals[i]
	}
	var body bodyCounter
	p.SerializeBody(&body)
	size := int64(ipcPrefix(meta.Len())) + int64(body)

	k.mu.Lock()
	if k.ring != nil && !k.announced {
		k.announced = true
		k.mu.Unlock()
		if err := k.fs.Send(&flight.FlightData{AppMetadata: k.ring.announce()}); err != nil {
			return err
		}
		k.mu.Lock()
	}
	if k.ring == nil {
		slotBytes := shmSlotSize(size)
		if int64(k.slots)*slotBytes > MaxShmRingBytes {
			k.mu.Unlock()
			return status.Errorf(codes.InvalidArgument, "serve: a ring of %d slots of %d bytes exceeds %d bytes: ask for fewer slots", k.slots, slotBytes, int64(MaxShmRingBytes))
		}
		r, err := createRing(shmDir, k.slots, slotBytes, 0)
		if err != nil {
			k.mu.Unlock()
			return status.Errorf(codes.Unavailable, "%s: %v (read the stream with DoGet instead)", shmRingFailed, err)
		}
		k.ring = r
		k.announced = true
		k.mu.Unlock()
		if shmRingCreated != nil {
			shmRingCreated(r.path)
		}
		if err := k.fs.Send(&flight.FlightData{AppMetadata: r.announce()}); err != nil {
			return err
		}
		k.mu.Lock()
	}
	r := k.ring
	k.mu.Unlock()
	// A batch whose tensors lie in the ring's chunks: only its small
	// buffers are copied (shm_tensor.go).
	var zc *zeroCopy
	if r.alloc != nil {
		var rec bodyRecorder
		if err := p.SerializeBody(&rec); err == nil {
			zc = planZeroCopy(meta.Bytes(), rec.bufs, r.alloc, r.areaOff)
		}
	}
	if (zc == nil && size > r.slotBytes) || (zc != nil && int64(ipcPrefix(meta.Len()))+zc.small > r.slotBytes) {
		return k.sendInline(meta.Bytes(), &p, tags)
	}
	k.mu.Lock()
	seq := k.sent
	for seq-k.released >= int64(r.slots) { // wait for the slot's previous batch to be released
		k.mu.Unlock()
		select {
		case <-k.wake:
		case <-k.ctx.Done():
			return k.ctx.Err()
		}
		k.mu.Lock()
	}
	k.mu.Unlock()
	off := r.offset(seq)
	if zc != nil {
		size = zc.put(r.data[off:], off)
		k.rec.Retain() // its chunks stay the client's until it releases the batch
		k.mu.Lock()
		k.held[seq] = k.rec
		k.mu.Unlock()
	} else if err := putIPCMessage(r.data[off:off+size], meta.Bytes(), &p); err != nil {
		return err
	}
	k.mu.Lock()
	k.sent++
	k.mu.Unlock()
	if shmWrote != nil {
		shmWrote(zc != nil)
	}
	tags[shmKeySeq] = strconv.FormatInt(seq, 10)
	tags[shmKeyOffset] = strconv.FormatInt(off, 10)
	tags[shmKeyLength] = strconv.FormatInt(size, 10)
	app, _ := json.Marshal(tags)
	return k.fs.Send(&flight.FlightData{AppMetadata: app})
}

// sendInline sends a batch as DoGet does (one copy of the body).
func (k *shmSink) sendInline(meta []byte, p *ipc.Payload, tags map[string]string) error {
	var body bytes.Buffer
	if err := p.SerializeBody(&body); err != nil {
		return err
	}
	app, _ := json.Marshal(tags)
	return k.fs.Send(&flight.FlightData{DataHeader: bytes.Clone(meta), DataBody: body.Bytes(), AppMetadata: app})
}

// shmRing is a ring file: a header page, then slots slots of slotBytes,
// then (when alloc is set) the tensor area, at areaOff, up to the end.
type shmRing struct {
	path      string
	data      []byte // the server's read-write mapping
	slots     int
	slotBytes int64
	areaOff   int64
	alloc     *chunkAllocator // the tensor area's chunks; nil without one
	nonce     [16]byte
	unlinked  bool
}

// offset returns the file offset of batch seq's slot.
func (r *shmRing) offset(seq int64) int64 {
	return shmHeaderBytes + (seq%int64(r.slots))*r.slotBytes
}

// announce is the app_metadata that tells the client where the ring is.
func (r *shmRing) announce() []byte {
	b, _ := json.Marshal(map[string]string{
		shmKeyRing:      r.path,
		shmKeyRingBytes: strconv.Itoa(len(r.data)),
		shmKeySlots:     strconv.Itoa(r.slots),
		shmKeySlotBytes: strconv.FormatInt(r.slotBytes, 10),
		shmKeyNonce:     fmt.Sprintf("%x", r.nonce),
	})
	return b
}

// putHeader writes the ring's header page: magic, nonce, slots, slot size,
// ring size.
func (r *shmRing) putHeader() {
	copy(r.data, shmMagic)
	copy(r.data[8:], r.nonce[:])
	binary.LittleEndian.PutUint32(r.data[24:], uint32(r.slots))
	binary.LittleEndian.PutUint64(r.data[32:], uint64(r.slotBytes))
	binary.LittleEndian.PutUint64(r.data[40:], uint64(len(r.data)))
}

// shmRingHeader checks a mapped ring's header against its announcement.
func shmRingHeader(data []byte, nonce []byte, slots int, slotBytes int64) error {
	if len(data) < shmHeaderBytes || string(data[:8]) != shmMagic {
		return fmt.Errorf("%w: not a pairflow ring (bad magic)", ErrShm)
	}
	if !bytes.Equal(data[8:24], nonce) {
		return fmt.Errorf("%w: the ring's nonce differs from the announced one (another machine's file of that name?)", ErrShm)
	}
	if binary.LittleEndian.Uint32(data[24:]) != uint32(slots) || binary.LittleEndian.Uint64(data[32:]) != uint64(slotBytes) ||
		binary.LittleEndian.Uint64(data[40:]) != uint64(len(data)) {
		return fmt.Errorf("%w: the ring's header disagrees with its announcement", ErrShm)
	}
	return nil
}

var _ ipc.PayloadWriter = (*shmSink)(nil)
var _ memory.Allocator = (*slotAllocator)(nil)
