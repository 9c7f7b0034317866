//go:build linux

package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"syscall"
)

// shmDir is where rings are created: tmpfs, so the pages are memory.
var shmDir = "/dev/shm"

// createRing creates a ring file of slots × slotBytes, then area bytes of
// tensor area (plus the header page) in dir, mode 0600 under a random name, reserves its memory
// (fallocate: a full tmpfs fails here with an error rather than later with
// SIGBUS) and maps it read-write.
func createRing(dir string, slots int, slotBytes, area int64) (*shmRing, error) {
	size := shmHeaderBytes + int64(slots)*slotBytes + area
	f, err := os.CreateTemp(dir, "pairflow-ring-*")
	if err != nil {
		return nil, err
	}
	path := f.Name()
	defer f.Close()
	fail := func(err error) (*shmRing, error) {
		os.Remove(path)
		return nil, err
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		return fail(fmt.Errorf("reserving %d bytes in %s: %w", size, dir, err))
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return fail(fmt.Errorf("mapping %s: %w", path, err))
	}
	shmRingsMapped.Add(1)
	r := &shmRing{path: path, data: data, slots: slots, slotBytes: slotBytes}
	rand.Read(r.nonce[:])
	r.putHeader()
	return r, nil
}

// unlink removes the ring's file (the mappings stay valid).
func (r *shmRing) unlink() {
	if !r.unlinked {
		r.unlinked = true
		os.Remove(r.path)
	}
}

// close removes the ring's file and unmaps it — once every tensor chunk
// is freed, when it has a tensor area.
func (r *shmRing) close() {
	r.unlink()
	if r.data == nil {
		return
	}
	data := r.data
	r.data = nil
	unmap := func() {
		syscall.Munmap(data)
		shmRingsMapped.Add(-1)
	}
	if r.alloc != nil {
		r.alloc.close(unmap)
		return
	}
	unmap()
}

// ErrShmUnavailable: the client cannot use the shared-memory transport —
// it is not on the server's machine, may not open the ring, or the
// platform lacks it. Read the stream with DoGet instead.
var ErrShmUnavailable = errors.New("serve: shared-memory transport unavailable")

// mapRing maps a ring file read-only; size is the announced size.
func mapRing(path string, size int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: opening the ring %s: %v (is this client on the server's machine, as the same user?)", ErrShmUnavailable, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrShmUnavailable, path, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != size {
		return nil, fmt.Errorf("%w: %s is not the announced ring (%d bytes, want %d)", ErrShmUnavailable, path, fi.Size(), size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("%w: mapping %s: %v", ErrShmUnavailable, path, err)
	}
	return data, nil
}

func unmapRing(b []byte) { syscall.Munmap(b) }
