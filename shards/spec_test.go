package shards_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/pairflow/pairflow/shards"
)

// specRecord is a record as FORMAT.md describes it.
type specRecord struct {
	enc            uint8
	label          int32
	hasLabel       bool
	w, h, c        int
	key, meta, pix []byte // pix: decoded pixels (raw) or payload
}

// parseBySpec reads a shard using only FORMAT.md, independently of the
// package's reader, so the document and the code cannot drift apart.
func parseBySpec(t *testing.T, f []byte) []specRecord {
	t.Helper()
	tab := crc32.MakeTable(crc32.Castagnoli)
	masked := func(b []byte) uint32 {
		c := crc32.Checksum(b, tab)
		return ((c >> 15) | (c << 17)) + 0xa282ead8
	}
	le := binary.LittleEndian
	if !bytes.Equal(f[:8], []byte{0x89, 'P', 'F', 'S', '\r', '\n', 0x1a, '\n'}) || le.Uint32(f[8:]) != 1 {
		t.Fatal("header magic/version")
	}
	if masked(f[:20]) != le.Uint32(f[20:]) {
		t.Fatal("header CRC")
	}
	d := int(le.Uint32(f[12:]))
	dict := f[24 : 24+d]
	if masked(dict) != le.Uint32(f[16:]) {
		t.Fatal("dictionary CRC")
	}
	zopts := []zstd.DOption{}
	if d > 0 {
		if !bytes.Equal(dict[:4], []byte{0x37, 0xa4, 0x30, 0xec}) {
			t.Fatal("dictionary is not in the zstd dictionary format")
		}
		zopts = append(zopts, zstd.WithDecoderDicts(dict))
	}
	zd, err := zstd.NewReader(nil, zopts...)
	if err != nil {
		t.Fatal(err)
	}
	defer zd.Close()
	var recs []specRecord
	var offsets []uint64
	off := 24 + d
	frame := func() []byte {
		l := int(le.Uint64(f[off:]))
		if masked(f[off:off+8]) != le.Uint32(f[off+8:]) {
			t.Fatalf("length CRC at %d", off)
		}
		body := f[off+12 : off+12+l]
		if masked(body) != le.Uint32(f[off+12+l:]) {
			t.Fatalf("body CRC at %d", off)
		}
		off += 16 + l
		return body
	}
	for {
		start := off
		b := frame()
		if len(b) == 0 {
			offsets = append(offsets, uint64(start)) // T
			break
		}
		offsets = append(offsets, uint64(start))
		r := specRecord{enc: b[0], hasLabel: b[1]&1 != 0, c: int(b[2]),
			w: int(le.Uint32(b[4:])), h: int(le.Uint32(b[8:])), label: int32(le.Uint32(b[12:]))}
		k, m := int(le.Uint16(b[16:])), int(le.Uint16(b[18:]))
		r.key, r.meta = b[20:20+k], b[20+k:20+k+m]
		p := b[20+k+m:]
		switch r.enc {
		case 1:
			r.pix, err = zd.DecodeAll(p, nil)
		case 2:
			r.pix, err = s2.Decode(nil, p)
		default:
			r.pix = p
		}
		if err != nil || (r.enc <= 2 && len(r.pix) != r.w*r.h*r.c) {
			t.Fatalf("payload of %q: %v", r.key, err)
		}
		recs = append(recs, r)
	}
	indexOff := off
	idx := frame()
	n := le.Uint64(idx)
	if n != uint64(len(recs)) || len(idx) != 8+8*int(n+1) {
		t.Fatal("index count")
	}
	for i, o := range offsets {
		if le.Uint64(idx[8+8*i:]) != o {
			t.Fatalf("index entry %d", i)
		}
	}
	tr := f[off:]
	if len(tr) != 24 || string(tr[20:]) != "PFSE" || masked(tr[:16]) != le.Uint32(tr[16:]) ||
		le.Uint64(tr) != uint64(indexOff) || le.Uint64(tr[8:]) != n {
		t.Fatal("trailer")
	}
	return recs
}

func TestFormatSpec(t *testing.T) {
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "spec", Dictionary: true})
	if err != nil {
		t.Fatal(err)
	}
	encs := []shards.Encoding{shards.RawZstd, shards.RawS2, shards.JPEG}
	for i := range 300 {
		pix := make([]byte, 8*8*3)
		seed := uint32(i)*2654435761 + 1
		for j := range pix {
			seed = seed*1664525 + 1013904223
			pix[j] = byte(j*4+i) ^ byte(seed>>29) // gradient plus a little noise
		}
		r := &shards.Record{Key: fmt.Sprintf("k%d", i), Width: 8, Height: 8, Channels: 3, Encoding: encs[i%3], Payload: pix,
			Label: int32(-i), HasLabel: i%2 == 0, Meta: []byte(fmt.Sprint(i))}
		if !r.HasLabel {
			r.Label = 0
		}
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "spec-00000.pfs"), filepath.Join("testdata", "golden", "train-00000.pfs")} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if p != filepath.Join("testdata", "golden", "train-00000.pfs") && binary.LittleEndian.Uint32(data[12:]) == 0 {
			t.Fatal("no dictionary written")
		}
		recs := parseBySpec(t, data)
		s, err := shards.OpenShard(bytes.NewReader(data), int64(len(data)), filepath.Base(p))
		if err != nil {
			t.Fatal(err)
		}
		if s.Len() != len(recs) {
			t.Fatalf("%s: %d records by spec, %d by package", p, len(recs), s.Len())
		}
		var r shards.Record
		for i, sr := range recs {
			if err := s.Record(i, &r); err != nil {
				t.Fatal(err)
			}
			pix := r.Payload
			if r.Encoding.IsRaw() {
				pix, _ = r.AppendPixels(nil)
			}
			if r.Key != string(sr.key) || uint8(r.Encoding) != sr.enc || r.Label != sr.label || r.HasLabel != sr.hasLabel ||
				r.Width != sr.w || r.Height != sr.h || r.Channels != sr.c || !bytes.Equal(r.Meta, sr.meta) || !bytes.Equal(pix, sr.pix) {
				t.Fatalf("%s record %d: package and spec disagree", p, i)
			}
		}
		s.Close()
	}
}
