package arrowpair

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/pairflow/pairflow/arrowpair/internal/ipcguard"
	"github.com/pairflow/pairflow/ops"
)

// SchemaVersion is the version of the Arrow contract in SCHEMA.md that this
// package writes. It reads versions 1 and 2 (MinSchemaVersion..SchemaVersion):
// version 2 adds the stream summary that marks a complete IPC stream
// (SCHEMA.md §5.1); the columns are the same.
const SchemaVersion = 2

// MinSchemaVersion is the oldest schema version this package reads.
const MinSchemaVersion = 1

// Schema metadata keys (SCHEMA.md §2).
const (
	MetaSchemaVersion = "pairflow.schema_version"
	MetaKind          = "pairflow.kind"
	MetaRecipe        = "pairflow.recipe"
)

// Errors of the Arrow contract. They are wrapped with context; test with
// errors.Is.
var (
	// ErrSchemaVersion: a schema's pairflow.schema_version is not SchemaVersion.
	ErrSchemaVersion = errors.New("arrowpair: unsupported schema version")
	// ErrNotPairflow: a schema lacks pairflow's metadata or its columns differ
	// from what SCHEMA.md prescribes for its kind.
	ErrNotPairflow = errors.New("arrowpair: not a pairflow schema")
	// ErrLayout: a Layout is invalid (unknown kind, wrong number of shapes,
	// sizes out of range, recipe not JSON).
	ErrLayout = errors.New("arrowpair: invalid layout")
	// ErrTensorType: an arrow.fixed_shape_tensor type or its metadata is invalid.
	ErrTensorType = errors.New("arrowpair: invalid fixed_shape_tensor type")
	// ErrRow: a row handed to a BatchBuilder is invalid (class out of range,
	// missing label in supervised, wrong tensor length, batch full).
	ErrRow = errors.New("arrowpair: invalid row")
	// ErrIncomplete: a batch was finished while a row's tensor was never written.
	ErrIncomplete = errors.New("arrowpair: tensor not written")
	// ErrCorrupt: an IPC stream is malformed (framing, flatbuffer metadata,
	// buffers too short for their arrays, compression, big-endian, a batch
	// over the size limit).
	ErrCorrupt = ipcguard.ErrCorrupt
)

// Kind is a pair kind: the self-supervised (or supervised/eval) task a batch
// serves. Its string is the pairflow.kind metadata value.
type Kind string

// The pair kinds of SCHEMA.md §3.2.
const (
	Contrastive   Kind = "contrastive"
	Inpainting    Kind = "inpainting"
	RelativePatch Kind = "relative-patch"
	Rotation      Kind = "rotation"
	Supervised    Kind = "supervised"
	Eval          Kind = "eval"
)

// Kinds lists every pair kind.
func Kinds() []Kind {
	return []Kind{Contrastive, Inpainting, RelativePatch, Rotation, Supervised, Eval}
}

// DType is the element type of image columns.
type DType uint8

const (
	// Uint8 images are HWC bytes: shape [H, W, C].
	Uint8 DType = iota
	// Float32 images are planar CHW floats: shape [C, H, W].
	Float32
)

func (d DType) String() string {
	switch d {
	case Uint8:
		return "uint8"
	case Float32:
		return "float32"
	}
	return "DType(" + strconv.Itoa(int(d)) + ")"
}

// Shape is the geometry of one image column: height, width and channels.
type Shape struct {
	H, W, C int
}

// MaxChannels bounds Shape.C.
const MaxChannels = 4

// Layout fixes a schema: the pair kind, the image dtype, the image shapes and
// the recipe.
type Layout struct {
	Kind  Kind
	DType DType
	// Shapes: for Contrastive one shape per view (at least 2); for every other
	// kind exactly one, the shape of its images (inpainting: target and
	// masked, the mask being H×W×1; relative-patch: both patches).
	Shapes []Shape
	// Recipe is the augmentation recipe as JSON (an object or array), kept in
	// the schema metadata verbatim. Empty means {}.
	Recipe []byte
}

// Column names of SCHEMA.md §3.
const (
	ColSampleID = "sample_id"
	ColKey      = "key"
	ColLabel    = "label"
	ColEpoch    = "epoch"
	ColPosition = "position"
	ColRotation = "rotation"
)

// numCommon is the number of common columns before the kind's own.
const numCommon = 4

// Validate reports whether l describes a valid schema.
func (l Layout) Validate() error {
	switch l.Kind {
	case Contrastive:
		if len(l.Shapes) < 2 {
			return fmt.Errorf("%w: contrastive needs at least 2 view shapes, have %d", ErrLayout, len(l.Shapes))
		}
	case Inpainting, RelativePatch, Rotation, Supervised, Eval:
		if len(l.Shapes) != 1 {
			return fmt.Errorf("%w: %s needs exactly 1 shape, have %d", ErrLayout, l.Kind, len(l.Shapes))
		}
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrLayout, l.Kind)
	}
	if l.DType != Uint8 && l.DType != Float32 {
		return fmt.Errorf("%w: unknown dtype %d", ErrLayout, l.DType)
	}
	for i, s := range l.Shapes {
		if s.H < 1 || s.W < 1 || s.H > ops.MaxSide || s.W > ops.MaxSide || s.C < 1 || s.C > MaxChannels {
			return fmt.Errorf("%w: shape %d is %dx%dx%d, want 1..%d x 1..%d x 1..%d",
				ErrLayout, i, s.H, s.W, s.C, ops.MaxSide, ops.MaxSide, MaxChannels)
		}
	}
	if len(l.Recipe) > 0 {
		var v any
		if err := json.Unmarshal(l.Recipe, &v); err != nil {
			return fmt.Errorf("%w: recipe is not JSON: %v", ErrLayout, err)
		}
		switch v.(type) {
		case map[string]any, []any:
		default:
			return fmt.Errorf("%w: recipe is JSON %T, want an object or array", ErrLayout, v)
		}
	}
	return nil
}

// TensorColumns returns the names of the kind's image columns in schema order
// (SCHEMA.md §3.2). l must be valid.
func (l Layout) TensorColumns() []string {
	switch l.Kind {
	case Contrastive:
		names := make([]string, len(l.Shapes))
		for i := range names {
			names[i] = "view_" + strconv.Itoa(i)
		}
		return names
	case Inpainting:
		return []string{"masked", "target", "mask"}
	case RelativePatch:
		return []string{"patch_a", "patch_b"}
	default:
		return []string{"view"}
	}
}

// AugColumns returns the names of the augmentation columns in schema order;
// the i-th describes the i-th augmented image. l must be valid.
func (l Layout) AugColumns() []string {
	switch l.Kind {
	case Inpainting:
		return []string{"target_aug"}
	default:
		names := l.TensorColumns()
		for i := range names {
			names[i] += "_aug"
		}
		return names
	}
}

// ClassColumn returns the kind's class column ("position" or "rotation") and
// the number of classes, or "" and 0 when the kind has none.
func (l Layout) ClassColumn() (string, int) {
	switch l.Kind {
	case RelativePatch:
		return ColPosition, 8
	case Rotation:
		return ColRotation, 4
	}
	return "", 0
}

// tensorType returns the extension type of tensor column i.
func (l Layout) tensorType(i int) (*FixedShapeTensorType, error) {
	var s Shape
	switch {
	case l.Kind == Contrastive:
		s = l.Shapes[i]
	default:
		s = l.Shapes[0]
	}
	if l.Kind == Inpainting && i == 2 { // mask
		return NewFixedShapeTensorType(arrow.PrimitiveTypes.Uint8, []int64{int64(s.H), int64(s.W), 1}, []string{"H", "W", "C"}, nil)
	}
	if l.DType == Float32 {
		return NewFixedShapeTensorType(arrow.PrimitiveTypes.Float32, []int64{int64(s.C), int64(s.H), int64(s.W)}, []string{"C", "H", "W"}, nil)
	}
	return NewFixedShapeTensorType(arrow.PrimitiveTypes.Uint8, []int64{int64(s.H), int64(s.W), int64(s.C)}, []string{"H", "W", "C"}, nil)
}

// boxType is struct<x, y, w, h: int32>.
var boxType = arrow.StructOf(
	arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	arrow.Field{Name: "w", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	arrow.Field{Name: "h", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
)

// AugType is the struct type of every augmentation column (SCHEMA.md §3.4):
// one nullable field per op of ops.ParamFields, in its order, holding the
// op's value or a struct of its values.
var AugType = augType()

// augType derives AugType from ops.ParamFields.
func augType() *arrow.StructType {
	fields := make([]arrow.Field, len(ops.ParamFields))
	for i := range ops.ParamFields {
		f := &ops.ParamFields[i]
		t := paramType(f.Values[0].Kind)
		if f.Struct() {
			sub := make([]arrow.Field, len(f.Values))
			for j, v := range f.Values {
				sub[j] = arrow.Field{Name: v.Name, Type: paramType(v.Kind), Nullable: true}
			}
			t = arrow.StructOf(sub...)
		}
		fields[i] = arrow.Field{Name: f.Name, Type: t, Nullable: true}
	}
	return arrow.StructOf(fields...)
}

// paramType is the Arrow type of one kind of drawn value.
func paramType(k ops.ParamKind) arrow.DataType {
	switch k {
	case ops.ParamBool, ops.ParamPresent:
		return arrow.FixedWidthTypes.Boolean
	case ops.ParamUint8:
		return arrow.PrimitiveTypes.Uint8
	case ops.ParamInt32:
		return arrow.PrimitiveTypes.Int32
	case ops.ParamFloat32:
		return arrow.PrimitiveTypes.Float32
	case ops.ParamBox:
		return boxType
	case ops.ParamBoxes:
		return arrow.ListOf(boxType)
	case ops.ParamOrder:
		return arrow.FixedSizeListOf(4, arrow.PrimitiveTypes.Uint8)
	}
	panic(fmt.Sprintf("arrowpair: ops.ParamKind %d has no Arrow type", k))
}

// NewSchema returns the Arrow schema of SCHEMA.md for l, with its metadata.
func NewSchema(l Layout) (*arrow.Schema, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	fields := []arrow.Field{
		{Name: ColSampleID, Type: arrow.PrimitiveTypes.Uint64},
		{Name: ColKey, Type: arrow.BinaryTypes.String},
		{Name: ColLabel, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: ColEpoch, Type: arrow.PrimitiveTypes.Int64},
	}
	for i, name := range l.TensorColumns() {
		t, err := l.tensorType(i)
		if err != nil {
			return nil, fmt.Errorf("%w: column %s: %v", ErrLayout, name, err)
		}
		fields = append(fields, arrow.Field{Name: name, Type: t})
	}
	if name, _ := l.ClassColumn(); name != "" {
		fields = append(fields, arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Uint8})
	}
	for _, name := range l.AugColumns() {
		fields = append(fields, arrow.Field{Name: name, Type: AugType})
	}
	recipe := "{}"
	if len(l.Recipe) > 0 {
		recipe = string(l.Recipe)
	}
	md := arrow.NewMetadata(
		[]string{MetaSchemaVersion, MetaKind, MetaRecipe},
		[]string{strconv.Itoa(SchemaVersion), string(l.Kind), recipe},
	)
	return arrow.NewSchema(fields, &md), nil
}

// ParseSchema checks that s is a pairflow schema of SchemaVersion and returns
// its Layout. It fails with ErrNotPairflow when the metadata is missing or a
// column differs from SCHEMA.md, and with ErrSchemaVersion for another version.
func ParseSchema(s *arrow.Schema) (Layout, error) {
	md := s.Metadata()
	v, ok := md.GetValue(MetaSchemaVersion)
	if !ok {
		return Layout{}, fmt.Errorf("%w: no %s metadata", ErrNotPairflow, MetaSchemaVersion)
	}
	if n, err := strconv.Atoi(v); err != nil || strconv.Itoa(n) != v || n < MinSchemaVersion || n > SchemaVersion {
		return Layout{}, fmt.Errorf("%w: %s is %.32q, this reader knows %d to %d", ErrSchemaVersion, MetaSchemaVersion, v, MinSchemaVersion, SchemaVersion)
	}
	kind, ok := md.GetValue(MetaKind)
	if !ok {
		return Layout{}, fmt.Errorf("%w: no %s metadata", ErrNotPairflow, MetaKind)
	}
	recipe, _ := md.GetValue(MetaRecipe)
	l := Layout{Kind: Kind(kind), Recipe: []byte(recipe)}

	// Read dtype and shapes from the image columns, then rebuild the schema
	// and demand equality.
	views := 1
	if l.Kind == Contrastive {
		views = 0
		for s.HasField("view_" + strconv.Itoa(views)) {
			views++
		}
	}
	for i := range views {
		if numCommon+i >= s.NumFields() {
			return Layout{}, fmt.Errorf("%w: %d columns, too few for %s", ErrNotPairflow, s.NumFields(), kind)
		}
		f := s.Field(numCommon + i)
		t, ok := f.Type.(*FixedShapeTensorType)
		if !ok || len(t.Shape()) != 3 {
			return Layout{}, fmt.Errorf("%w: column %d (%s) is %s, want a 3-d %s", ErrNotPairflow, numCommon+i, f.Name, f.Type, FixedShapeTensorName)
		}
		sh := t.Shape()
		var dt DType
		var shape Shape
		switch t.ValueType().ID() {
		case arrow.UINT8:
			dt, shape = Uint8, Shape{H: int(sh[0]), W: int(sh[1]), C: int(sh[2])}
		case arrow.FLOAT32:
			dt, shape = Float32, Shape{C: int(sh[0]), H: int(sh[1]), W: int(sh[2])}
		default:
			return Layout{}, fmt.Errorf("%w: column %s holds %s tensors", ErrNotPairflow, f.Name, t.ValueType())
		}
		if i > 0 && dt != l.DType {
			return Layout{}, fmt.Errorf("%w: column %s is %s, column 4 is %s", ErrNotPairflow, f.Name, dt, l.DType)
		}
		l.DType = dt
		l.Shapes = append(l.Shapes, shape)
	}
	if l.Kind == Inpainting && len(l.Shapes) == 1 {
		// masked decided the shape; target and mask are checked below.
	}
	want, err := NewSchema(l)
	if err != nil {
		return Layout{}, fmt.Errorf("%w: %v", ErrNotPairflow, err)
	}
	if !want.Equal(s) {
		return Layout{}, fmt.Errorf("%w: columns differ from SCHEMA.md v%d for %s: have %s, want %s", ErrNotPairflow, SchemaVersion, kind, fieldList(s), fieldList(want))
	}
	return l, nil
}

func fieldList(s *arrow.Schema) string {
	out := "["
	for i, f := range s.Fields() {
		if i > 0 {
			out += ", "
		}
		out += f.Name + ": " + f.Type.String()
	}
	return out + "]"
}
