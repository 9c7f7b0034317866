package pipeline

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

// Row is the per-sample metadata of one batch row. Its image data is written
// separately, through BatchBuilder's tensor methods.
type Row struct {
	SampleID uint64
	Key      string
	Label    int32
	HasLabel bool  // false: label is null (required true in Supervised)
	Epoch    int64 // ≥ 0
	// Class is the position (RelativePatch, 0–7) or the rotation (Rotation,
	// 0–3); it must be 0 for the other kinds.
	Class uint8
	// Params holds one entry per augmentation column (Layout.AugColumns), in
	// order; a nil entry records that no op was reached. Only the fields
	// whose bit is in Applied are read.
	Params []*ops.Params
}

// BatchBuilder fills one record batch at a time for a Layout: rows are added
// with Append, their images written straight into the batch's buffers (Uint8,
// Float32) or copied in (SetUint8, SetFloat32), and NewRecordBatch hands the
// finished batch over and starts the next.
//
// Image memory is allocated once per batch, at full capacity, and written in
// place: the record batch takes those buffers over without another copy. When
// a batch is Released its image buffers return to the builder, which keeps
// up to two batches' worth (freeing the rest to its allocator) and reuses them
// for the next batches; Release hands the kept ones back to the allocator.
// A reused buffer still holds an earlier batch's pixels: write every value of
// every slot you ask for.
//
// A BatchBuilder is not safe for concurrent use, except that different
// goroutines may write the tensors of different (column, row) slots at the
// same time through slices obtained beforehand. Call Release when done; it
// frees the rows of an unfinished batch.
type BatchBuilder struct {
	mem    memory.Allocator
	pool   *recycler // tensor buffers, reused across batches
	layout Layout
	schema *arrow.Schema
	cap    int
	n      int

	tensors []tensorCol
	written []bool // [tensor*cap + row]

	sampleID *array.Uint64Builder
	key      *array.StringBuilder
	label    *array.Int32Builder
	epoch    *array.Int64Builder
	class    *array.Uint8Builder // nil when the kind has no class column
	classes  int
	augs     []*augBuilder
}

type tensorCol struct {
	typ   *FixedShapeTensorType
	name  string
	f32   bool
	elems int // values per row
	buf   *memory.Buffer
}

func (c *tensorCol) rowBytes() int {
	if c.f32 {
		return c.elems * 4
	}
	return c.elems
}

// NewBatchBuilder returns a builder of batches of up to capacity rows for l,
// allocating from mem (nil: memory.DefaultAllocator).
func NewBatchBuilder(mem memory.Allocator, l Layout, capacity int) (*BatchBuilder, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("%w: batch capacity %d", ErrLayout, capacity)
	}
	schema, err := NewSchema(l)
	if err != nil {
		return nil, err
	}
	if mem == nil {
		mem = memory.DefaultAllocator
	}
	b := &BatchBuilder{mem: mem, layout: l, schema: schema, cap: capacity}
	for i, name := range l.TensorColumns() {
		t := schema.Field(numCommon + i).Type.(*FixedShapeTensorType)
		b.tensors = append(b.tensors, tensorCol{
			typ: t, name: name, f32: t.ValueType().ID() == arrow.FLOAT32, elems: t.NumElements(),
		})
	}
	for _, c := range b.tensors {
		if int64(c.rowBytes())*int64(capacity) > int64(maxBatchBytes) {
			return nil, fmt.Errorf("%w: column %s needs %d bytes × %d rows, over %d", ErrLayout, c.name, c.rowBytes(), capacity, maxBatchBytes)
		}
	}
	keep := 0
	for _, c := range b.tensors {
		keep += 2 * c.rowBytes() * capacity
	}
	b.pool = newRecycler(mem, keep+64*len(b.tensors)*2)
	b.written = make([]bool, len(b.tensors)*capacity)
	b.sampleID = array.NewUint64Builder(mem)
	b.key = array.NewStringBuilder(mem)
	b.label = array.NewInt32Builder(mem)
	b.epoch = array.NewInt64Builder(mem)
	if name, k := l.ClassColumn(); name != "" {
		b.class, b.classes = array.NewUint8Builder(mem), k
	}
	for range l.AugColumns() {
		b.augs = append(b.augs, newAugBuilder(mem))
	}
	b.reserve()
	return b, nil
}

// maxBatchBytes bounds one tensor column of one batch (4 GiB).
const maxBatchBytes = 4 << 30

func (b *BatchBuilder) reserve() {
	b.sampleID.Reserve(b.cap)
	b.label.Reserve(b.cap)
	b.epoch.Reserve(b.cap)
	b.key.Reserve(b.cap)
	if b.class != nil {
		b.class.Reserve(b.cap)
	}
}

// Schema returns the schema of the batches built. It is shared, not copied.
func (b *BatchBuilder) Schema() *arrow.Schema { return b.schema }

// Layout returns the layout the builder was made for.
func (b *BatchBuilder) Layout() Layout { return b.layout }

// Len returns the number of rows appended to the current batch.
func (b *BatchBuilder) Len() int { return b.n }

// Cap returns the batch capacity.
func (b *BatchBuilder) Cap() int { return b.cap }

// Append adds r's metadata as the next row and returns its index; the row's
// tensors must then be written before NewRecordBatch. It fails with ErrRow,
// leaving the batch unchanged, when the batch is full or r is invalid.
func (b *BatchBuilder) Append(r *Row) (int, error) {
	switch {
	case b.n == b.cap:
		return 0, fmt.Errorf("%w: batch full (%d rows)", ErrRow, b.cap)
	case r.Epoch < 0:
		return 0, fmt.Errorf("%w: sample %d: epoch %d is negative", ErrRow, r.SampleID, r.Epoch)
	case b.layout.Kind == Supervised && !r.HasLabel:
		return 0, fmt.Errorf("%w: sample %d: supervised row without a label", ErrRow, r.SampleID)
	case b.class == nil && r.Class != 0:
		return 0, fmt.Errorf("%w: sample %d: class %d but %s has no class column", ErrRow, r.SampleID, r.Class, b.layout.Kind)
	case b.class != nil && int(r.Class) >= b.classes:
		return 0, fmt.Errorf("%w: sample %d: class %d out of 0..%d", ErrRow, r.SampleID, r.Class, b.classes-1)
	case len(r.Params) != len(b.augs):
		return 0, fmt.Errorf("%w: sample %d: %d Params for %d augmentation columns", ErrRow, r.SampleID, len(r.Params), len(b.augs))
	}
	if b.n == 0 {
		for i := range b.tensors {
			c := &b.tensors[i]
			if c.buf == nil {
				c.buf = memory.NewResizableBuffer(b.pool)
				c.buf.Resize(c.rowBytes() * b.cap)
			}
		}
	}
	b.sampleID.UnsafeAppend(r.SampleID)
	b.key.Append(r.Key)
	if r.HasLabel {
		b.label.UnsafeAppend(r.Label)
	} else {
		b.label.UnsafeAppendBoolToBitmap(false)
	}
	b.epoch.UnsafeAppend(r.Epoch)
	if b.class != nil {
		b.class.UnsafeAppend(r.Class)
	}
	for i, a := range b.augs {
		a.append(r.Params[i])
	}
	b.n++
	return b.n - 1, nil
}

func (b *BatchBuilder) slot(t, row int, f32 bool) *tensorCol {
	if t < 0 || t >= len(b.tensors) {
		panic(fmt.Sprintf("pipeline: tensor column %d of %d", t, len(b.tensors)))
	}
	if row < 0 || row >= b.n {
		panic(fmt.Sprintf("pipeline: row %d of %d appended", row, b.n))
	}
	c := &b.tensors[t]
	if c.f32 != f32 {
		panic(fmt.Sprintf("pipeline: column %s holds %s, not %s", c.name, c.typ.ValueType(), map[bool]string{false: "uint8", true: "float32"}[f32]))
	}
	b.written[t*b.cap+row] = true
	return c
}

// Uint8 returns the batch's storage for tensor column t (in
// Layout.TensorColumns order) of row, to be filled in place with exactly its
// len values (HWC). The slot counts as written. The slice is valid until the
// next NewRecordBatch, Reset or Release; do not keep it. It panics when t or
// row is out of range or the column is not uint8.
func (b *BatchBuilder) Uint8(t, row int) []uint8 {
	c := b.slot(t, row, false)
	return c.buf.Bytes()[row*c.elems : (row+1)*c.elems : (row+1)*c.elems]
}

// Float32 is Uint8 for float32 columns (CHW).
func (b *BatchBuilder) Float32(t, row int) []float32 {
	c := b.slot(t, row, true)
	v := arrow.Float32Traits.CastFromBytes(c.buf.Bytes())
	return v[row*c.elems : (row+1)*c.elems : (row+1)*c.elems]
}

// SetUint8 copies src, one whole tensor, into tensor column t of row.
func (b *BatchBuilder) SetUint8(t, row int, src []uint8) error {
	dst := b.Uint8(t, row)
	if len(src) != len(dst) {
		b.written[t*b.cap+row] = false
		return fmt.Errorf("%w: column %s row %d: %d values, want %d", ErrRow, b.tensors[t].name, row, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// SetFloat32 copies src, one whole tensor, into tensor column t of row.
func (b *BatchBuilder) SetFloat32(t, row int, src []float32) error {
	dst := b.Float32(t, row)
	if len(src) != len(dst) {
		b.written[t*b.cap+row] = false
		return fmt.Errorf("%w: column %s row %d: %d values, want %d", ErrRow, b.tensors[t].name, row, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// NewRecordBatch returns the rows appended so far as a record batch and
// starts a new, empty batch. The caller owns the record and must Release it;
// a record handed to another goroutine is Retained by the sender and Released
// by the receiver (or simply handed over, with the obligation to Release).
// It fails with ErrIncomplete, keeping the batch as it is, when a tensor of an
// appended row was never written.
func (b *BatchBuilder) NewRecordBatch() (arrow.RecordBatch, error) {
	for t := range b.tensors {
		for row := range b.n {
			if !b.written[t*b.cap+row] {
				return nil, fmt.Errorf("%w: column %s row %d (sample %d)", ErrIncomplete, b.tensors[t].name, row, b.sampleID.Value(row))
			}
		}
	}
	cols := make([]arrow.Array, 0, b.schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	cols = append(cols, b.sampleID.NewArray(), b.key.NewArray(), b.label.NewArray(), b.epoch.NewArray())
	for i := range b.tensors {
		cols = append(cols, b.takeTensor(&b.tensors[i]))
	}
	if b.class != nil {
		cols = append(cols, b.class.NewArray())
	}
	for _, a := range b.augs {
		cols = append(cols, a.sb.NewArray())
	}
	rec := array.NewRecordBatch(b.schema, cols, int64(b.n))
	b.n = 0
	clear(b.written)
	b.reserve()
	return rec, nil
}

// takeTensor turns c's buffer into an extension array of b.n rows and leaves
// c without a buffer.
func (b *BatchBuilder) takeTensor(c *tensorCol) arrow.Array {
	buf := c.buf
	c.buf = nil
	if buf == nil { // an empty batch
		buf = memory.NewResizableBuffer(b.pool)
	}
	storage := c.typ.StorageType().(*arrow.FixedSizeListType)
	values := array.NewData(storage.Elem(), b.n*c.elems, []*memory.Buffer{nil, buf}, nil, 0, 0)
	buf.Release()
	list := array.NewData(storage, b.n, []*memory.Buffer{nil}, []arrow.ArrayData{values}, 0, 0)
	values.Release()
	st := array.MakeFromData(list)
	list.Release()
	ext := array.NewExtensionArrayWithStorage(c.typ, st)
	st.Release()
	return ext
}

// Reset drops the rows of the current batch.
func (b *BatchBuilder) Reset() {
	if b.n == 0 {
		return
	}
	rec, err := b.forceRecord()
	if err == nil {
		rec.Release()
	}
}

func (b *BatchBuilder) forceRecord() (arrow.RecordBatch, error) {
	for i := range b.written {
		b.written[i] = true
	}
	return b.NewRecordBatch()
}

// Release frees the builder's memory, including the rows of an unfinished
// batch and the image buffers kept for reuse. Records already returned are
// unaffected; their memory goes back to the allocator when they are Released.
func (b *BatchBuilder) Release() {
	b.Reset()
	for i := range b.tensors {
		if b.tensors[i].buf != nil {
			b.tensors[i].buf.Release()
			b.tensors[i].buf = nil
		}
	}
	b.sampleID.Release()
	b.key.Release()
	b.label.Release()
	b.epoch.Release()
	if b.class != nil {
		b.class.Release()
	}
	for _, a := range b.augs {
		a.sb.Release()
	}
	b.pool.close()
}

// augBuilder appends ops.Params to an AugType struct column.
type augBuilder struct {
	sb                         *array.StructBuilder
	crop                       boxBuilder
	hflip, vflip, gray, sobel  *array.BooleanBuilder
	rot90                      *array.Uint8Builder
	angle, noise               *array.Float32Builder
	jitter                     *array.StructBuilder
	bright, contrast, sat, hue *array.Float32Builder
	order                      *array.FixedSizeListBuilder
	orderV                     *array.Uint8Builder
	blur                       *array.StructBuilder
	sigma                      *array.Float32Builder
	kernel                     *array.Int32Builder
	erased                     *array.ListBuilder
	erasedBox                  boxBuilder
	solarize                   *array.StructBuilder
	solApplied                 *array.BooleanBuilder
	solThreshold               *array.Uint8Builder
}

type boxBuilder struct {
	sb         *array.StructBuilder
	x, y, w, h *array.Int32Builder
}

func newBoxBuilder(sb *array.StructBuilder) boxBuilder {
	return boxBuilder{sb: sb,
		x: sb.FieldBuilder(0).(*array.Int32Builder), y: sb.FieldBuilder(1).(*array.Int32Builder),
		w: sb.FieldBuilder(2).(*array.Int32Builder), h: sb.FieldBuilder(3).(*array.Int32Builder)}
}

func (bb boxBuilder) append(box ops.Box) {
	bb.sb.Append(true)
	bb.x.Append(box.X)
	bb.y.Append(box.Y)
	bb.w.Append(box.W)
	bb.h.Append(box.H)
}

func newAugBuilder(mem memory.Allocator) *augBuilder {
	sb := array.NewStructBuilder(mem, AugType)
	a := &augBuilder{sb: sb}
	a.crop = newBoxBuilder(sb.FieldBuilder(augCrop).(*array.StructBuilder))
	a.hflip = sb.FieldBuilder(augHFlip).(*array.BooleanBuilder)
	a.vflip = sb.FieldBuilder(augVFlip).(*array.BooleanBuilder)
	a.rot90 = sb.FieldBuilder(augRot90).(*array.Uint8Builder)
	a.angle = sb.FieldBuilder(augAngle).(*array.Float32Builder)
	a.jitter = sb.FieldBuilder(augJitter).(*array.StructBuilder)
	a.bright = a.jitter.FieldBuilder(0).(*array.Float32Builder)
	a.contrast = a.jitter.FieldBuilder(1).(*array.Float32Builder)
	a.sat = a.jitter.FieldBuilder(2).(*array.Float32Builder)
	a.hue = a.jitter.FieldBuilder(3).(*array.Float32Builder)
	a.order = a.jitter.FieldBuilder(4).(*array.FixedSizeListBuilder)
	a.orderV = a.order.ValueBuilder().(*array.Uint8Builder)
	a.gray = sb.FieldBuilder(augGray).(*array.BooleanBuilder)
	a.blur = sb.FieldBuilder(augBlur).(*array.StructBuilder)
	a.sigma = a.blur.FieldBuilder(0).(*array.Float32Builder)
	a.kernel = a.blur.FieldBuilder(1).(*array.Int32Builder)
	a.erased = sb.FieldBuilder(augErased).(*array.ListBuilder)
	a.erasedBox = newBoxBuilder(a.erased.ValueBuilder().(*array.StructBuilder))
	a.sobel = sb.FieldBuilder(augSobel).(*array.BooleanBuilder)
	a.noise = sb.FieldBuilder(augNoise).(*array.Float32Builder)
	a.solarize = sb.FieldBuilder(augSolarize).(*array.StructBuilder)
	a.solApplied = a.solarize.FieldBuilder(0).(*array.BooleanBuilder)
	a.solThreshold = a.solarize.FieldBuilder(1).(*array.Uint8Builder)
	return a
}

// append adds p (nil: nothing reached) as one row.
func (a *augBuilder) append(p *ops.Params) {
	var none ops.Params
	if p == nil {
		p = &none
	}
	a.sb.Append(true)
	has := func(op ops.OpSet, f array.Builder) bool {
		if p.Has(op) {
			return true
		}
		f.AppendNulls(1)
		return false
	}
	if has(ops.OpCrop, a.crop.sb) {
		a.crop.append(p.Crop)
	}
	if has(ops.OpHFlip, a.hflip) {
		a.hflip.Append(p.HFlip)
	}
	if has(ops.OpVFlip, a.vflip) {
		a.vflip.Append(p.VFlip)
	}
	if has(ops.OpRot90, a.rot90) {
		a.rot90.Append(p.Rot90)
	}
	if has(ops.OpRotate, a.angle) {
		a.angle.Append(p.Angle)
	}
	if has(ops.OpJitter, a.jitter) {
		a.jitter.Append(true)
		a.bright.Append(p.Brightness)
		a.contrast.Append(p.Contrast)
		a.sat.Append(p.Saturation)
		a.hue.Append(p.Hue)
		a.order.Append(true)
		a.orderV.AppendValues(p.JitterOrder[:], nil)
	}
	if has(ops.OpGrayscale, a.gray) {
		a.gray.Append(p.Gray)
	}
	if has(ops.OpBlur, a.blur) {
		a.blur.Append(true)
		a.sigma.Append(p.BlurSigma)
		a.kernel.Append(p.BlurKernel)
	}
	if has(ops.OpErase, a.erased) {
		a.erased.Append(true)
		for _, box := range p.Erased {
			a.erasedBox.append(box)
		}
	}
	if has(ops.OpSobel, a.sobel) {
		a.sobel.Append(true)
	}
	if has(ops.OpNoise, a.noise) {
		a.noise.Append(p.NoiseSigma)
	}
	if has(ops.OpSolarize, a.solarize) {
		a.solarize.Append(true)
		a.solApplied.Append(p.Solarized)
		a.solThreshold.Append(p.SolarizeThreshold)
	}
}
