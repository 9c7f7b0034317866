//go:build unix

package shards

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// TestMmapMatchesPread: a mapped Dataset reads every record exactly as the
// pread path does, and corruption is still caught on every read.
func TestMmapMatchesPread(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 60, WriterOptions{MaxShardRecords: 25})
	mapped, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer mapped.Close()
	for j := range mapped.slots {
		if m := mapped.slots[j].Load().mp; m == nil {
			t.Fatalf("shard %d is not mapped", j)
		}
	}
	t.Setenv(NoMmapEnv, "1")
	plain, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	for j := range plain.slots {
		if m := plain.slots[j].Load().mp; m != nil {
			t.Fatalf("%s set, yet a shard is mapped", NoMmapEnv)
		}
	}
	var a, b Record
	for i := range mapped.Len() {
		if err := mapped.Record(i, &a); err != nil {
			t.Fatal(err)
		}
		if err := plain.Record(i, &b); err != nil {
			t.Fatal(err)
		}
		sameRecord(t, &a, testRecord(RawS2, i))
		sameRecord(t, &b, testRecord(RawS2, i))
	}
	if err := mapped.Record(mapped.Len(), &a); !errors.Is(err, ErrInvalid) {
		t.Errorf("record past the end: %v", err)
	}
}

// TestMmapBudgetDrops: with a resident budget far below the dataset, the
// mappings' pages are dropped over and over while reading, from several
// goroutines, and every record still reads back intact.
func TestMmapBudgetDrops(t *testing.T) {
	old := mapBudget
	mapBudget = 4 << 10
	defer func() { mapBudget = old }()
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 80, WriterOptions{MaxShardRecords: 30})
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(d.mapSet.maps) != d.NumShards() || d.mapSet.total.Load() <= mapBudget {
		t.Fatalf("%d mappings of %d bytes for %d shards", len(d.mapSet.maps), d.mapSet.total.Load(), d.NumShards())
	}
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			var r Record
			for k := range 3 * d.Len() {
				i := (k*7 + w) % d.Len()
				if err := d.Record(i, &r); err != nil {
					t.Error(err)
					return
				}
				if r.Key != testRecord(RawS2, i).Key {
					t.Errorf("record %d: key %q", i, r.Key)
					return
				}
			}
		})
	}
	wg.Wait()
	var r Record
	for i := range d.Len() {
		if err := d.Record(i, &r); err != nil {
			t.Fatal(err)
		}
		sameRecord(t, &r, testRecord(RawS2, i))
	}
}

// TestMmapCorruptAfterOpen: bytes flipped in the file after Open show through
// the shared mapping and fail the record's CRC.
func TestMmapCorruptAfterOpen(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 10, WriterOptions{})
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := d.Shard(0)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, d.Manifest().Shards[0].File)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	off := s.offsets[3] + 20 // inside record 3's body
	var c [1]byte
	if _, err := f.ReadAt(c[:], off); err != nil {
		t.Fatal(err)
	}
	c[0] ^= 0x55
	if _, err := f.WriteAt(c[:], off); err != nil {
		t.Fatal(err)
	}
	var r Record
	if err := d.Record(3, &r); !errors.Is(err, ErrChecksum) {
		t.Errorf("record 3 after corruption: %v, want ErrChecksum", err)
	}
	if err := d.Record(2, &r); err != nil {
		t.Errorf("record 2: %v", err)
	}
}

// TestMmapTruncatedUnderMapping: a shard file truncated while mapped makes
// its missing pages fault (SIGBUS); the read returns an error naming the
// shard and record instead of crashing the process.
func TestMmapTruncatedUnderMapping(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 400, WriterOptions{})
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s, err := d.Shard(0)
	if err != nil {
		t.Fatal(err)
	}
	last := s.Len() - 1
	if s.offsets[last] < 3*int64(os.Getpagesize()) {
		t.Skipf("shard of %d bytes: too small to cut on a page boundary", s.size)
	}
	path := filepath.Join(dir, d.Manifest().Shards[0].File)
	if err := os.Truncate(path, int64(os.Getpagesize())); err != nil {
		t.Fatal(err)
	}
	var r Record
	err = d.Record(last, &r)
	var se *Error
	if !errors.As(err, &se) || !errors.Is(err, ErrTruncated) || se.Record != last || se.Path != d.Manifest().Shards[0].File {
		t.Fatalf("reading a truncated mapped shard: %v", err)
	}
	t.Log(err)
}

// BenchmarkRecordReadMmap reads 28×28 raw-s2 records (Fashion-MNIST sized)
// in a random order, CRC checked, no decode: mapped shards (a copy per
// record) against pread (a system call per record), in the same run.
func BenchmarkRecordReadMmap(b *testing.B) {
	dir := b.TempDir()
	w, err := Create(dir, WriterOptions{Split: "train", MaxShardRecords: 4096})
	if err != nil {
		b.Fatal(err)
	}
	const n = 16384
	for i := range n {
		r := &Record{Key: fmt.Sprintf("img%05d", i), Width: 28, Height: 28, Channels: 1,
			Encoding: RawS2, Payload: synthPixels(28, 28, 1, uint64(i))}
		if err := w.Append(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"mmap", "pread"} {
		b.Run(mode, func(b *testing.B) {
			if mode == "pread" {
				b.Setenv(NoMmapEnv, "1")
			}
			d, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			var r Record
			var bytes int64
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if err := d.Record(int(uint32(i)*2654435761%n), &r); err != nil {
					b.Fatal(err)
				}
				bytes += int64(len(r.Payload))
			}
			b.SetBytes(bytes / int64(b.N))
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
		})
	}
}
