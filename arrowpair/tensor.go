package arrowpair

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// FixedShapeTensorName is the extension name of the Arrow canonical fixed
// shape tensor type, as IPC field metadata ARROW:extension:name carries it.
const FixedShapeTensorName = "arrow.fixed_shape_tensor"

// maxTensorDims bounds the rank a serialized tensor type may declare, so a
// corrupt stream cannot make Deserialize allocate without limit.
const maxTensorDims = 64

// FixedShapeTensorType is the Arrow canonical extension type
// arrow.fixed_shape_tensor: each value is a tensor of a fixed shape, stored
// row-major as one fixed_size_list<value_type>[product(shape)] entry. arrow-go
// v18.8.0 does not ship it; this package registers it with
// arrow.RegisterExtensionType when it is loaded, so Arrow IPC readers in the
// process decode such columns as this type.
//
// A FixedShapeTensorType is immutable and safe for concurrent use.
type FixedShapeTensorType struct {
	arrow.ExtensionBase
	shape       []int64
	dimNames    []string
	permutation []int64
	serialized  string
}

// tensorMetadata is the JSON of ARROW:extension:metadata as the canonical
// extension specification defines it.
type tensorMetadata struct {
	Shape       []int64  `json:"shape"`
	DimNames    []string `json:"dim_names,omitempty"`
	Permutation []int64  `json:"permutation,omitempty"`
}

// NewFixedShapeTensorType returns the tensor type with the given element type
// and physical shape. dimNames (optional) names the physical dimensions;
// permutation (optional) maps logical to physical dimensions as the Arrow
// specification defines: logical dimension i is physical dimension
// permutation[i]. The storage type is fixed_size_list<item: valueType>[n],
// n the product of shape.
func NewFixedShapeTensorType(valueType arrow.DataType, shape []int64, dimNames []string, permutation []int64) (*FixedShapeTensorType, error) {
	if valueType == nil {
		return nil, fmt.Errorf("%w: nil value type", ErrTensorType)
	}
	n, err := checkTensorParams(shape, dimNames, permutation)
	if err != nil {
		return nil, err
	}
	if n < 1 || n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: shape %v has %d elements, want 1..%d", ErrTensorType, shape, n, math.MaxInt32)
	}
	return newTensorType(arrow.FixedSizeListOf(int32(n), valueType), shape, dimNames, permutation)
}

func newTensorType(storage *arrow.FixedSizeListType, shape []int64, dimNames []string, permutation []int64) (*FixedShapeTensorType, error) {
	md := tensorMetadata{Shape: slices.Clone(shape), DimNames: slices.Clone(dimNames), Permutation: slices.Clone(permutation)}
	if md.Shape == nil {
		md.Shape = []int64{}
	}
	js, err := json.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTensorType, err)
	}
	return &FixedShapeTensorType{
		ExtensionBase: arrow.ExtensionBase{Storage: storage},
		shape:         md.Shape,
		dimNames:      md.DimNames,
		permutation:   md.Permutation,
		serialized:    string(js),
	}, nil
}

// checkTensorParams validates shape, dim_names and permutation against each
// other and returns the product of shape.
func checkTensorParams(shape []int64, dimNames []string, permutation []int64) (int64, error) {
	if len(shape) > maxTensorDims {
		return 0, fmt.Errorf("%w: %d dimensions, at most %d", ErrTensorType, len(shape), maxTensorDims)
	}
	n := int64(1)
	for i, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: shape[%d] = %d is negative", ErrTensorType, i, d)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("%w: shape %v overflows", ErrTensorType, shape)
		}
		n *= d
	}
	if dimNames != nil && len(dimNames) != len(shape) {
		return 0, fmt.Errorf("%w: %d dim_names for %d dimensions", ErrTensorType, len(dimNames), len(shape))
	}
	if permutation != nil {
		if len(permutation) != len(shape) {
			return 0, fmt.Errorf("%w: permutation of %d for %d dimensions", ErrTensorType, len(permutation), len(shape))
		}
		seen := make([]bool, len(shape))
		for _, p := range permutation {
			if p < 0 || p >= int64(len(shape)) || seen[p] {
				return 0, fmt.Errorf("%w: permutation %v is not a permutation of 0..%d", ErrTensorType, permutation, len(shape)-1)
			}
			seen[p] = true
		}
	}
	return n, nil
}

// ExtensionName returns "arrow.fixed_shape_tensor".
func (*FixedShapeTensorType) ExtensionName() string { return FixedShapeTensorName }

// ArrayType returns the type of FixedShapeTensorArray.
func (*FixedShapeTensorType) ArrayType() reflect.Type {
	return reflect.TypeOf(FixedShapeTensorArray{})
}

// ValueType returns the tensor element type.
func (t *FixedShapeTensorType) ValueType() arrow.DataType {
	return t.Storage.(*arrow.FixedSizeListType).Elem()
}

// Shape returns the physical shape of one tensor. The caller must not modify it.
func (t *FixedShapeTensorType) Shape() []int64 { return t.shape }

// DimNames returns the dimension names, or nil. The caller must not modify it.
func (t *FixedShapeTensorType) DimNames() []string { return t.dimNames }

// Permutation returns the logical-to-physical dimension permutation, or nil.
// The caller must not modify it.
func (t *FixedShapeTensorType) Permutation() []int64 { return t.permutation }

// NumElements returns the number of values in one tensor.
func (t *FixedShapeTensorType) NumElements() int {
	return int(t.Storage.(*arrow.FixedSizeListType).Len())
}

// Serialize returns the JSON of ARROW:extension:metadata.
func (t *FixedShapeTensorType) Serialize() string { return t.serialized }

// Deserialize builds the type from IPC: storageType must be a fixed_size_list
// whose size is the product of the JSON's shape.
func (*FixedShapeTensorType) Deserialize(storageType arrow.DataType, data string) (arrow.ExtensionType, error) {
	fsl, ok := storageType.(*arrow.FixedSizeListType)
	if !ok {
		return nil, fmt.Errorf("%w: storage %s is not a fixed_size_list", ErrTensorType, storageType)
	}
	dec := json.NewDecoder(strings.NewReader(data))
	var md tensorMetadata
	if err := dec.Decode(&md); err != nil {
		return nil, fmt.Errorf("%w: metadata %.64q: %v", ErrTensorType, data, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: metadata %.64q: trailing data", ErrTensorType, data)
	}
	if md.Shape == nil {
		return nil, fmt.Errorf("%w: metadata %.64q has no shape", ErrTensorType, data)
	}
	n, err := checkTensorParams(md.Shape, md.DimNames, md.Permutation)
	if err != nil {
		return nil, err
	}
	if n != int64(fsl.Len()) {
		return nil, fmt.Errorf("%w: shape %v has %d elements, storage list size is %d", ErrTensorType, md.Shape, n, fsl.Len())
	}
	return newTensorType(fsl, md.Shape, md.DimNames, md.Permutation)
}

// ExtensionEquals reports whether other is a fixed shape tensor type with the
// same storage, shape, dim_names and permutation.
func (t *FixedShapeTensorType) ExtensionEquals(other arrow.ExtensionType) bool {
	o, ok := other.(*FixedShapeTensorType)
	if !ok {
		return false
	}
	return arrow.TypeEqual(t.Storage, o.Storage) &&
		slices.Equal(t.shape, o.shape) &&
		slices.Equal(t.dimNames, o.dimNames) &&
		slices.Equal(t.permutation, o.permutation)
}

// String returns a readable form of the type.
func (t *FixedShapeTensorType) String() string {
	return fmt.Sprintf("extension<%s[value_type=%s, shape=%v, dim_names=%v, permutation=%v]>",
		FixedShapeTensorName, t.ValueType(), t.shape, t.dimNames, t.permutation)
}

// Fingerprint distinguishes tensor types by storage and metadata.
func (t *FixedShapeTensorType) Fingerprint() string {
	return FixedShapeTensorName + "<" + t.Storage.Fingerprint() + ">" + t.serialized
}

// FixedShapeTensorArray is an array of arrow.fixed_shape_tensor values. Its
// storage is a *array.FixedSizeList.
type FixedShapeTensorArray struct {
	array.ExtensionArrayBase
}

func init() {
	// Another package may have registered the canonical name first (a future
	// arrow-go release may ship the type): its type then decodes IPC streams,
	// and ParseSchema reports such columns as not pairflow's.
	if arrow.GetExtensionType(FixedShapeTensorName) != nil {
		return
	}
	if err := arrow.RegisterExtensionType(&FixedShapeTensorType{
		ExtensionBase: arrow.ExtensionBase{Storage: arrow.FixedSizeListOf(1, arrow.PrimitiveTypes.Uint8)},
		shape:         []int64{1},
	}); err != nil {
		panic(err)
	}
}
