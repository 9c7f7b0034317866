package shards

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// smallShard writes one shard of n records and returns its bytes and record offsets.
func smallShard(t *testing.T, e Encoding, n int, dict bool) (data []byte, offsets []int64) {
	t.Helper()
	dir := t.TempDir()
	writeSplit(t, dir, e, n, WriterOptions{Dictionary: dict})
	data = readFile(t, filepath.Join(dir, "train-00000.pfs"))
	s, err := OpenShard(bytes.NewReader(data), int64(len(data)), "train-00000.pfs")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return data, s.offsets
}

// readAllSeq reads a shard stream to the end and returns the records read and the error.
func readAllSeq(data []byte) (int, error) {
	rd, err := NewReader(bytes.NewReader(data), "train-00000.pfs")
	if err != nil {
		return 0, err
	}
	var r Record
	for {
		if err := rd.Next(&r); err != nil {
			if err == io.EOF {
				err = nil
			}
			return rd.Count(), err
		}
		if r.Encoding.IsRaw() {
			if _, err := r.AppendPixels(nil); err != nil {
				return rd.Count(), err
			}
		}
	}
}

// wantErr checks err is an *Error wrapping sentinel, naming record rec
// (rec < -1 means any) and containing msg.
func wantErr(t *testing.T, what string, err error, sentinel error, rec int, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, sentinel) || (rec >= -1 && e.Record != rec) || !strings.Contains(err.Error(), msg) {
		t.Fatalf("%s: got %v, want *Error %v naming record %d containing %q", what, err, sentinel, rec, msg)
	}
}

func flip(data []byte, off int64) []byte {
	c := bytes.Clone(data)
	c[off] ^= 0x40
	return c
}

func TestCorruptRecordFields(t *testing.T) {
	const n = 12
	data, offs := smallShard(t, RawS2, n, false)
	for k := range n {
		start, end := offs[k], offs[k+1]
		cases := []struct {
			name string
			off  int64
			msg  string
		}{
			{"length", start + 3, "length checksum mismatch"},
			{"length CRC", start + 9, "length checksum mismatch"},
			{"payload", start + 12 + (end-start-16)/2, "payload checksum mismatch"},
			{"payload CRC", end - 2, "payload checksum mismatch"},
		}
		for _, c := range cases {
			bad := flip(data, c.off)
			// Random access names record k; its neighbours still read.
			s, err := OpenShard(bytes.NewReader(bad), int64(len(bad)), "train-00000.pfs")
			if err != nil {
				t.Fatal(err)
			}
			var r Record
			wantErr(t, c.name+" (random)", s.Record(k, &r), ErrChecksum, k, c.msg)
			for _, j := range []int{k - 1, k + 1} {
				if j >= 0 && j < n {
					if err := s.Record(j, &r); err != nil {
						t.Fatalf("%s: neighbour %d: %v", c.name, j, err)
					}
				}
			}
			got, err := readAllSeq(bad)
			wantErr(t, c.name+" (sequential)", err, ErrChecksum, k, c.msg)
			if got != k {
				t.Fatalf("%s: sequential read %d records before record %d failed", c.name, got, k)
			}
			want := "train-00000.pfs record " + itoa(k) + " at offset " + itoa(int(start))
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("%s: message %q lacks %q", c.name, err, want)
			}
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestCorruptBodyFields(t *testing.T) {
	// A body that passes its CRC but breaks a bound is ErrCorrupt, not a panic.
	data, offs := smallShard(t, RawZstd, 3, false)
	for i, mut := range []func(b []byte){
		func(b []byte) { b[0] = 99 },                           // encoding
		func(b []byte) { b[1] = 6 },                            // flags
		func(b []byte) { b[2] = 2 },                            // channels
		func(b []byte) { b[3] = 1 },                            // reserved
		func(b []byte) { b[7] = 0x80 },                         // width
		func(b []byte) { b[17] = 0xff },                        // key length
		func(b []byte) { b[19] = 0x7f },                        // meta length
		func(b []byte) { b[20+int(b[16])+int(b[18])] ^= 0xff }, // zstd magic
	} {
		bad := bytes.Clone(data)
		b := bad[offs[1]+12 : offs[2]-4]
		mut(b)
		putCRC(bad[offs[2]-4:], maskedCRC(b))
		_, err := readAllSeq(bad)
		wantErr(t, "body mutation "+strconv.Itoa(i), err, ErrCorrupt, 1, "")
	}
}

func putCRC(b []byte, c uint32) {
	b[0], b[1], b[2], b[3] = byte(c), byte(c>>8), byte(c>>16), byte(c>>24)
}

func TestTruncate(t *testing.T) {
	const n = 10
	data, offs := smallShard(t, JPEG, n, false)
	for k := 0; k <= n; k++ {
		cuts := []int64{offs[k]} // at the boundary before record k (k = n: before the marker)
		if k < n {
			cuts = append(cuts, offs[k]+5, (offs[k]+offs[k+1])/2, offs[k+1]-1)
		}
		for _, cut := range cuts {
			bad := data[:cut]
			got, err := readAllSeq(bad)
			wantErr(t, "sequential truncated", err, ErrTruncated, k, "unexpected end of file")
			if e := (*Error)(nil); errors.As(err, &e) && e.Offset != offs[k] {
				t.Fatalf("cut at %d: error offset %d, want the frame's %d", cut, e.Offset, offs[k])
			}
			if got != k {
				t.Fatalf("cut at %d: read %d records, want %d", cut, got, k)
			}
			if _, err := OpenShard(bytes.NewReader(bad), cut, "x"); err == nil {
				t.Fatalf("cut at %d: OpenShard succeeded", cut)
			}
		}
	}
	// Truncated in the index or trailer.
	for cut := offs[n] + 16; cut < int64(len(data)); cut += 7 {
		if _, err := readAllSeq(data[:cut]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut at %d in the footer: %v", cut, err)
		}
		if _, err := OpenShard(bytes.NewReader(data[:cut]), cut, "x"); err == nil {
			t.Fatalf("cut at %d: OpenShard succeeded", cut)
		}
	}
}

func TestCorruptHeaderFooter(t *testing.T) {
	const n = 6
	data, offs := smallShard(t, RawZstd, n, false)
	open := func(b []byte) error {
		s, err := OpenShard(bytes.NewReader(b), int64(len(b)), "train-00000.pfs")
		if err == nil {
			s.Close()
		}
		return err
	}
	for off := int64(0); off < headerSize; off++ {
		want := ErrChecksum
		switch {
		case off < 8:
			want = ErrCorrupt
		case off < 12:
			want = ErrVersion
		}
		bad := flip(data, off)
		wantErr(t, "header (random)", open(bad), want, -1, "")
		_, err := readAllSeq(bad)
		wantErr(t, "header (sequential)", err, want, -1, "")
	}
	// Dictionary bytes (BuildDict needs a few hundred small samples).
	ddata, _ := smallShard(t, RawZstd, 300, true)
	if ddata[12] == 0 && ddata[13] == 0 {
		t.Fatal("no dictionary")
	}
	wantErr(t, "dictionary", open(flip(ddata, headerSize+100)), ErrChecksum, -1, "dictionary checksum")
	_, err := readAllSeq(flip(ddata, headerSize+100))
	wantErr(t, "dictionary (sequential)", err, ErrChecksum, -1, "dictionary checksum")
	// Every byte of the end marker, index and trailer.
	for off := offs[n]; off < int64(len(data)); off++ {
		bad := flip(data, off)
		if err := open(bad); err == nil {
			t.Fatalf("footer byte %d flipped: OpenShard succeeded", off)
		} else {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("footer byte %d: %v is not an *Error", off, err)
			}
		}
		if got, err := readAllSeq(bad); err == nil || got != n {
			t.Fatalf("footer byte %d flipped: sequential read %d records, err %v", off, got, err)
		}
	}
	// Trailing garbage.
	if _, err := readAllSeq(append(bytes.Clone(data), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
}

func TestVersionRefused(t *testing.T) {
	data, _ := smallShard(t, PNG, 2, false)
	bad := bytes.Clone(data)
	bad[8] = 2
	putCRC(bad[20:], maskedCRC(bad[:20]))
	_, err := OpenShard(bytes.NewReader(bad), int64(len(bad)), "a.pfs")
	wantErr(t, "version", err, ErrVersion, -1, "version 2, this reader knows only version 1")
}

func TestManifestProblems(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawS2, 60, WriterOptions{MaxShardRecords: 20})
	mpath := filepath.Join(dir, ManifestName)
	good := readFile(t, mpath)
	// edit changes the manifest as a map; the result no longer matches its
	// checksum.
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		json.Unmarshal(good, &m)
		f(m)
		b, _ := json.Marshal(m)
		return b
	}
	// reseal edits and recomputes the checksum, as a deliberate forger
	// would: the cross-checks against the shards must still catch it.
	reseal := func(f func(m map[string]any)) []byte {
		var mf Manifest
		json.Unmarshal(edit(f), &mf)
		b, _ := mf.Marshal()
		return b
	}
	shard0 := func(m map[string]any) map[string]any { return m["shards"].([]any)[0].(map[string]any) }
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"version", edit(func(m map[string]any) { m["version"] = 3 }), ErrVersion},
		{"checksum", edit(func(m map[string]any) { m["options"] = map[string]any{"encoding": "raw-s3"} }), ErrChecksum},
		{"format", edit(func(m map[string]any) { m["format"] = "tfrecord" }), ErrManifest},
		{"records", reseal(func(m map[string]any) { m["records"] = 61 }), ErrManifest},
		{"shard records", reseal(func(m map[string]any) { shard0(m)["records"] = 21; m["records"] = 61 }), ErrManifest},
		{"shard bytes", reseal(func(m map[string]any) { shard0(m)["bytes"] = shard0(m)["bytes"].(float64) + 1 }), ErrTruncated},
		{"shard name", edit(func(m map[string]any) { shard0(m)["file"] = "../etc/passwd" }), ErrManifest},
		{"unknown field", edit(func(m map[string]any) { m["extra"] = 1 }), ErrManifest},
		{"abs skipped", edit(func(m map[string]any) { m["skipped"] = []any{map[string]any{"path": "/x", "reason": "r"}} }), ErrManifest},
		{"missing shard", reseal(func(m map[string]any) { m["shards"] = m["shards"].([]any)[:2]; m["records"] = 40 }), ErrManifest},
		{"empty", nil, ErrManifest},
	}
	for _, c := range cases {
		os.WriteFile(mpath, c.b, 0o644)
		if _, err := Open(dir); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	for cut := 0; cut < len(good)-1; cut++ { // the last byte is a newline
		if _, err := ParseManifest(good[:cut]); !errors.Is(err, ErrManifest) {
			t.Fatalf("manifest cut at %d: %v", cut, err)
		}
	}
	// A wrong SHA-256 opens (Open does not hash) but fails Verify.
	os.WriteFile(mpath, reseal(func(m map[string]any) { shard0(m)["sha256"] = strings.Repeat("0", 64) }), 0o644)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	wantErr(t, "sha", d.Verify(), ErrChecksum, -1, "SHA-256")
	os.Remove(mpath)
	if _, err := Open(dir); !errors.Is(err, ErrManifest) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no manifest: %v", err)
	}
}

func TestVerifyReportsEachBadRecord(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, RawZstd, 50, WriterOptions{MaxShardRecords: 25})
	p := filepath.Join(dir, "train-00001.pfs")
	data := readFile(t, p)
	s, _ := OpenShard(bytes.NewReader(data), int64(len(data)), "")
	bad := flip(flip(data, s.offsets[3]+30), s.offsets[17]+2)
	os.WriteFile(p, bad, 0o644)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Verify()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	if len(errs) != 3 {
		t.Fatalf("Verify: %d problems, want 3 (sha, record 3, record 17): %v", len(errs), err)
	}
	wantErr(t, "sha", errs[0], ErrChecksum, -1, "train-00001.pfs")
	wantErr(t, "record 3", errs[1], ErrChecksum, 3, "payload checksum mismatch")
	wantErr(t, "record 17", errs[2], ErrChecksum, 17, "length checksum mismatch")
	var r Record
	wantErr(t, "Record", d.Record(28, &r), ErrChecksum, 3, "train-00001.pfs record 3")
}

// Large records take the read-ahead path of the sequential reader.
func TestTruncateLargeRecords(t *testing.T) {
	dir := t.TempDir()
	w, _ := Create(dir, WriterOptions{Split: "train"})
	for i := range 5 {
		p := bytes.Repeat([]byte{byte(i), 1, 2, 3, 4, 5, 6}, 6000) // 42 KB
		if err := w.Append(&Record{Key: itoa(i), Encoding: JPEG, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	data := readFile(t, filepath.Join(dir, "train-00000.pfs"))
	if got, err := readAllSeq(data); err != nil || got != 5 {
		t.Fatalf("intact: %d records, %v", got, err)
	}
	s, _ := OpenShard(bytes.NewReader(data), int64(len(data)), "")
	offs := s.offsets
	for k := 0; k <= 5; k++ {
		cuts := []int64{offs[k], offs[k] + 5, offs[k] + 12}
		if k < 5 {
			cuts = append(cuts, offs[k]+20000, offs[k+1]-1)
		}
		for _, cut := range cuts {
			got, err := readAllSeq(data[:cut])
			wantErr(t, "large truncated at "+itoa(int(cut)), err, ErrTruncated, k, "unexpected end of file")
			if e := (*Error)(nil); errors.As(err, &e) && e.Offset != offs[k] {
				t.Fatalf("cut at %d: error offset %d, want the frame's %d", cut, e.Offset, offs[k])
			}
			if got != k {
				t.Fatalf("cut at %d: read %d records, want %d", cut, got, k)
			}
		}
		if k < 5 {
			_, err := readAllSeq(flip(data, offs[k]+30000))
			wantErr(t, "large payload flip", err, ErrChecksum, k, "payload checksum mismatch")
			_, err = readAllSeq(flip(data, offs[k]+2))
			wantErr(t, "large length flip", err, ErrChecksum, k, "length checksum mismatch")
		}
	}
}
