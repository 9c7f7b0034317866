package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ShmReader reads a ticket's stream over the shared-memory transport
// (shm.go): the records it returns point into the ring the server writes,
// without a copy. A record's slot is handed back to the server when the
// record is Released — by the next Read, or later if the caller Retained
// it; the server has at most `slots` batches in the ring, so a caller that
// keeps `slots` records stops its stream until it releases one, and the
// stream ends (io.EOF) once every record read is released.
type ShmReader struct {
	*ipc.Reader
	msgs *shmMessages
}

// NewShmReader opens ticket over DoExchange and maps the ring the server
// announces. Cancel ctx to stop the stream. An error wrapping
// ErrShmUnavailable means the ring cannot be opened here (another machine,
// another user): read the ticket with DoGet instead. The batches, their
// metadata and the summary are those DoGet would give.
func NewShmReader(ctx context.Context, c flight.Client, ticket []byte, slots int, opts ...ipc.Option) (*ShmReader, error) {
	req, err := json.Marshal(ShmRequest{Version: ShmRequestVersion, Ticket: ticket, Slots: slots})
	if err != nil {
		return nil, err
	}
	st, err := c.DoExchange(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Send(&flight.FlightData{FlightDescriptor: &flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: req}}); err != nil {
		if errors.Is(err, io.EOF) { // the server ended the call first (a refusal): its status says why
			if _, rerr := st.Recv(); rerr != nil && !errors.Is(rerr, io.EOF) {
				err = rerr
			}
		}
		return nil, err
	}
	m := &shmMessages{stream: st, bySlot: map[*byte]int64{}, done: map[int64]bool{}}
	m.refs.Store(1)
	r, err := ipc.NewReaderFromMessageReader(m, opts...)
	if err != nil {
		m.close()
		return nil, err
	}
	// Map the ring now (it is announced before the first batch), so that a
	// client that cannot use it learns so before reading anything.
	if err := m.peek(); err != nil {
		r.Release()
		m.close()
		return nil, err
	}
	return &ShmReader{Reader: r, msgs: m}, nil
}

// LatestAppMetadata returns the tags of the last batch read (a JSON
// object, as DoGet's app_metadata), without the transport's own keys.
func (r *ShmReader) LatestAppMetadata() []byte { return r.msgs.latestApp() }

// Release releases the reader and the current record; the ring is unmapped
// once every record read from it is released.
func (r *ShmReader) Release() {
	r.Reader.Release()
	r.msgs.close()
}

// shmMessages is the ipc.MessageReader of a shared-memory stream.
type shmMessages struct {
	stream  flight.FlightService_DoExchangeClient
	sendMu  sync.Mutex
	refs    atomic.Int64
	pending *flight.FlightData
	peekErr error
	last    *ipc.Message // released at the next Message (as ipc's own reader does)

	mu        sync.Mutex
	ring      []byte
	slots     int
	slotBytes int64
	next      int64           // the next ring batch expected
	released  int64           // ring batches released, in order (sent upstream)
	done      map[int64]bool  // released out of order
	bySlot    map[*byte]int64 // body start → seq, of the batches outstanding
	live      int             // batches outstanding
	closing   bool            // unmap when live reaches 0
	app       []byte
}

func (m *shmMessages) Retain() { m.refs.Add(1) }
func (m *shmMessages) Release() {
	if m.refs.Add(-1) == 0 {
		m.close()
	}
}

func (m *shmMessages) latestApp() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.app
}

// close unmaps the ring once no batch points into it.
func (m *shmMessages) close() {
	if m.last != nil {
		m.last.Release()
		m.last = nil
	}
	m.mu.Lock()
	m.closing = true
	ring := m.ring
	if m.live > 0 || ring == nil {
		m.mu.Unlock()
		return
	}
	m.ring = nil
	m.mu.Unlock()
	unmapRing(ring)
}

// recv returns the next FlightData (a peeked one first).
func (m *shmMessages) recv() (*flight.FlightData, error) {
	if m.pending != nil {
		fd := m.pending
		m.pending = nil
		return fd, nil
	}
	return m.stream.Recv()
}

// peek reads the message after the schema: a ring announcement is acted
// on, anything else is kept for Message.
func (m *shmMessages) peek() error {
	fd, err := m.stream.Recv()
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unavailable && strings.HasPrefix(st.Message(), shmRingFailed) {
			return fmt.Errorf("%w: %s", ErrShmUnavailable, st.Message())
		}
		m.peekErr = err
		return nil // Message returns it
	}
	if len(fd.DataHeader) == 0 && len(fd.AppMetadata) > 0 {
		msg, err := decodeShmMessage(fd.AppMetadata)
		if err != nil {
			return err
		}
		if msg.ring != nil {
			return m.mapRing(msg.ring)
		}
	}
	m.pending = fd
	return nil
}

// mapRing maps an announced ring and tells the server it may unlink it.
func (m *shmMessages) mapRing(a *shmAnnounce) error {
	m.mu.Lock()
	had := m.ring != nil
	m.mu.Unlock()
	if had {
		return fmt.Errorf("%w: a second ring announced", ErrShm)
	}
	data, err := mapRing(a.path, a.bytes)
	if err != nil {
		return err
	}
	if err := shmRingHeader(data, a.nonce, a.slots, a.slotBytes); err != nil {
		unmapRing(data)
		return fmt.Errorf("%w: %s: %v", ErrShmUnavailable, a.path, err)
	}
	m.mu.Lock()
	m.ring, m.slots, m.slotBytes = data, a.slots, a.slotBytes
	m.mu.Unlock()
	return m.ack(0)
}

func (m *shmMessages) ack(n int64) error {
	m.sendMu.Lock()
	defer m.sendMu.Unlock()
	return m.stream.Send(&flight.FlightData{AppMetadata: []byte(`{"released":` + strconv.FormatInt(n, 10) + `}`)})
}

// Message returns the next IPC message: the schema or an inline batch as
// sent, a ring batch decoded in place.
func (m *shmMessages) Message() (*ipc.Message, error) {
	if m.last != nil {
		m.last.Release()
		m.last = nil
	}
	im, err := m.message()
	m.last = im
	return im, err
}

func (m *shmMessages) message() (*ipc.Message, error) {
	if m.peekErr != nil {
		err := m.peekErr
		m.peekErr = nil
		return nil, err
	}
	for {
		fd, err := m.recv()
		if err != nil {
			return nil, err
		}
		if len(fd.DataHeader) > 0 {
			m.mu.Lock()
			m.app = fd.AppMetadata
			m.mu.Unlock()
			return ipc.NewMessage(memory.NewBufferBytes(fd.DataHeader), memory.NewBufferBytes(fd.DataBody)), nil
		}
		if len(fd.AppMetadata) == 0 {
			continue
		}
		msg, err := decodeShmMessage(fd.AppMetadata)
		if err != nil {
			return nil, err
		}
		if msg.ring != nil {
			if err := m.mapRing(msg.ring); err != nil {
				return nil, err
			}
			continue
		}
		return m.slotMessage(msg)
	}
}

// slotMessage decodes a ring batch in place; its body buffer's release
// (slotAllocator.Free) hands the slot back.
func (m *shmMessages) slotMessage(msg *shmMsg) (im *ipc.Message, err error) {
	m.mu.Lock()
	if m.ring == nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("%w: a ring batch before the ring's announcement", ErrShm)
	}
	b, err := locateSlot(msg, int64(len(m.ring)), m.slots, m.slotBytes, m.next)
	if err != nil {
		m.mu.Unlock()
		return nil, err
	}
	b = m.ring[msg.offset : msg.offset+msg.length]
	m.next++
	m.app = msg.tags
	m.mu.Unlock()
	meta, body, err := splitIPCMessage(b)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			im, err = nil, fmt.Errorf("%w: batch %d: unreadable IPC message: %v", ErrShm, msg.seq, p)
		}
	}()
	metaBuf := memory.NewBufferBytes(bytes.Clone(meta))
	var bodyBuf *memory.Buffer
	if len(body) == 0 {
		bodyBuf = memory.NewBufferBytes(nil)
		m.free(msg.seq, false)
	} else {
		m.mu.Lock()
		m.bySlot[&body[0]] = msg.seq
		m.live++
		m.mu.Unlock()
		bodyBuf = memory.NewBufferWithAllocator(body, (*slotAllocator)(m))
	}
	im = ipc.NewMessage(metaBuf, bodyBuf)
	bodyBuf.Release() // im holds it
	if im.Type() != ipc.MessageRecordBatch || im.BodyLen() != int64(len(body)) {
		im.Release()
		return nil, fmt.Errorf("%w: batch %d: a %v message with a %d-byte body in %d bytes", ErrShm, msg.seq, im.Type(), im.BodyLen(), len(body))
	}
	return im, nil
}

// free records batch seq released and reports the released prefix upstream.
func (m *shmMessages) free(seq int64, live bool) {
	m.mu.Lock()
	m.done[seq] = true
	before := m.released
	for m.done[m.released] {
		delete(m.done, m.released)
		m.released++
	}
	n := m.released
	var unmap []byte
	if live {
		m.live--
		if m.closing && m.live == 0 {
			unmap, m.ring = m.ring, nil
		}
	}
	m.mu.Unlock()
	if n != before {
		m.ack(n) // an error means the stream is over: nothing to tell
	}
	if unmap != nil {
		unmapRing(unmap)
	}
}

// slotAllocator receives the Free of a ring batch's body buffer.
type slotAllocator shmMessages

func (a *slotAllocator) Allocate(int) []byte { panic("serve: ring memory is not allocated") }
func (a *slotAllocator) Reallocate(int, []byte) []byte {
	panic("serve: ring memory is not allocated")
}
func (a *slotAllocator) Free(b []byte) {
	m := (*shmMessages)(a)
	m.mu.Lock()
	seq, ok := m.bySlot[&b[0]]
	delete(m.bySlot, &b[0])
	m.mu.Unlock()
	if ok {
		m.free(seq, true)
	}
}

// shmAnnounce is a ring announcement.
type shmAnnounce struct {
	path             string
	bytes, slotBytes int64
	slots            int
	nonce            []byte
}

// shmMsg is a decoded server message of the transport: a ring announcement,
// or a ring batch with its tags (JSON, the transport's keys removed).
type shmMsg struct {
	ring                *shmAnnounce
	seq, offset, length int64
	tags                []byte
}

// decodeShmMessage decodes the app_metadata of a metadata-only message
// (untrusted input).
func decodeShmMessage(app []byte) (*shmMsg, error) {
	if len(app) > 1<<20 {
		return nil, fmt.Errorf("%w: app_metadata of %d bytes", ErrShm, len(app))
	}
	var kv map[string]string
	if err := json.Unmarshal(app, &kv); err != nil {
		return nil, fmt.Errorf("%w: app_metadata: %v", ErrShm, err)
	}
	num := func(k string, lo, hi int64) (int64, error) {
		s, ok := kv[k]
		if !ok {
			return 0, fmt.Errorf("%w: message lacks %s", ErrShm, k)
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < lo || v > hi {
			return 0, fmt.Errorf("%w: %s = %q (want %d..%d)", ErrShm, k, s, lo, hi)
		}
		return v, nil
	}
	if path, ok := kv[shmKeyRing]; ok {
		a := &shmAnnounce{path: path}
		if path == "" || strings.ContainsRune(path, 0) {
			return nil, fmt.Errorf("%w: ring path %q", ErrShm, path)
		}
		slots, err := num(shmKeySlots, 1, MaxShmSlots)
		if err != nil {
			return nil, err
		}
		a.slots = int(slots)
		if a.slotBytes, err = num(shmKeySlotBytes, shmSlotAlign, MaxShmRingBytes); err != nil {
			return nil, err
		}
		if a.bytes, err = num(shmKeyRingBytes, shmHeaderBytes, shmHeaderBytes+MaxShmRingBytes); err != nil {
			return nil, err
		}
		if a.bytes < shmHeaderBytes+slots*a.slotBytes { // the slots, then maybe a tensor area
			return nil, fmt.Errorf("%w: ring of %d bytes for %d slots of %d", ErrShm, a.bytes, slots, a.slotBytes)
		}
		if a.nonce, err = hex.DecodeString(kv[shmKeyNonce]); err != nil || len(a.nonce) != 16 {
			return nil, fmt.Errorf("%w: ring nonce %q", ErrShm, kv[shmKeyNonce])
		}
		if len(kv) != 5 {
			return nil, fmt.Errorf("%w: ring announcement with %d keys", ErrShm, len(kv))
		}
		return &shmMsg{ring: a}, nil
	}
	var m shmMsg
	var err error
	if m.seq, err = num(shmKeySeq, 0, 1<<62); err != nil {
		return nil, err
	}
	if m.offset, err = num(shmKeyOffset, shmHeaderBytes, shmHeaderBytes+MaxShmRingBytes); err != nil {
		return nil, err
	}
	if m.length, err = num(shmKeyLength, 8, MaxShmRingBytes); err != nil {
		return nil, err
	}
	tags := make(map[string]string, len(kv))
	for k, v := range kv {
		switch {
		case k == shmKeySeq || k == shmKeyOffset || k == shmKeyLength:
		case strings.HasPrefix(k, shmKeyPrefix):
			return nil, fmt.Errorf("%w: unknown key %s", ErrShm, k)
		default:
			tags[k] = v
		}
	}
	m.tags, _ = json.Marshal(tags)
	return &m, nil
}

// locateSlot checks a ring batch's place against the ring: the next batch
// in order, starting at its slot, within the mapping (a message whose
// tensors lie in the ring's tensor area reaches past its slot, into the
// area).
func locateSlot(m *shmMsg, ringLen int64, slots int, slotBytes, next int64) ([]byte, error) {
	if m.seq != next {
		return nil, fmt.Errorf("%w: ring batch %d, want %d", ErrShm, m.seq, next)
	}
	want := shmHeaderBytes + (m.seq%int64(slots))*slotBytes
	if m.offset != want || m.offset+m.length > ringLen {
		return nil, fmt.Errorf("%w: ring batch %d at [%d, +%d) (its slot starts at %d, slots of %d, in a %d-byte ring)",
			ErrShm, m.seq, m.offset, m.length, want, slotBytes, ringLen)
	}
	return nil, nil
}

// splitIPCMessage splits an encapsulated IPC message (continuation marker,
// metadata length, metadata, body) into its metadata and body.
func splitIPCMessage(b []byte) (meta, body []byte, err error) {
	if len(b) < 8 || binary.LittleEndian.Uint32(b) != 0xFFFFFFFF {
		return nil, nil, fmt.Errorf("%w: ring batch is not an IPC message", ErrShm)
	}
	n := int64(binary.LittleEndian.Uint32(b[4:]))
	if n < 8 || n%8 != 0 || n > int64(len(b))-8 {
		return nil, nil, fmt.Errorf("%w: IPC metadata of %d bytes in a %d-byte message", ErrShm, n, len(b))
	}
	return b[8 : 8+n], b[8+n:], nil
}
