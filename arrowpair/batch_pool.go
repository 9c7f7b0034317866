package arrowpair

import (
	"sync"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// recycler is the allocator of a BatchBuilder's tensor buffers. When a
// record batch is Released — on whatever goroutine — its tensor buffers come
// back here instead of going to the parent allocator, up to limit bytes, and
// the next batch reuses them: no fresh allocation, zeroing or page faults per
// batch once the stream is running. Buffers of other sizes, buffers over the
// limit and everything freed after close go to the parent.
//
// Reused buffers are not cleared: BatchBuilder hands out a slot only for its
// caller to overwrite completely.
type recycler struct {
	parent memory.Allocator
	mu     sync.Mutex
	free   map[int][][]byte // by length
	held   int
	limit  int
	closed bool
}

func newRecycler(parent memory.Allocator, limit int) *recycler {
	return &recycler{parent: parent, free: map[int][][]byte{}, limit: limit}
}

func (r *recycler) Allocate(size int) []byte {
	r.mu.Lock()
	if list := r.free[size]; len(list) > 0 {
		b := list[len(list)-1]
		r.free[size] = list[:len(list)-1]
		r.held -= size
		r.mu.Unlock()
		return b
	}
	r.mu.Unlock()
	return r.parent.Allocate(size)
}

func (r *recycler) Reallocate(size int, b []byte) []byte {
	return r.parent.Reallocate(size, b)
}

func (r *recycler) Free(b []byte) {
	r.mu.Lock()
	if !r.closed && r.held+len(b) <= r.limit {
		r.free[len(b)] = append(r.free[len(b)], b)
		r.held += len(b)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	r.parent.Free(b)
}

// close returns every kept buffer to the parent; later frees go straight
// there.
func (r *recycler) close() {
	r.mu.Lock()
	free := r.free
	r.free, r.held, r.closed = nil, 0, true
	r.mu.Unlock()
	for _, list := range free {
		for _, b := range list {
			r.parent.Free(b)
		}
	}
}
