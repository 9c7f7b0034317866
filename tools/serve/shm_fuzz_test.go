package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/flight"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/pipeline"
)

// FuzzShmRequest: a DoExchange request from the network parses into a
// bounded request or fails with ErrShm.
func FuzzShmRequest(f *testing.F) {
	f.Add([]byte(`{"version":1,"ticket":"UEZUMXt9","slots":4}`))
	f.Add([]byte(`{"version":1,"ticket":"UEZUMXt9"}`))
	f.Add([]byte(`{"version":1,"ticket":"!!"}`))
	f.Add([]byte(`{"version":1,"ticket":"UEZUMXt9","slots":-1}{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseShmRequest(&flight.FlightDescriptor{Type: flight.DescriptorCMD, Cmd: b})
		if err != nil {
			if !errors.Is(err, ErrShm) {
				t.Fatalf("error %v does not wrap ErrShm", err)
			}
			return
		}
		if r.Slots < 1 || r.Slots > MaxShmSlots || len(r.Ticket) == 0 || r.Version != ShmRequestVersion {
			t.Fatalf("accepted %+v", r)
		}
	})
}

// FuzzShmAck: a client's acknowledgement parses into a count ≥ 0 or fails
// with ErrShm.
func FuzzShmAck(f *testing.F) {
	f.Add([]byte(`{"released":0}`))
	f.Add([]byte(`{"released":9223372036854775807}`))
	f.Add([]byte(`{"released":-3}`))
	f.Add([]byte(`{"released":1.5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := parseShmAck(b)
		if err != nil {
			if !errors.Is(err, ErrShm) {
				t.Fatalf("error %v does not wrap ErrShm", err)
			}
			return
		}
		if n < 0 {
			t.Fatalf("accepted released %d", n)
		}
	})
}

// capturePayload keeps the encapsulated message of the last record batch
// payload written, as shmSink writes it into a slot.
type capturePayload struct{ msg []byte }

func (c *capturePayload) Start() error { return nil }
func (c *capturePayload) Close() error { return nil }
func (c *capturePayload) WritePayload(p ipc.Payload) error {
	meta := p.Meta()
	defer meta.Release()
	var n bodyCounter
	p.SerializeBody(&n)
	c.msg = make([]byte, ipcPrefix(meta.Len())+int(n))
	return putIPCMessage(c.msg, meta.Bytes(), &p)
}

// fuzzRing is a ring of 3 slots of 8 KiB holding, in slot 1, a real
// record batch message; the fuzzer changes the message that points into it
// and the slot's bytes.
func fuzzRing(f *testing.F) ([]byte, []byte) {
	ds := makeDataset(f, 8, 8, 8)
	cfg := baseConfig()
	cfg.BatchSize, cfg.Workers = 2, 1
	cfg.Recipe = pipeline.Recipes{`{"version":1,"name":"t","channels":3,"ops":[{"op":"resize","size":4}],"output":{"format":"uint8_hwc"}}`}
	p, err := pipeline.New(ds, cfg)
	if err != nil {
		f.Fatal(err)
	}
	defer p.Close()
	var c capturePayload
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			f.Fatal(err)
		}
		w := ipc.NewWriterWithPayloadWriter(&c, ipc.WithSchema(rec.Schema()))
		if err := w.Write(rec); err != nil {
			f.Fatal(err)
		}
		w.Close()
		rec.Release()
		break
	}
	if len(c.msg) == 0 || len(c.msg) > 8192 {
		f.Fatalf("message of %d bytes", len(c.msg))
	}
	ring := make([]byte, shmHeaderBytes+3*8192)
	copy(ring[shmHeaderBytes+8192:], c.msg)
	return ring, c.msg
}

// FuzzShmMessage: a server message of the transport (its app_metadata, and
// the slot bytes it points to) is decoded, located in the ring and read as
// an IPC message without panicking or reaching outside the ring; anything
// wrong fails with ErrShm.
func FuzzShmMessage(f *testing.F) {
	ring, msg := fuzzRing(f)
	f.Add([]byte(fmt.Sprintf(`{"pairflow.epoch":"0","pairflow.batch":"1","pairflow.shm.seq":"1","pairflow.shm.offset":"%d","pairflow.shm.length":"%d"}`,
		shmHeaderBytes+8192, len(msg))), msg[:64])
	f.Add([]byte(`{"pairflow.shm.ring":"/dev/shm/x","pairflow.shm.ring_bytes":"28672","pairflow.shm.slots":"3","pairflow.shm.slot_bytes":"8192","pairflow.shm.nonce":"00112233445566778899aabbccddeeff"}`), []byte{})
	f.Add([]byte(`{"pairflow.shm.seq":"1","pairflow.shm.offset":"12288","pairflow.shm.length":"99999"}`), []byte{0xff, 0xff, 0xff, 0xff, 8, 0, 0, 0})
	f.Add([]byte(`{"pairflow.shm.seq":"1","pairflow.shm.offset":"-1","pairflow.shm.length":"8"}`), []byte{})
	f.Add([]byte(`{"pairflow.shm.seq":"1","pairflow.shm.offset":"12288","pairflow.shm.length":"16384"}`), msg[:64]) // to the ring's end, as a batch whose tensors lie past the slots
	f.Fuzz(func(t *testing.T, app, slotHead []byte) {
		r := bytes.Clone(ring)
		copy(r[shmHeaderBytes+8192:shmHeaderBytes+2*8192], slotHead) // the server's bytes may be anything too
		m, err := decodeShmMessage(app)
		if err != nil {
			if !errors.Is(err, ErrShm) {
				t.Fatalf("error %v does not wrap ErrShm", err)
			}
			return
		}
		if m.ring != nil {
			if m.ring.bytes < shmHeaderBytes+int64(m.ring.slots)*m.ring.slotBytes || m.ring.bytes > shmHeaderBytes+MaxShmRingBytes || len(m.ring.nonce) != 16 {
				t.Fatalf("accepted announcement %+v", m.ring)
			}
			return
		}
		if _, err := locateSlot(m, int64(len(r)), 3, 8192, 1); err != nil {
			if !errors.Is(err, ErrShm) {
				t.Fatalf("error %v does not wrap ErrShm", err)
			}
			return
		}
		if m.offset < shmHeaderBytes || m.offset+m.length > int64(len(r)) {
			t.Fatalf("accepted [%d, +%d) of %d bytes", m.offset, m.length, len(r))
		}
		meta, body, err := splitIPCMessage(r[m.offset : m.offset+m.length])
		if err != nil {
			if !errors.Is(err, ErrShm) {
				t.Fatalf("error %v does not wrap ErrShm", err)
			}
			return
		}
		func() {
			defer func() { recover() }() // arrow-go's reader recovers such panics too (ipc.Reader.next)
			im := ipc.NewMessage(memory.NewBufferBytes(meta), memory.NewBufferBytes(body))
			im.Release()
		}()
	})
}
