//go:build unix

package shards

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// mapping is a read-only memory map of a whole shard file, read through
// ReadAt: a small read is a copy out of the page cache with no system call
// (the win for small records such as Fashion-MNIST's, where a pread per
// record is a large share of the read cost). Reads of at least preadMin
// bytes go through the file instead (one pread: cheaper than the page faults
// of a large copy, and the pages do not count against the process's
// resident memory). Callers still check every CRC on the copied bytes, so
// what they parse is what they checked even if the file changes underneath.
type mapping struct {
	data []byte
	f    *os.File
	set  *mapSet
}

// preadMin is the read size from which ReadAt uses pread.
const preadMin = 64 << 10

// mapBudget bounds the mapped pages a Dataset keeps resident (they count in
// the process's RSS although they are page cache): once about this many
// bytes have been read out of a Dataset's mappings whose total size is
// larger, every mapping's pages are dropped from the process (MADV_DONTNEED;
// the page cache keeps them) and fault back in as they are read. A variable
// for tests.
var mapBudget int64 = 256 << 20

// faultAround is what one read may map beyond its own bytes (the kernel maps
// up to 64 KiB around a faulting page of a file mapping).
const faultAround = 64 << 10

// mapSet is the mappings of one Dataset, for the resident-memory budget.
// Mappings are added as shards open (all at Open for a local split, as
// they are fetched for a remote one), hence the lock.
type mapSet struct {
	mu      sync.Mutex
	maps    []*mapping
	total   atomic.Int64
	touched atomic.Int64
}

func (s *mapSet) add(m *mapping) {
	s.mu.Lock()
	s.maps = append(s.maps, m)
	s.mu.Unlock()
	s.total.Add(int64(len(m.data)))
}

// note counts n bytes read and drops the mappings' pages when over budget.
func (s *mapSet) note(n int) {
	if s.total.Load() <= mapBudget {
		return // everything mapped fits the budget
	}
	if s.touched.Add(int64(n)+faultAround) > mapBudget && s.touched.Swap(0) > mapBudget {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, m := range s.maps {
			if m.data != nil {
				_ = unix.Madvise(m.data, unix.MADV_DONTNEED) // advice: failure only costs memory
			}
		}
	}
}

// mapFile maps f's first size bytes read-only. ok is false (and the caller
// reads f with pread instead) when the file cannot be mapped: size 0, a size
// beyond the address space, a file system without mmap.
func mapFile(f *os.File, size int64, set *mapSet) (m *mapping, ok bool) {
	if size <= 0 || size > math.MaxInt {
		return nil, false
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, false
	}
	m = &mapping{data: data, f: f, set: set}
	set.add(m)
	return m, true
}

// ReadAt reads len(b) bytes at off. Reading past the end is io.EOF after the
// bytes that exist, as for an *os.File. A page that can no longer be read
// (the file was truncated under the live mapping: SIGBUS) becomes an
// ErrTruncated error instead of crashing the process.
func (m *mapping) ReadAt(b []byte, off int64) (n int, err error) {
	if off < 0 {
		return 0, fmt.Errorf("shards: negative offset %d", off)
	}
	if len(b) >= preadMin {
		return m.f.ReadAt(b, off)
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n, err = m.copyAt(b, off)
	m.set.note(n)
	return n, err
}

func (m *mapping) copyAt(b []byte, off int64) (n int, err error) {
	old := debug.SetPanicOnFault(true)
	defer func() {
		debug.SetPanicOnFault(old)
		if v := recover(); v != nil {
			if _, fault := v.(interface{ Addr() uintptr }); !fault {
				panic(v)
			}
			n, err = 0, fmt.Errorf("%w: memory fault reading the mapped file at offset %d (was it truncated while open?): %v", ErrTruncated, off, v)
		}
	}()
	n = copy(b, m.data[off:])
	if n < len(b) {
		err = io.EOF
	}
	return n, err
}

// close unmaps the file. Reads after close are a programmer error.
func (m *mapping) close() error {
	if m == nil || m.data == nil {
		return nil
	}
	err := unix.Munmap(m.data)
	m.data = nil
	return err
}
