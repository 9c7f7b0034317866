package arrowpair

import (
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/pairflow/pairflow/ops"
)

// Batch is a typed, zero-copy read view of one pairflow record batch, for
// consumers: the common columns (SCHEMA.md §3.1) through accessors, and the
// image and augmentation columns by name, so that no consumer reads a column
// by its position.
//
// A Batch borrows its record batch: it is valid while the batch is retained,
// and it never Retains or Releases it. The zero Batch has no rows. Like
// TensorColumn's, the row accessors panic when i is out of range.
type Batch struct {
	// Layout is the batch's layout, read from its schema.
	Layout Layout

	rec    arrow.RecordBatch
	ids    *array.Uint64
	keys   *array.String
	labels *array.Int32
	epochs *array.Int64
	class  *array.Uint8 // nil when the kind has no class column
}

// ReadBatch checks that rec follows SCHEMA.md (as ParseSchema does, failing
// with ErrNotPairflow or ErrSchemaVersion) and returns a typed view of it.
func ReadBatch(rec arrow.RecordBatch) (Batch, error) {
	l, err := ParseSchema(rec.Schema())
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Layout: l, rec: rec}
	// ParseSchema has checked every column's type; the assertions cannot
	// fail for a batch whose columns match its schema.
	var ok [4]bool
	b.ids, ok[0] = b.column(ColSampleID).(*array.Uint64)
	b.keys, ok[1] = b.column(ColKey).(*array.String)
	b.labels, ok[2] = b.column(ColLabel).(*array.Int32)
	b.epochs, ok[3] = b.column(ColEpoch).(*array.Int64)
	if slices.Contains(ok[:], false) {
		return Batch{}, fmt.Errorf("%w: common columns of unexpected array types", ErrNotPairflow)
	}
	if name, _ := l.ClassColumn(); name != "" {
		c, isU8 := b.column(name).(*array.Uint8)
		if !isU8 {
			return Batch{}, fmt.Errorf("%w: column %s is not uint8", ErrNotPairflow, name)
		}
		b.class = c
	}
	return b, nil
}

// column returns rec's column name; ParseSchema has checked it exists once.
func (b Batch) column(name string) arrow.Array {
	idx := b.rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		return nil
	}
	return b.rec.Column(idx[0])
}

// Record returns the record batch b reads (not Retained).
func (b Batch) Record() arrow.RecordBatch { return b.rec }

// Len returns the number of rows.
func (b Batch) Len() int {
	if b.rec == nil {
		return 0
	}
	return int(b.rec.NumRows())
}

// SampleID returns row i's sample id: the record's position in the dataset
// (its index in the manifest order).
func (b Batch) SampleID(i int) uint64 { return b.ids.Value(i) }

// SampleIDs returns every row's sample id without copying. The slice aliases
// the batch's memory and must not be written.
func (b Batch) SampleIDs() []uint64 {
	if b.ids == nil {
		return nil
	}
	return b.ids.Uint64Values()
}

// Key returns row i's record key.
func (b Batch) Key(i int) string { return b.keys.Value(i) }

// Label returns row i's class label, and false when the row has none (the
// label is null).
func (b Batch) Label(i int) (int32, bool) {
	if b.labels.IsNull(i) {
		return 0, false
	}
	return b.labels.Value(i), true
}

// Epoch returns the epoch row i was drawn in.
func (b Batch) Epoch(i int) int64 { return b.epochs.Value(i) }

// Class returns row i's pretext class — the patch position of RelativePatch
// (0–7) or the rotation of Rotation (0–3) — and false for kinds without one.
func (b Batch) Class(i int) (int, bool) {
	if b.class == nil {
		return 0, false
	}
	return int(b.class.Value(i)), true
}

// Tensors returns a zero-copy read view of the image column name, one of
// Layout.TensorColumns ("view", "view_0", "masked", "patch_a", …).
func (b Batch) Tensors(name string) (TensorColumn, error) {
	if !slices.Contains(b.Layout.TensorColumns(), name) {
		return TensorColumn{}, fmt.Errorf("%w: %s batches have no image column %q (have %v)", ErrNotPairflow, b.Layout.Kind, name, b.Layout.TensorColumns())
	}
	return Tensors(b.column(name))
}

// Params decodes row i of the augmentation column of the image name (the
// column name+"_aug", one of Layout.AugColumns) into p, as ReadParams does.
func (b Batch) Params(name string, i int, p *ops.Params) error {
	aug := name + "_aug"
	if !slices.Contains(b.Layout.AugColumns(), aug) {
		return fmt.Errorf("%w: %s batches have no augmentation column %q (have %v)", ErrNotPairflow, b.Layout.Kind, aug, b.Layout.AugColumns())
	}
	return ReadParams(b.column(aug), i, p)
}
