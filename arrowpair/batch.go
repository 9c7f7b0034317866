package arrowpair

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
// up to KeepBatches batches' worth (two by default; the rest go back to its
// allocator) and reuses them for the next batches; Release hands the kept
// ones back to the allocator. A reused buffer still holds an earlier batch's
// pixels: write every value of every slot you ask for.
//
// The image memory of a batch can also be reserved ahead of its rows
// (ReserveRows), so that producers write their tensors straight into the
// batch while the metadata is appended later, in order, and the reservation
// is then made the current batch's storage (Adopt).
//
// A BatchBuilder is not safe for concurrent use, except that ReserveRows may
// be called from any goroutine, and different goroutines may write the
// tensors of different (column, row) slots at the same time through slices
// obtained beforehand or through a Rows. Call Release when done; it frees the
// rows of an unfinished batch.
type BatchBuilder struct {
	mem    memory.Allocator
	pool   *recycler // tensor buffers, reused across batches
	layout Layout
	schema *arrow.Schema
	cap    int
	n      int

	tensors []tensorCol // immutable after NewBatchBuilder
	cur     *Rows       // the current batch's image storage; nil until needed

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
}

func (c *tensorCol) rowBytes() int {
	if c.f32 {
		return c.elems * 4
	}
	return c.elems
}

// BuilderOption configures a BatchBuilder.
type BuilderOption func(*builderOptions) error

type builderOptions struct {
	keep int
}

// KeepBatches sets how many batches' worth of image buffers the builder keeps
// for reuse once batches are Released (default 2). Set it to the number of
// batches that can be alive at once — those the consumer holds, those queued
// and those being filled — so that a running stream allocates no image memory;
// 0 keeps none.
func KeepBatches(n int) BuilderOption {
	return func(o *builderOptions) error {
		if n < 0 || n > 1<<10 {
			return fmt.Errorf("%w: KeepBatches(%d) outside [0, 1024]", ErrLayout, n)
		}
		o.keep = n
		return nil
	}
}

// NewBatchBuilder returns a builder of batches of up to capacity rows for l,
// allocating from mem (nil: memory.DefaultAllocator).
func NewBatchBuilder(mem memory.Allocator, l Layout, capacity int, opts ...BuilderOption) (*BatchBuilder, error) {
	if capacity < 1 {
		return nil, fmt.Errorf("%w: batch capacity %d", ErrLayout, capacity)
	}
	o := builderOptions{keep: 2}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
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
		keep += o.keep * (roundUp64(c.rowBytes()*capacity) + 64)
	}
	b.pool = newRecycler(mem, keep)
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
	b.reserveMeta()
	return b, nil
}

func roundUp64(n int) int { return (n + 63) &^ 63 }

// maxBatchBytes bounds one tensor column of one batch (4 GiB).
const maxBatchBytes = 4 << 30

func (b *BatchBuilder) reserveMeta() {
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
	if b.cur == nil {
		b.cur = b.ReserveRows()
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

func (b *BatchBuilder) checkRow(row int) {
	if row < 0 || row >= b.n {
		panic(fmt.Sprintf("arrowpair: row %d of %d appended", row, b.n))
	}
}

// Uint8 returns the batch's storage for tensor column t (in
// Layout.TensorColumns order) of row, to be filled in place with exactly its
// len values (HWC). The slot counts as written. The slice is valid until the
// next NewRecordBatch, Reset or Release; do not keep it. It panics when t or
// row is out of range or the column is not uint8.
func (b *BatchBuilder) Uint8(t, row int) []uint8 {
	b.checkRow(row)
	return b.cur.Uint8(t, row)
}

// Float32 is Uint8 for float32 columns (CHW).
func (b *BatchBuilder) Float32(t, row int) []float32 {
	b.checkRow(row)
	return b.cur.Float32(t, row)
}

// Rows is the image storage of one batch — every tensor column, at full
// capacity — reserved ahead of the rows' metadata (ReserveRows). Producers
// write the tensors of row r straight into it (Uint8, Float32); once the
// builder's current batch is empty, Adopt makes it that batch's storage, the
// rows' metadata is Appended in row order, and NewRecordBatch takes the
// buffers over without a copy. A Rows that is never adopted must be
// Released.
//
// Uint8 and Float32 may be called from several goroutines at once for
// different (column, row) slots; everything else, including handing the Rows
// to Adopt after its writers are done, needs the caller's synchronisation.
type Rows struct {
	b       *BatchBuilder
	bufs    []*memory.Buffer // per tensor column; nil once taken or released
	written []bool           // [tensor*cap + row]
}

// ReserveRows allocates the image storage of one batch (from the builder's
// recycled buffers when it has some). It may be called from any goroutine.
func (b *BatchBuilder) ReserveRows() *Rows {
	r := &Rows{b: b, bufs: make([]*memory.Buffer, len(b.tensors)), written: make([]bool, len(b.tensors)*b.cap)}
	for i := range b.tensors {
		c := &b.tensors[i]
		r.bufs[i] = memory.NewResizableBuffer(b.pool)
		r.bufs[i].Resize(c.rowBytes() * b.cap)
	}
	return r
}

func (r *Rows) slot(t, row int, f32 bool) (*tensorCol, *memory.Buffer) {
	b := r.b
	if t < 0 || t >= len(b.tensors) {
		panic(fmt.Sprintf("arrowpair: tensor column %d of %d", t, len(b.tensors)))
	}
	if row < 0 || row >= b.cap {
		panic(fmt.Sprintf("arrowpair: row %d of a %d-row batch", row, b.cap))
	}
	c := &b.tensors[t]
	if c.f32 != f32 {
		panic(fmt.Sprintf("arrowpair: column %s holds %s, not %s", c.name, c.typ.ValueType(), map[bool]string{false: "uint8", true: "float32"}[f32]))
	}
	if r.bufs == nil {
		panic("arrowpair: Rows used after it was taken or released")
	}
	r.written[t*b.cap+row] = true
	return c, r.bufs[t]
}

// Uint8 returns the storage of tensor column t of row (0 ≤ row < Cap), to be
// filled with exactly its len values (HWC); the slot counts as written. It is
// valid until the batch is built or the Rows Released. It panics when t or
// row is out of range or the column is not uint8.
func (r *Rows) Uint8(t, row int) []uint8 {
	c, buf := r.slot(t, row, false)
	return buf.Bytes()[row*c.elems : (row+1)*c.elems : (row+1)*c.elems]
}

// Float32 is Uint8 for float32 columns (CHW).
func (r *Rows) Float32(t, row int) []float32 {
	c, buf := r.slot(t, row, true)
	v := arrow.Float32Traits.CastFromBytes(buf.Bytes())
	return v[row*c.elems : (row+1)*c.elems : (row+1)*c.elems]
}

// Release returns the storage of a Rows that was not adopted to the builder.
// It is a no-op after Adopt's batch was built, and when called again.
func (r *Rows) Release() {
	for _, buf := range r.bufs {
		buf.Release()
	}
	r.bufs = nil
}

// Adopt makes r, reserved from b, the image storage of the current batch,
// which must have no rows yet; rows Appended afterwards use the tensors
// already written into r. The builder owns r from then on (do not Release it
// unless NewRecordBatch is never reached — Release is safe either way).
func (b *BatchBuilder) Adopt(r *Rows) error {
	switch {
	case r == nil || r.b != b:
		return fmt.Errorf("%w: Adopt of rows reserved from another builder", ErrRow)
	case r.bufs == nil:
		return fmt.Errorf("%w: Adopt of rows already taken or released", ErrRow)
	case b.n != 0:
		return fmt.Errorf("%w: Adopt with %d rows already appended", ErrRow, b.n)
	}
	if b.cur != nil && b.cur != r {
		b.cur.Release()
	}
	b.cur = r
	return nil
}

// SetUint8 copies src, one whole tensor, into tensor column t of row.
func (b *BatchBuilder) SetUint8(t, row int, src []uint8) error {
	dst := b.Uint8(t, row)
	if len(src) != len(dst) {
		b.cur.written[t*b.cap+row] = false
		return fmt.Errorf("%w: column %s row %d: %d values, want %d", ErrRow, b.tensors[t].name, row, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

// SetFloat32 copies src, one whole tensor, into tensor column t of row.
func (b *BatchBuilder) SetFloat32(t, row int, src []float32) error {
	dst := b.Float32(t, row)
	if len(src) != len(dst) {
		b.cur.written[t*b.cap+row] = false
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
			if !b.cur.written[t*b.cap+row] {
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
	cur := b.cur
	b.cur = nil
	for i := range b.tensors {
		var buf *memory.Buffer
		if cur != nil {
			buf = cur.bufs[i]
		}
		cols = append(cols, b.takeTensor(&b.tensors[i], buf))
	}
	if cur != nil {
		cur.bufs = nil // taken by the record
	}
	if b.class != nil {
		cols = append(cols, b.class.NewArray())
	}
	for _, a := range b.augs {
		cols = append(cols, a.sb.NewArray())
	}
	rec := array.NewRecordBatch(b.schema, cols, int64(b.n))
	b.n = 0
	b.reserveMeta()
	return rec, nil
}

// takeTensor turns buf (nil: none) into an extension array of b.n rows of
// column c; the array takes buf's reference over.
func (b *BatchBuilder) takeTensor(c *tensorCol, buf *memory.Buffer) arrow.Array {
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
	for i := range b.cur.written {
		b.cur.written[i] = true
	}
	return b.NewRecordBatch()
}

// Release frees the builder's memory, including the rows of an unfinished
// batch and the image buffers kept for reuse. Records already returned are
// unaffected; their memory goes back to the allocator when they are Released.
func (b *BatchBuilder) Release() {
	b.Reset()
	if b.cur != nil {
		b.cur.Release()
		b.cur = nil
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

// augBuilder appends ops.Params to an AugType struct column, field by field
// as ops.ParamFields describes them.
type augBuilder struct {
	sb     *array.StructBuilder
	fields []augField
}

// augField builds one op's field: b is the field's builder (null when the
// op was not reached); st is non-nil for a struct of values.
type augField struct {
	op   ops.OpSet
	b    array.Builder
	st   *array.StructBuilder
	vals []valueBuilder
}

// valueBuilder appends one drawn value; the builder of its kind is set.
type valueBuilder struct {
	v     *ops.ParamValue
	bool  *array.BooleanBuilder
	u8    *array.Uint8Builder
	i32   *array.Int32Builder
	f32   *array.Float32Builder
	box   boxBuilder
	list  *array.ListBuilder
	order *array.FixedSizeListBuilder
	ordV  *array.Uint8Builder
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

func newValueBuilder(v *ops.ParamValue, b array.Builder) valueBuilder {
	vb := valueBuilder{v: v}
	switch v.Kind {
	case ops.ParamBool, ops.ParamPresent:
		vb.bool = b.(*array.BooleanBuilder)
	case ops.ParamUint8:
		vb.u8 = b.(*array.Uint8Builder)
	case ops.ParamInt32:
		vb.i32 = b.(*array.Int32Builder)
	case ops.ParamFloat32:
		vb.f32 = b.(*array.Float32Builder)
	case ops.ParamBox:
		vb.box = newBoxBuilder(b.(*array.StructBuilder))
	case ops.ParamBoxes:
		vb.list = b.(*array.ListBuilder)
		vb.box = newBoxBuilder(vb.list.ValueBuilder().(*array.StructBuilder))
	case ops.ParamOrder:
		vb.order = b.(*array.FixedSizeListBuilder)
		vb.ordV = vb.order.ValueBuilder().(*array.Uint8Builder)
	}
	return vb
}

func (vb *valueBuilder) append(p *ops.Params) {
	switch v := vb.v; v.Kind {
	case ops.ParamBool:
		vb.bool.Append(*v.Bool(p))
	case ops.ParamPresent:
		vb.bool.Append(true)
	case ops.ParamUint8:
		vb.u8.Append(*v.Uint8(p))
	case ops.ParamInt32:
		vb.i32.Append(*v.Int32(p))
	case ops.ParamFloat32:
		vb.f32.Append(*v.Float32(p))
	case ops.ParamBox:
		vb.box.append(*v.Box(p))
	case ops.ParamBoxes:
		vb.list.Append(true)
		for _, box := range *v.Boxes(p) {
			vb.box.append(box)
		}
	case ops.ParamOrder:
		vb.order.Append(true)
		vb.ordV.AppendValues(v.Order(p)[:], nil)
	}
}

func newAugBuilder(mem memory.Allocator) *augBuilder {
	sb := array.NewStructBuilder(mem, AugType)
	a := &augBuilder{sb: sb, fields: make([]augField, len(ops.ParamFields))}
	for i := range ops.ParamFields {
		f := &ops.ParamFields[i]
		af := augField{op: f.Op, b: sb.FieldBuilder(i)}
		if f.Struct() {
			af.st = af.b.(*array.StructBuilder)
			for j := range f.Values {
				af.vals = append(af.vals, newValueBuilder(&f.Values[j], af.st.FieldBuilder(j)))
			}
		} else {
			af.vals = []valueBuilder{newValueBuilder(&f.Values[0], af.b)}
		}
		a.fields[i] = af
	}
	return a
}

// noParams stands for a nil *ops.Params (nothing reached). It is a package
// variable, not a local, because the accessors of ops.ParamFields make any
// Params they are handed escape: a local would cost an allocation per row.
// Nothing writes it.
var noParams ops.Params

// append adds p (nil: nothing reached) as one row.
func (a *augBuilder) append(p *ops.Params) {
	if p == nil {
		p = &noParams
	}
	a.sb.Append(true)
	for i := range a.fields {
		f := &a.fields[i]
		if !p.Has(f.op) {
			f.b.AppendNulls(1)
			continue
		}
		if f.st != nil {
			f.st.Append(true)
		}
		for j := range f.vals {
			f.vals[j].append(p)
		}
	}
}
