package main

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// TestChunkAllocator: allocations of more than half a chunk take free
// chunks, the rest (and any once none is free) go to the parent; Free and
// Reallocate send each buffer back where it came from; close unmaps at
// once when no chunk is out, else when the last one comes back.
func TestChunkAllocator(t *testing.T) {
	parent := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer parent.AssertSize(t, 0)
	area := make([]byte, 3*4096)
	a := newChunkAllocator(parent, area, 4096)
	in := func(b []byte) bool { return a.areaOffset(b) >= 0 }

	small := a.Allocate(2048) // half a chunk: the parent's
	if in(small) || parent.CurrentAlloc() != 2048 {
		t.Fatalf("small allocation in the area (%v) or not the parent's (%d bytes)", in(small), parent.CurrentAlloc())
	}
	var chunks [][]byte
	for i := range 3 {
		b := a.Allocate(4000)
		if !in(b) || len(b) != 4000 || a.areaOffset(b)%4096 != 0 {
			t.Fatalf("chunk %d: in area %v, %d bytes at %d", i, in(b), len(b), a.areaOffset(b))
		}
		chunks = append(chunks, b)
	}
	over := a.Allocate(4096) // none free: the parent's
	if in(over) {
		t.Fatal("a fourth chunk handed out of three")
	}
	big := a.Allocate(8192) // over a chunk: the parent's
	if parent.CurrentAlloc() != 2048+4096+8192 {
		t.Fatalf("over a chunk: parent holds %d bytes", parent.CurrentAlloc())
	}
	a.Free(over)
	a.Free(big)
	a.Free(chunks[0])
	// Reallocate out of a chunk: the data moves, the chunk comes back.
	chunks[1][0] = 42
	moved := a.Reallocate(10000, chunks[1])
	if in(moved) || moved[0] != 42 || a.out != 1 {
		t.Fatalf("reallocated: in area %v, first byte %d, %d chunks out", in(moved), moved[0], a.out)
	}
	a.Free(moved)
	unmapped := false
	a.close(func() { unmapped = true })
	if unmapped {
		t.Fatal("unmapped while a chunk is out")
	}
	if b := a.Allocate(4000); in(b) { // closed: the parent's
		t.Fatal("a chunk handed out after close")
	} else {
		a.Free(b)
	}
	a.Free(chunks[2])
	if !unmapped {
		t.Fatal("not unmapped once the last chunk came back")
	}
	a.Free(small)
}
