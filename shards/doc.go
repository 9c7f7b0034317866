// Package shards reads and writes pairflow's on-disk dataset format: a split
// is a directory of shard files ("train-00000.pfs", ...) plus an index.json
// manifest. shards/FORMAT.md is the byte-level specification.
//
// A shard file holds TFRecord-style records (every record carries a masked
// CRC-32C over its length and one over its body), a footer index of record
// offsets and a fixed trailer that locates the index. It is readable
// sequentially from a plain io.Reader (NewReader) and randomly by record index
// from an io.ReaderAt (OpenShard). A record holds a key, an optional label,
// small metadata, image geometry, a pixel Encoding and a payload: either raw
// uint8 HWC pixels compressed per record with zstd (optionally against a
// per-shard dictionary) or S2, or the original encoded image bytes (JPEG, PNG,
// WebP, GIF, BMP, TIFF).
//
// # Writing
//
//	w, err := shards.Create(dir, shards.WriterOptions{Split: "train"})
//	...
//	err = w.Append(&shards.Record{Key: "img/0001.png", Label: 3, HasLabel: true,
//		Width: 28, Height: 28, Channels: 1, Encoding: shards.RawS2, Payload: pixels})
//	w.Skip("img/bad.png", "decode: unexpected EOF") // recorded in the manifest
//	err = w.Close() // finishes the last shard, writes index.json last
//
// Append takes UNCOMPRESSED HWC pixels for raw encodings and compresses them;
// for the other encodings Payload is the encoded file as-is. Append copies what
// it needs: the caller may reuse the Record and its buffers right away. The
// Writer cleans the directory of any earlier run of the split, writes each
// shard under a temporary name and renames it when complete, and writes the
// manifest last, so an interrupted run never leaves a dataset that opens.
// Output is deterministic: the same records and options give byte-identical
// files. Abort removes what the Writer wrote, and so does a failed Close (a
// full disk leaves no temporary file). A Writer holds the directory's lock
// (LockName) until Close or Abort, so two writers cannot share a directory,
// and it never removes another split's index.json. The manifest (version 2)
// carries a checksum of all its fields, the packer's pixel budget and its
// inputs' SHA-256 (AddInput).
//
// # Reading
//
//	d, err := shards.Open(dir) // validates index.json against the shard files
//	defer d.Close()
//	var rec shards.Record
//	err = d.Record(i, &rec)          // random access by global index
//	pix, err := rec.AppendPixels(buf[:0]) // raw encodings: decoded HWC pixels
//	it := d.Iter()                   // sequential, shard by shard
//	for it.Next(&rec) { ... }        // then check it.Err()
//	err = d.Verify()                 // every CRC and SHA-256, the manifest against the shards
//
// Lower level: OpenShard(ra, size, name) reads one shard by record index from
// any io.ReaderAt; NewReader(rd, name) reads one shard sequentially from any
// io.Reader; ParseManifest and Manifest.Marshal read and write index.json.
//
// Reading into a caller-owned Record reuses its buffers: in steady state a
// read does not allocate. Fields that come back from a read (Payload, Meta)
// alias the Record's internal buffer and are valid until the next read into
// the same Record; Key is an immutable string that stays valid. For raw
// encodings Payload holds the stored (compressed) bytes; AppendPixels decodes
// them into a caller buffer (imageio's Decoder.DecodeRecord does that
// straight into an ops.Image). Checksums are checked on every read; there is
// no switch to turn them off (CRC-32C runs at several GB/s and is not the
// bottleneck). To copy a raw record into another split, set Payload to its
// AppendPixels result before Append.
//
// A Dataset and a Shard are safe for concurrent use by several goroutines,
// each reading into its own Record. A Reader, an Iter and a Writer are not.
//
// Errors wrap the sentinel errors below; problems found in a file are an
// *Error naming the shard, record index (within the shard) and byte offset,
// e.g. "shards: train-00003.pfs record 1207 at offset 93184: payload checksum
// mismatch".
//
// # Remote splits
//
// Open and Create also take s3://bucket/prefix/split (and Open
// https://host/path/split) through package store: shards are fetched whole
// into a local, content-addressed cache and checked against the manifest's
// SHA-256 before use (AccessWhole), or read by range and checked by the
// record CRCs (AccessRange); Dataset.Prefetch fetches ahead in a given shard
// order. Create uploads each shard as it is finished and the manifest last.
// docs/remote.md describes the configuration and the guarantees.
//
// This package does not decode images (see imageio), shuffle or sample
// (see sampler) or decide how inputs become records (see tools/shardify).
package shards
