package main

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	flatbuffers "github.com/google/flatbuffers/go"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/pipeline"
)

// The tensor area of a ring (docs/serve.md, "Same host"). For a stream
// whose ring can be made before its pipeline starts, the ring file holds,
// after its slots, a tensor area of fixed-size chunks, and the stream's
// pipeline allocates through a chunkAllocator: every allocation of a tensor
// column's size takes a free chunk, so the batch's images are written by
// the pipeline's workers straight into the ring. Writing such a batch then
// copies only its small buffers (ids, keys, labels, parameters) into the
// slot; the IPC message's Buffer offsets point, past the slot, at the
// tensors' chunks, and its bodyLength covers them (the IPC format allows any
// 8-byte-aligned buffer offsets within the body). The server keeps the
// record — and so its chunks — until the client releases that batch. When
// no chunk is free the allocation falls back to the parent allocator and
// the batch goes the copying way (into its slot, or inline when it does not
// fit): never a wait.

// shmSmallRowBytes is the room per row and non-tensor column a ring with a
// tensor area reserves in its slots (strings included; a batch whose small
// buffers do not fit goes inline).
const shmSmallRowBytes = 256

// tensorPlan sizes a ring's tensor area and its slots.
type tensorPlan struct {
	chunkBytes int64 // one chunk: the largest tensor column of a batch
	chunks     int
	smallBytes int64 // a batch's non-tensor buffers, estimated
}

// shmTensorChunks, when > 0 (tests), replaces the planned chunk count.
var shmTensorChunks = 0

// planTensors sizes the tensor area of a stream of schema under cfg read
// through slots slots: enough chunks for every batch alive at once — those
// the pipeline builds and queues, the one send holds back, the one being
// written and those in the client's slots. ok is false when the schema has
// no tensor column.
func planTensors(schema *arrow.Schema, cfg *pipeline.Config, slots int) (tensorPlan, bool) {
	rows := int64(cfg.BatchSize)
	var p tensorPlan
	cols := 0
	for _, f := range schema.Fields() {
		t, ok := f.Type.(*arrowpair.FixedShapeTensorType)
		if !ok {
			p.smallBytes += rows * shmSmallRowBytes
			continue
		}
		w, ok := t.ValueType().(arrow.FixedWidthDataType)
		if !ok {
			return p, false
		}
		n := rows * int64(t.NumElements()) * int64(w.BitWidth()/8)
		p.chunkBytes = max(p.chunkBytes, (n+shmSlotAlign-1)&^(shmSlotAlign-1))
		cols++
	}
	if cols == 0 || p.chunkBytes == 0 {
		return p, false
	}
	// As pipeline.run's KeepBatches: Prefetch queued, one handed over, one
	// held, those the workers write (8 ring slots per worker).
	workers, prefetch := cfg.Workers, cfg.Prefetch
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) // as pipeline.Config's default
	}
	if prefetch <= 0 {
		prefetch = 2
	}
	live := prefetch + 2 + (8*workers+cfg.BatchSize-1)/cfg.BatchSize + 1
	p.chunks = cols * (live + slots + 2)
	if shmTensorChunks > 0 {
		p.chunks = shmTensorChunks
	}
	return p, true
}

// chunkAllocator hands out a ring's tensor chunks to allocations of more
// than half a chunk, and everything else (or when none is free) to parent.
// It is safe for concurrent use.
type chunkAllocator struct {
	parent memory.Allocator
	area   []byte // the tensor area of the server's mapping
	chunk  int

	mu     sync.Mutex
	free   []int // free chunk indices
	out    int   // chunks handed out
	closed bool  // the ring is closed: no more chunks handed out
	unmap  func()
}

func newChunkAllocator(parent memory.Allocator, area []byte, chunk int) *chunkAllocator {
	a := &chunkAllocator{parent: parent, area: area, chunk: chunk}
	for i := len(area)/chunk - 1; i >= 0; i-- {
		a.free = append(a.free, i)
	}
	return a
}

// index returns the chunk b starts in, or -1 when b is not in the area.
func (a *chunkAllocator) index(b []byte) int {
	if cap(b) == 0 || len(a.area) == 0 {
		return -1
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(a.area)))
	if d >= uintptr(len(a.area)) {
		return -1
	}
	return int(d) / a.chunk
}

// areaOffset returns where b starts in the tensor area, or -1.
func (a *chunkAllocator) areaOffset(b []byte) int64 {
	if len(b) == 0 || a.index(b) < 0 {
		return -1
	}
	return int64(uintptr(unsafe.Pointer(unsafe.SliceData(b))) - uintptr(unsafe.Pointer(unsafe.SliceData(a.area))))
}

func (a *chunkAllocator) Allocate(size int) []byte {
	if size > a.chunk/2 && size <= a.chunk {
		a.mu.Lock()
		if n := len(a.free); n > 0 && !a.closed {
			i := a.free[n-1]
			a.free = a.free[:n-1]
			a.out++
			a.mu.Unlock()
			return a.area[i*a.chunk : i*a.chunk+size : i*a.chunk+a.chunk]
		}
		a.mu.Unlock()
	}
	return a.parent.Allocate(size)
}

func (a *chunkAllocator) Reallocate(size int, b []byte) []byte {
	if a.index(b) < 0 {
		return a.parent.Reallocate(size, b)
	}
	nb := a.Allocate(size)
	copy(nb, b)
	a.Free(b)
	return nb
}

func (a *chunkAllocator) Free(b []byte) {
	i := a.index(b)
	if i < 0 {
		a.parent.Free(b)
		return
	}
	a.mu.Lock()
	a.free = append(a.free, i)
	a.out--
	var unmap func()
	if a.closed && a.out == 0 {
		unmap, a.unmap = a.unmap, nil
	}
	a.mu.Unlock()
	if unmap != nil {
		unmap()
	}
}

// close stops handing out chunks and calls unmap once every chunk handed
// out is freed (at once if none is out).
func (a *chunkAllocator) close(unmap func()) {
	a.mu.Lock()
	a.closed = true
	if a.out > 0 {
		a.unmap = unmap
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	unmap()
}

// bodyRecorder records the buffers Payload.SerializeBody writes (each
// non-empty buffer, then its padding to 64 bytes), without copying.
type bodyRecorder struct {
	bufs [][]byte
	pad  int // the next write is this much padding
}

func (r *bodyRecorder) Write(p []byte) (int, error) {
	if r.pad > 0 {
		if len(p) != r.pad {
			return 0, fmt.Errorf("serve: IPC body padding of %d bytes, want %d", len(p), r.pad)
		}
		r.pad = 0
		return len(p), nil
	}
	r.bufs = append(r.bufs, p)
	r.pad = int(bitutil.CeilByte64(int64(len(p))) - int64(len(p)))
	return len(p), nil
}

// batchBuffers finds, in the flatbuffer metadata of an IPC record batch
// message, the Message table and the RecordBatch's buffers vector (16-byte
// Buffer structs: offset, length). ok is false for anything else (another
// message type, compressed bodies).
func batchBuffers(meta []byte) (msg flatbuffers.Table, vec flatbuffers.UOffsetT, n int, ok bool) {
	if len(meta) < 8 {
		return msg, 0, 0, false
	}
	msg = flatbuffers.Table{Bytes: meta, Pos: flatbuffers.GetUOffsetT(meta)}
	const recordBatch = 3 // MessageHeader.RecordBatch
	if msg.GetByteSlot(6, 0) != recordBatch {
		return msg, 0, 0, false
	}
	o := flatbuffers.UOffsetT(msg.Offset(8))
	if o == 0 || msg.Offset(10) == 0 { // no header, or no bodyLength field to patch
		return msg, 0, 0, false
	}
	var rb flatbuffers.Table
	msg.Union(&rb, o)
	if rb.Offset(10) != 0 { // compressed
		return msg, 0, 0, false
	}
	ob := flatbuffers.UOffsetT(rb.Offset(8))
	if ob == 0 {
		return msg, 0, 0, false
	}
	return msg, rb.Vector(ob), rb.VectorLen(ob), true
}

// zeroCopy is the plan of a batch message whose tensor buffers lie in the
// ring's tensor area: per entry of the metadata's buffers vector, either a
// small buffer copied into the slot (packed from the body's start) or a
// buffer referenced where it lies in the area.
type zeroCopy struct {
	meta    []byte // the payload's metadata (not modified)
	vec     int    // the buffers vector's position in meta
	bufs    []bodyBuf
	small   int64 // the small buffers' bytes, padded
	areaOff int64 // the tensor area's file offset
	bodyLen int64 // set by put
}

// bodyBuf is one entry of the buffers vector: b copied at off in the body
// (area < 0), or referenced at area in the tensor area.
type bodyBuf struct {
	b    []byte
	off  int64
	area int64
}

// planZeroCopy plans meta's batch, whose body SerializeBody wrote as bufs.
// It returns nil when no buffer lies in a's area, or when the metadata and
// the buffers do not match as expected (the batch then goes the copying
// way).
func planZeroCopy(meta []byte, bufs [][]byte, a *chunkAllocator, areaOff int64) *zeroCopy {
	_, vec, n, ok := batchBuffers(meta)
	if !ok || int(vec)+16*n > len(meta) {
		return nil
	}
	z := &zeroCopy{meta: meta, vec: int(vec), bufs: make([]bodyBuf, n), areaOff: areaOff}
	next, inRing := 0, false
	for j := range n {
		length := int64(binary.LittleEndian.Uint64(meta[z.vec+16*j+8:]))
		e := bodyBuf{off: z.small, area: -1}
		if length > 0 {
			if next >= len(bufs) || int64(len(bufs[next])) != length {
				return nil
			}
			e.b = bufs[next]
			next++
			if ao := a.areaOffset(e.b); ao >= 0 {
				e.area, inRing = ao, true
			} else {
				z.small += bitutil.CeilByte64(length)
			}
		}
		z.bufs[j] = e
	}
	if next != len(bufs) || !inRing {
		return nil
	}
	return z
}

// put writes the message into dst, the slot at file offset off: the
// encapsulated metadata with its buffer offsets and bodyLength patched, and
// the small buffers. It returns the message's length, from the slot's start
// to the end of its last buffer in the tensor area.
func (z *zeroCopy) put(dst []byte, off int64) int64 {
	pre := ipcPrefix(len(z.meta))
	binary.LittleEndian.PutUint32(dst[0:], 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(dst[4:], uint32(pre-8))
	meta := dst[8 : 8+len(z.meta)]
	copy(meta, z.meta)
	clear(dst[8+len(z.meta) : pre])
	body := dst[pre:]
	bodyStart := off + int64(pre)
	end := z.small
	for j, e := range z.bufs {
		o := e.off
		if e.area >= 0 {
			o = z.areaOff + e.area - bodyStart
			end = max(end, o+bitutil.CeilByte64(int64(len(e.b))))
		} else if len(e.b) > 0 {
			n := copy(body[o:], e.b)
			clear(body[o+int64(n) : o+bitutil.CeilByte64(int64(n))])
		}
		binary.LittleEndian.PutUint64(meta[z.vec+16*j:], uint64(o))
	}
	msg, _, _, _ := batchBuffers(meta)
	msg.MutateInt64Slot(10, end)
	z.bodyLen = end
	return int64(pre) + end
}
