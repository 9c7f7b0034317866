package shards_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log"
	"os"

	"github.com/pairflow/pairflow/shards"
)

func Example() {
	dir, err := os.MkdirTemp("", "shards-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Write a split of three 2×2 gray images.
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train", Classes: []string{"dark", "light"}})
	if err != nil {
		log.Fatal(err)
	}
	for i := range 3 {
		v := uint8(100 * i)
		err := w.Append(&shards.Record{
			Key: fmt.Sprintf("img%d.png", i), Label: int32(i % 2), HasLabel: true,
			Width: 2, Height: 2, Channels: 1, Encoding: shards.RawS2,
			Payload: []byte{v, v, v, v + 1}, // uncompressed pixels; Append compresses
		})
		if err != nil {
			log.Fatal(err)
		}
	}
	w.Skip("broken.png", "unexpected EOF")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// Read it back.
	d, err := shards.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	fmt.Println(d.Len(), "records in", d.NumShards(), "shard; skipped:", d.Manifest().Skipped[0].Path)

	var rec shards.Record // reused: reads do not allocate in steady state
	var pix []byte
	if err := d.Record(2, &rec); err != nil {
		log.Fatal(err)
	}
	pix, err = rec.AppendPixels(pix[:0])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rec.Key, rec.Label, rec.Encoding, pix)

	it := d.Iter()
	for it.Next(&rec) {
		fmt.Print(rec.Key, " ")
	}
	fmt.Println(it.Err())
	fmt.Println("verify:", d.Verify())
	// Output:
	// 3 records in 1 shard; skipped: broken.png
	// img2.png 0 raw-s2 [200 200 200 201]
	// img0.png img1.png img2.png <nil>
	// verify: <nil>
}

func ExampleError() {
	err := &shards.Error{Path: "train-00003.pfs", Record: 1207, Offset: 93184,
		Msg: "payload checksum mismatch", Err: shards.ErrChecksum}
	fmt.Println(err)
	// Output: shards: train-00003.pfs record 1207 at offset 93184: payload checksum mismatch
}

func ExampleParseEncoding() {
	e, err := shards.ParseEncoding("raw-zstd")
	fmt.Println(e, e.IsRaw(), err)
	// Output: raw-zstd true <nil>
}

// A packer records its pixel budget and its inputs' digests; VerifyReport
// checks the whole split, manifest included, and says what it saw.
func ExampleDataset_VerifyReport() {
	dir, err := os.MkdirTemp("", "shards-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	w, err := shards.Create(dir, shards.WriterOptions{Split: "train", MaxPixels: 1 << 20})
	if err != nil {
		log.Fatal(err)
	}
	w.Append(&shards.Record{Key: "a", Width: 3, Height: 2, Channels: 1, Encoding: shards.RawS2, Payload: make([]byte, 6)})
	sum := sha256.Sum256([]byte("the input file"))
	if err := w.AddInput(shards.Input{Path: "input.bin", Bytes: 14, SHA256: hex.EncodeToString(sum[:])}); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	d, err := shards.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	res, err := d.VerifyReport()
	m := d.Manifest()
	fmt.Println(err, m.Version, m.MaxPixels, m.Inputs[0].Path)
	fmt.Println(res.Checksummed, res.MaxPixels, res.MaxPixelsKey)
	// Output:
	// <nil> 2 1048576 input.bin
	// true 6 a
}
