// Package ipcguard checks Arrow IPC streams before and after arrow-go decodes
// them, so that arrowpair.ReadIPC can take untrusted input. Its one job is
// refusing corrupt or hostile streams with an error instead of a panic, a
// hang or unbounded memory; it knows nothing of pairflow's schema.
package ipcguard

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// ReadIPC guards against corrupt or hostile streams with this package.
// arrow-go's IPC reader trusts the counts in a message's flatbuffer metadata
// (a schema claiming 2^32 fields makes it allocate without limit) and the
// lengths of a batch's arrays (an array longer than its buffers panics later,
// in the consumer). So Messages frames the messages itself, checks that every
// flatbuffer vector the reader will walk lies inside the metadata, bounds the
// body size, refuses compression (SCHEMA.md §5), and after arrow-go decodes a
// batch CheckRecord checks every array's buffers against its length and
// offsets.

// ErrCorrupt: an IPC stream is malformed (framing, flatbuffer metadata,
// buffers too short for their arrays, compression, big-endian, a batch over
// the size limit). arrowpair exports it as arrowpair.ErrCorrupt.
var ErrCorrupt = errors.New("arrowpair: corrupt IPC stream")

// maxMetadataBytes bounds one message's flatbuffer metadata (the schema,
// with the recipe JSON, is the largest).
const maxMetadataBytes = 16 << 20

// maxFlatbufferVisits bounds the tables and vectors a metadata check visits.
const maxFlatbufferVisits = 1 << 16

const contToken = 0xFFFFFFFF

// Messages is an ipc.MessageReader that checks each message before arrow-go
// parses it. Hand it to ipc.NewReaderFromMessageReader, which owns it then,
// and call SetSchema with the reader's schema once it is read.
type Messages struct {
	r        io.Reader
	mem      memory.Allocator
	maxBody  int64
	refs     atomic.Int64
	msg      *ipc.Message
	index    int // messages read so far
	metadata bytes.Buffer
	// schema, once known, lets Message check a batch's nodes and buffers
	// before arrow-go builds arrays from them (arrow-go panics, and leaks
	// what it built, on inconsistent ones).
	schema *arrow.Schema
	// endMarker: the stream ended with its end-of-stream marker (not a bare
	// end of input).
	endMarker bool
}

// NewMessages returns a Messages reading from r, allocating message bodies
// from mem and refusing bodies over maxBody bytes. It starts with one
// reference.
func NewMessages(r io.Reader, mem memory.Allocator, maxBody int64) *Messages {
	g := &Messages{r: r, mem: mem, maxBody: maxBody}
	g.refs.Add(1)
	return g
}

// Retain adds a reference.
func (g *Messages) Retain() { g.refs.Add(1) }

// Release drops a reference; the last one frees the current message.
func (g *Messages) Release() {
	if g.refs.Add(-1) == 0 && g.msg != nil {
		g.msg.Release()
		g.msg = nil
	}
}

// SetSchema tells g the stream's schema, read by arrow-go from the first
// message: from then on g accepts only record batches and checks each one's
// nodes and buffers against the schema before arrow-go builds arrays from
// them.
func (g *Messages) SetSchema(s *arrow.Schema) { g.schema = s }

// EndMarker reports whether the stream ended with the end-of-stream marker
// (a writer that finished), rather than at a bare end of input (possibly a
// cut between messages).
func (g *Messages) EndMarker() bool { return g.endMarker }

// Message reads the next message: (nil, io.EOF) at the end-of-stream marker
// or a clean end of input.
func (g *Messages) Message() (*ipc.Message, error) {
	idx := g.index
	g.index++
	var word [4]byte
	if _, err := io.ReadFull(g.r, word[:]); err != nil {
		if errors.Is(err, io.EOF) && idx > 0 {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: message %d: reading its length: %v", ErrCorrupt, idx, err)
	}
	n := binary.LittleEndian.Uint32(word[:])
	if n == contToken {
		if _, err := io.ReadFull(g.r, word[:]); err != nil {
			return nil, fmt.Errorf("%w: message %d: reading its length: %v", ErrCorrupt, idx, err)
		}
		n = binary.LittleEndian.Uint32(word[:])
	}
	if n == 0 {
		g.endMarker = true
		return nil, io.EOF
	}
	if n < 8 || n > maxMetadataBytes {
		return nil, fmt.Errorf("%w: message %d: metadata length %d outside 8..%d", ErrCorrupt, idx, n, maxMetadataBytes)
	}
	// Read through a growing buffer, so a length the input does not back
	// costs only what the input holds.
	g.metadata.Reset()
	if m, err := g.metadata.ReadFrom(io.LimitReader(g.r, int64(n))); err != nil || m != int64(n) {
		return nil, fmt.Errorf("%w: message %d: metadata truncated at %d of %d bytes", ErrCorrupt, idx, m, n)
	}
	meta := bytes.Clone(g.metadata.Bytes())
	bodyLen, kind, header, err := checkMessage(meta, g.maxBody)
	if err != nil {
		return nil, fmt.Errorf("%w: message %d: %v", ErrCorrupt, idx, err)
	}
	if g.schema != nil && kind != fbHeaderRecordBatch {
		return nil, fmt.Errorf("%w: message %d: header type %d after the schema, want record batches", ErrCorrupt, idx, kind)
	}
	body := memory.NewResizableBuffer(g.mem)
	defer body.Release()
	body.Resize(int(bodyLen))
	if _, err := io.ReadFull(g.r, body.Bytes()); err != nil {
		return nil, fmt.Errorf("%w: message %d: body of %d bytes: %v", ErrCorrupt, idx, bodyLen, err)
	}
	if g.schema != nil {
		if err := checkBatchLayout(meta, header, body.Bytes(), g.schema); err != nil {
			return nil, fmt.Errorf("%w: message %d: %v", ErrCorrupt, idx, err)
		}
	}
	metaBuf := memory.NewBufferBytes(meta)
	if g.msg != nil {
		g.msg.Release()
	}
	g.msg = ipc.NewMessage(metaBuf, body)
	return g.msg, nil
}

// Message header types of Arrow's Message.fbs.
const (
	fbHeaderSchema      = 1
	fbHeaderDictionary  = 2
	fbHeaderRecordBatch = 3
	fbTypeUnion         = 14
)

// flatbuffer is a bounds-checking walker over one metadata buffer.
type flatbuffer struct {
	buf    []byte
	visits int
}

func (f *flatbuffer) u32(pos int) (int, error) {
	if pos < 0 || pos+4 > len(f.buf) {
		return 0, fmt.Errorf("offset %d outside %d bytes of metadata", pos, len(f.buf))
	}
	return int(binary.LittleEndian.Uint32(f.buf[pos:])), nil
}

// table checks the table at pos and its vtable.
func (f *flatbuffer) table(pos int) error {
	if f.visits++; f.visits > maxFlatbufferVisits {
		return errors.New("metadata too complex")
	}
	soff, err := f.u32(pos)
	if err != nil {
		return err
	}
	vt := pos - int(int32(soff))
	if vt < 0 || vt+4 > len(f.buf) {
		return fmt.Errorf("vtable %d outside metadata", vt)
	}
	vtLen := int(binary.LittleEndian.Uint16(f.buf[vt:]))
	tabLen := int(binary.LittleEndian.Uint16(f.buf[vt+2:]))
	if vtLen < 4 || vtLen%2 != 0 || vt+vtLen > len(f.buf) || tabLen < 4 || pos+tabLen > len(f.buf) {
		return fmt.Errorf("table at %d overruns metadata", pos)
	}
	// Every present field must lie inside the table: readers do not check.
	for e := 4; e < vtLen; e += 2 {
		if off := int(binary.LittleEndian.Uint16(f.buf[vt+e:])); off != 0 && (off < 4 || off >= tabLen) {
			return fmt.Errorf("table at %d: field %d at offset %d outside its %d bytes", pos, (e-4)/2, off, tabLen)
		}
	}
	return nil
}

// field returns the absolute position of slot, a value of size bytes, in the
// (checked) table at tab, or -1 when absent.
func (f *flatbuffer) field(tab, slot, size int) int {
	vt := tab - int(int32(binary.LittleEndian.Uint32(f.buf[tab:])))
	vtLen := int(binary.LittleEndian.Uint16(f.buf[vt:]))
	tabLen := int(binary.LittleEndian.Uint16(f.buf[vt+2:]))
	e := 4 + 2*slot
	if e+2 > vtLen {
		return -1
	}
	off := int(binary.LittleEndian.Uint16(f.buf[vt+e:]))
	if off == 0 || off+size > tabLen {
		return -1
	}
	return tab + off
}

// ref follows the offset stored at slot; -1 when absent.
func (f *flatbuffer) ref(tab, slot int) (int, error) {
	p := f.field(tab, slot, 4)
	if p < 0 {
		return -1, nil
	}
	off, err := f.u32(p)
	if err != nil {
		return 0, err
	}
	return p + off, nil
}

// subtable checks the table referenced by slot; -1 when absent.
func (f *flatbuffer) subtable(tab, slot int) (int, error) {
	p, err := f.ref(tab, slot)
	if err != nil || p < 0 {
		return p, err
	}
	return p, f.table(p)
}

// vector checks the vector referenced by slot, whose elements take size
// bytes, and returns its start and length (-1 start when absent).
func (f *flatbuffer) vector(tab, slot, size int) (int, int, error) {
	p, err := f.ref(tab, slot)
	if err != nil || p < 0 {
		return -1, 0, err
	}
	if f.visits++; f.visits > maxFlatbufferVisits {
		return 0, 0, errors.New("metadata too complex")
	}
	n, err := f.u32(p)
	if err != nil {
		return 0, 0, err
	}
	if n > (len(f.buf)-p-4)/size {
		return 0, 0, fmt.Errorf("vector of %d × %d bytes at %d overruns %d bytes of metadata", n, size, p, len(f.buf))
	}
	return p + 4, n, nil
}

// tables checks a vector of tables, calling each on every element.
func (f *flatbuffer) tables(tab, slot int, each func(pos int) error) error {
	start, n, err := f.vector(tab, slot, 4)
	if err != nil || start < 0 {
		return err
	}
	for i := range n {
		e := start + 4*i
		off, _ := f.u32(e)
		if err := f.table(e + off); err != nil {
			return err
		}
		if each != nil {
			if err := each(e + off); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *flatbuffer) keyValues(tab, slot int) error {
	return f.tables(tab, slot, func(kv int) error {
		if _, _, err := f.vector(kv, 0, 1); err != nil {
			return err
		}
		_, _, err := f.vector(kv, 1, 1)
		return err
	})
}

func (f *flatbuffer) fieldTable(pos, depth int) error {
	if depth > 64 {
		return errors.New("fields nested deeper than 64")
	}
	if _, _, err := f.vector(pos, 0, 1); err != nil { // name
		return err
	}
	typ, err := f.subtable(pos, 3)
	if err != nil {
		return err
	}
	if p := f.field(pos, 2, 1); p >= 0 && f.buf[p] == fbTypeUnion && typ >= 0 {
		if _, _, err := f.vector(typ, 1, 4); err != nil { // typeIds
			return err
		}
	}
	dict, err := f.subtable(pos, 4)
	if err != nil {
		return err
	}
	if dict >= 0 {
		if _, err := f.subtable(dict, 1); err != nil { // indexType
			return err
		}
	}
	if err := f.tables(pos, 5, func(child int) error { return f.fieldTable(child, depth+1) }); err != nil {
		return err
	}
	return f.keyValues(pos, 6)
}

func (f *flatbuffer) recordBatch(pos int, bodyLen int64) error {
	if p := f.field(pos, 0, 8); p >= 0 && int64(binary.LittleEndian.Uint64(f.buf[p:])) < 0 {
		return errors.New("negative record batch length")
	}
	start, n, err := f.vector(pos, 1, 16) // nodes: {length, null_count int64}
	if err != nil {
		return err
	}
	for i := range n {
		length := int64(binary.LittleEndian.Uint64(f.buf[start+16*i:]))
		nulls := int64(binary.LittleEndian.Uint64(f.buf[start+16*i+8:]))
		if length < 0 || length > math.MaxInt32 || nulls < 0 || nulls > length {
			return fmt.Errorf("field node %d: length %d, null count %d", i, length, nulls)
		}
	}
	start, n, err = f.vector(pos, 2, 16) // buffers: {offset, length int64}
	if err != nil {
		return err
	}
	for i := range n {
		off := int64(binary.LittleEndian.Uint64(f.buf[start+16*i:]))
		length := int64(binary.LittleEndian.Uint64(f.buf[start+16*i+8:]))
		if off < 0 || length < 0 || off > bodyLen || length > bodyLen-off {
			return fmt.Errorf("buffer %d: offset %d length %d outside a body of %d bytes", i, off, length, bodyLen)
		}
	}
	if f.field(pos, 3, 4) >= 0 {
		return errors.New("compressed record batch (pairflow streams are uncompressed)")
	}
	_, _, err = f.vector(pos, 4, 8) // variadicBufferCounts
	return err
}

// checkMessage verifies the flatbuffer Message in meta as far as arrow-go's
// stream reader walks it and returns the body length, the header type and
// the header table's position.
func checkMessage(meta []byte, maxBody int64) (int64, int, int, error) {
	f := &flatbuffer{buf: meta}
	root, err := f.u32(0)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := f.table(root); err != nil {
		return 0, 0, 0, err
	}
	var bodyLen int64
	if p := f.field(root, 3, 8); p >= 0 {
		bodyLen = int64(binary.LittleEndian.Uint64(meta[p:]))
	}
	if bodyLen < 0 || bodyLen > maxBody {
		return 0, 0, 0, fmt.Errorf("body length %d outside 0..%d (see WithMaxBatchBytes)", bodyLen, maxBody)
	}
	if err := f.keyValues(root, 4); err != nil {
		return 0, 0, 0, err
	}
	kind := -1
	if p := f.field(root, 1, 1); p >= 0 {
		kind = int(meta[p])
	}
	header, err := f.subtable(root, 2)
	if err != nil {
		return 0, 0, 0, err
	}
	if header < 0 {
		return 0, 0, 0, errors.New("message without a header")
	}
	switch kind {
	case fbHeaderSchema:
		if p := f.field(header, 0, 2); p >= 0 && binary.LittleEndian.Uint16(meta[p:]) != 0 {
			return 0, 0, 0, errors.New("big-endian schema (pairflow streams are little-endian)")
		}
		if err := f.tables(header, 1, func(pos int) error { return f.fieldTable(pos, 0) }); err != nil {
			return 0, 0, 0, err
		}
		if err := f.keyValues(header, 2); err != nil {
			return 0, 0, 0, err
		}
		if _, _, err := f.vector(header, 3, 8); err != nil { // features
			return 0, 0, 0, err
		}
	case fbHeaderRecordBatch:
		if err := f.recordBatch(header, bodyLen); err != nil {
			return 0, 0, 0, err
		}
	case fbHeaderDictionary:
		data, err := f.subtable(header, 1)
		if err != nil {
			return 0, 0, 0, err
		}
		if data >= 0 {
			if err := f.recordBatch(data, bodyLen); err != nil {
				return 0, 0, 0, err
			}
		}
	default:
		return 0, 0, 0, fmt.Errorf("message header type %d is not a schema or record batch", kind)
	}
	return bodyLen, kind, header, nil
}

// CheckRecord verifies that every array of rec has buffers covering its
// length, offsets and children, for the types of SCHEMA.md. Its errors do not
// wrap ErrCorrupt; the caller adds the context.
func CheckRecord(rec arrow.RecordBatch) error {
	for i, col := range rec.Columns() {
		if int64(col.Len()) != rec.NumRows() {
			return fmt.Errorf("column %d has %d rows, the batch %d", i, col.Len(), rec.NumRows())
		}
		if err := checkData(col.Data(), 0); err != nil {
			return fmt.Errorf("column %s: %v", rec.ColumnName(i), err)
		}
	}
	return nil
}

func checkData(d arrow.ArrayData, depth int) error {
	if depth > 64 {
		return errors.New("nested deeper than 64")
	}
	off, n := d.Offset(), d.Len()
	if off < 0 || n < 0 {
		return fmt.Errorf("offset %d length %d", off, n)
	}
	end := off + n
	bufs := d.Buffers()
	bufLen := func(i int) int {
		if i >= len(bufs) || bufs[i] == nil {
			return 0
		}
		return bufs[i].Len()
	}
	if d.NullN() != 0 && len(bufs) > 0 && bufs[0] != nil && bufLen(0) < int(bitutil.BytesForBits(int64(end))) {
		return fmt.Errorf("validity bitmap of %d bytes for %d values", bufLen(0), end)
	}
	if d.NullN() != 0 && (len(bufs) == 0 || bufs[0] == nil) {
		return fmt.Errorf("%d nulls without a validity bitmap", d.NullN())
	}
	typ := d.DataType()
	if ext, ok := typ.(arrow.ExtensionType); ok {
		typ = ext.StorageType()
	}
	children := d.Children()
	switch t := typ.(type) {
	case *arrow.BooleanType:
		if bufLen(1) < int(bitutil.BytesForBits(int64(end))) {
			return fmt.Errorf("bool data of %d bytes for %d values", bufLen(1), end)
		}
	case arrow.FixedWidthDataType:
		if w := t.BitWidth() / 8; bufLen(1) < end*w {
			return fmt.Errorf("%s data of %d bytes for %d values", t, bufLen(1), end)
		}
	case *arrow.StringType:
		return checkOffsets(bufs, off, n, bufLen(2))
	case *arrow.ListType:
		if len(children) != 1 {
			return errors.New("list without one child")
		}
		if err := checkOffsets(bufs, off, n, children[0].Len()); err != nil {
			return err
		}
		return checkData(children[0], depth+1)
	case *arrow.FixedSizeListType:
		if len(children) != 1 || children[0].Len() < end*int(t.Len()) {
			return fmt.Errorf("fixed_size_list of %d rows × %d needs more values than its child holds", end, t.Len())
		}
		return checkData(children[0], depth+1)
	case *arrow.StructType:
		if len(children) != t.NumFields() {
			return fmt.Errorf("struct with %d children for %d fields", len(children), t.NumFields())
		}
		for _, c := range children {
			if c.Len() < end {
				return fmt.Errorf("struct child of %d rows for %d", c.Len(), end)
			}
			if err := checkData(c, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("unexpected type %s", typ)
	}
	return nil
}

// checkOffsets verifies int32 offsets off..off+n: inside the buffer,
// non-decreasing, non-negative and at most limit.
func checkOffsets(bufs []*memory.Buffer, off, n, limit int) error {
	if len(bufs) < 2 || bufs[1] == nil || bufs[1].Len() < (off+n+1)*4 {
		if n == 0 {
			return nil
		}
		return fmt.Errorf("offsets buffer too short for %d values", off+n)
	}
	o := arrow.Int32Traits.CastFromBytes(bufs[1].Bytes())[off : off+n+1]
	prev := int32(0)
	for i, v := range o {
		if v < 0 || (i > 0 && v < prev) || int(v) > limit {
			return fmt.Errorf("offset %d = %d invalid (previous %d, limit %d)", off+i, v, prev, limit)
		}
		prev = v
	}
	return nil
}

// checkBatchLayout walks the record batch at header in meta against schema,
// as arrow-go will load it: one field node per field and the buffers of each
// type in order, every buffer large enough for its node's length, offsets
// (read from body) non-decreasing and inside their data.
func checkBatchLayout(meta []byte, header int, body []byte, schema *arrow.Schema) error {
	f := &flatbuffer{buf: meta}
	ns, nn, _ := f.vector(header, 1, 16)
	bs, nb, _ := f.vector(header, 2, 16)
	w := &layoutWalk{meta: meta, body: body, nodes: ns, nnodes: nn, bufs: bs, nbufs: nb}
	var rows int64
	if p := f.field(header, 0, 8); p >= 0 {
		rows = int64(binary.LittleEndian.Uint64(meta[p:]))
	}
	for _, fld := range schema.Fields() {
		n, err := w.walk(fld.Type, 0)
		if err != nil {
			return fmt.Errorf("column %s: %v", fld.Name, err)
		}
		if n != rows {
			return fmt.Errorf("column %s has %d rows, the batch %d", fld.Name, n, rows)
		}
	}
	return nil
}

type layoutWalk struct {
	meta, body    []byte
	nodes, nnodes int
	bufs, nbufs   int
	node, buf     int // next to consume
}

// nextNode returns the next field node's length and null count.
func (w *layoutWalk) nextNode() (int64, int64, error) {
	if w.node >= w.nnodes {
		return 0, 0, fmt.Errorf("only %d field nodes", w.nnodes)
	}
	p := w.nodes + 16*w.node
	w.node++
	return int64(binary.LittleEndian.Uint64(w.meta[p:])), int64(binary.LittleEndian.Uint64(w.meta[p+8:])), nil
}

// nextBuf returns the next buffer's bytes (bounds checked by recordBatch).
func (w *layoutWalk) nextBuf() ([]byte, error) {
	if w.buf >= w.nbufs {
		return nil, fmt.Errorf("only %d buffers", w.nbufs)
	}
	p := w.bufs + 16*w.buf
	w.buf++
	off := int64(binary.LittleEndian.Uint64(w.meta[p:]))
	n := int64(binary.LittleEndian.Uint64(w.meta[p+8:]))
	return w.body[off : off+n], nil
}

// walk consumes the node and buffers of one field of type t and returns its
// length.
func (w *layoutWalk) walk(t arrow.DataType, depth int) (int64, error) {
	if depth > 64 {
		return 0, errors.New("nested deeper than 64")
	}
	if ext, ok := t.(arrow.ExtensionType); ok {
		t = ext.StorageType()
	}
	n, nulls, err := w.nextNode()
	if err != nil {
		return 0, err
	}
	validity, err := w.nextBuf()
	if err != nil {
		return 0, err
	}
	if nulls > 0 && int64(len(validity)) < bitutil.BytesForBits(n) {
		return 0, fmt.Errorf("validity of %d bytes for %d values", len(validity), n)
	}
	switch t := t.(type) {
	case *arrow.BooleanType:
		data, err := w.nextBuf()
		if err != nil {
			return 0, err
		}
		if int64(len(data)) < bitutil.BytesForBits(n) {
			return 0, fmt.Errorf("bool data of %d bytes for %d values", len(data), n)
		}
	case arrow.FixedWidthDataType:
		data, err := w.nextBuf()
		if err != nil {
			return 0, err
		}
		if int64(len(data)) < n*int64(t.BitWidth()/8) {
			return 0, fmt.Errorf("%s data of %d bytes for %d values", t, len(data), n)
		}
	case *arrow.StringType:
		offsets, err := w.nextBuf()
		if err != nil {
			return 0, err
		}
		data, err := w.nextBuf()
		if err != nil {
			return 0, err
		}
		if _, err := checkOffsetBytes(offsets, n, int64(len(data))); err != nil {
			return 0, err
		}
	case *arrow.ListType:
		offsets, err := w.nextBuf()
		if err != nil {
			return 0, err
		}
		// The child's length is checked against the last offset after the
		// child is walked.
		last, err := checkOffsetBytes(offsets, n, math.MaxInt32)
		if err != nil {
			return 0, err
		}
		cn, err := w.walk(t.Elem(), depth+1)
		if err != nil {
			return 0, err
		}
		if last > cn {
			return 0, fmt.Errorf("list offsets reach %d, child has %d values", last, cn)
		}
	case *arrow.FixedSizeListType:
		cn, err := w.walk(t.Elem(), depth+1)
		if err != nil {
			return 0, err
		}
		if cn < n*int64(t.Len()) {
			return 0, fmt.Errorf("fixed_size_list of %d × %d, child has %d values", n, t.Len(), cn)
		}
	case *arrow.StructType:
		for _, c := range t.Fields() {
			cn, err := w.walk(c.Type, depth+1)
			if err != nil {
				return 0, err
			}
			if cn < n {
				return 0, fmt.Errorf("struct of %d rows, child %s has %d", n, c.Name, cn)
			}
		}
	default:
		return 0, fmt.Errorf("unexpected type %s", t)
	}
	return n, nil
}

// checkOffsetBytes checks n+1 little-endian int32 offsets: non-negative,
// non-decreasing, at most limit; it returns the last. No offsets are needed
// when n is 0.
func checkOffsetBytes(b []byte, n, limit int64) (int64, error) {
	if n == 0 && len(b) == 0 {
		return 0, nil
	}
	if int64(len(b)) < (n+1)*4 {
		return 0, fmt.Errorf("offsets of %d bytes for %d values", len(b), n)
	}
	prev := int64(0)
	for i := int64(0); i <= n; i++ {
		v := int64(int32(binary.LittleEndian.Uint32(b[4*i:])))
		if v < 0 || v < prev || v > limit {
			return 0, fmt.Errorf("offset %d = %d invalid (previous %d, limit %d)", i, v, prev, limit)
		}
		prev = v
	}
	return prev, nil
}
