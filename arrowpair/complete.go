package arrowpair

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Record batch metadata keys (SCHEMA.md §5.1). The summary keys mark the last
// batch of a complete stream (schema version 2); the tag keys carry a served
// batch's place in its rank's stream (tools/serve).
const (
	MetaStreamBatches = "pairflow.stream.batches"
	MetaStreamRows    = "pairflow.stream.rows"
	MetaStreamCRC32   = "pairflow.stream.crc32"
	MetaEpoch         = "pairflow.epoch"
	MetaBatch         = "pairflow.batch"
)

// ErrTruncated: a stream is incomplete — it ended without its end-of-stream
// marker, its last batch carries no summary, or the summary disagrees with
// the batches read (a batch lost, repeated or reordered).
var ErrTruncated = errors.New("arrowpair: incomplete stream")

// StreamSum is the summary that marks a stream complete (SCHEMA.md §5.1):
// its batch and row counts and a CRC-32 (IEEE, as zlib.crc32) over, batch by
// batch, the sample_id values as little-endian uint64 bytes, then the epoch
// values as little-endian int64 bytes. It identifies which rows a stream
// holds and in which order; the transport or the file system vouches for
// the bytes of their images. The zero value is the summary of no batches.
type StreamSum struct {
	Batches, Rows int64
	CRC32         uint32
	buf           []byte
}

// Add accounts for rec, the next batch of the stream. Columns other than
// sample_id (uint64) and epoch (int64) do not enter the checksum.
func (s *StreamSum) Add(rec arrow.RecordBatch) {
	s.Batches++
	s.Rows += rec.NumRows()
	for _, name := range []string{ColSampleID, ColEpoch} {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) != 1 {
			continue
		}
		s.buf = s.buf[:0]
		switch a := rec.Column(idx[0]).(type) {
		case *array.Uint64:
			for _, v := range a.Uint64Values() {
				s.buf = binary.LittleEndian.AppendUint64(s.buf, v)
			}
		case *array.Int64:
			for _, v := range a.Int64Values() {
				s.buf = binary.LittleEndian.AppendUint64(s.buf, uint64(v))
			}
		}
		s.CRC32 = crc32.Update(s.CRC32, crc32.IEEETable, s.buf)
	}
}

// Metadata returns the summary as record batch metadata pairs.
func (s *StreamSum) Metadata() (keys, values []string) {
	return []string{MetaStreamBatches, MetaStreamRows, MetaStreamCRC32},
		[]string{strconv.FormatInt(s.Batches, 10), strconv.FormatInt(s.Rows, 10), fmt.Sprintf("%08x", s.CRC32)}
}

// Check compares s with the summary in md, if md holds one. It returns
// (false, nil) when md has no summary keys, (true, nil) when it matches, and
// an error wrapping ErrTruncated when it differs or is malformed.
func (s *StreamSum) Check(md arrow.Metadata) (bool, error) {
	b, okB := md.GetValue(MetaStreamBatches)
	r, okR := md.GetValue(MetaStreamRows)
	c, okC := md.GetValue(MetaStreamCRC32)
	if !okB && !okR && !okC {
		return false, nil
	}
	_, vals := s.Metadata()
	if b != vals[0] || r != vals[1] || c != vals[2] {
		return true, fmt.Errorf("%w: summary says %s batches, %s rows, crc32 %s; read %s, %s, %s",
			ErrTruncated, b, r, c, vals[0], vals[1], vals[2])
	}
	return true, nil
}

// isSummaryKey reports whether k is one of the summary keys.
func isSummaryKey(k string) bool {
	return k == MetaStreamBatches || k == MetaStreamRows || k == MetaStreamCRC32
}

// WithMetadata returns a batch sharing rec's columns whose custom metadata is
// rec's own (if any) with the given pairs added or replaced. It does not
// Release rec; the caller Releases the result.
func WithMetadata(rec arrow.RecordBatch, keys, values []string) arrow.RecordBatch {
	var k, v []string
	md := batchMetadata(rec)
	for i, key := range md.Keys() {
		if !slices.Contains(keys, key) {
			k, v = append(k, key), append(v, md.Values()[i])
		}
	}
	k, v = append(k, keys...), append(v, values...)
	return array.NewRecordBatchWithMetadata(rec.Schema(), rec.Columns(), rec.NumRows(), arrow.NewMetadata(k, v))
}

// batchMetadata returns rec's custom metadata (empty if it has none).
func batchMetadata(rec arrow.RecordBatch) arrow.Metadata {
	if rm, ok := rec.(arrow.RecordBatchWithMetadata); ok {
		return rm.Metadata()
	}
	return arrow.Metadata{}
}
