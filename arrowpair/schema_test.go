package arrowpair

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// typeDesc writes t in SCHEMA.md's notation; extension types as their storage.
func typeDesc(t arrow.DataType) string {
	if ext, ok := t.(arrow.ExtensionType); ok {
		t = ext.StorageType()
	}
	field := func(f arrow.Field) string {
		s := f.Name + ": " + typeDesc(f.Type)
		if f.Nullable {
			s += "?"
		}
		return s
	}
	switch t := t.(type) {
	case *arrow.FixedSizeListType:
		return fmt.Sprintf("fixed_size_list<%s>[%d]", field(t.ElemField()), t.Len())
	case *arrow.ListType:
		return fmt.Sprintf("list<%s>", field(t.ElemField()))
	case *arrow.StructType:
		parts := make([]string, t.NumFields())
		for i, f := range t.Fields() {
			parts[i] = field(f)
		}
		return "struct<" + strings.Join(parts, ", ") + ">"
	case *arrow.StringType:
		return "utf8"
	case *arrow.BooleanType:
		return "bool"
	}
	return t.String() // uint8, int32, int64, uint64, float32
}

func columnDescs(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		out[i] = f.Name + ": " + typeDesc(f.Type)
		if f.Nullable {
			out[i] += "?"
		}
	}
	return out
}

// specAug is SCHEMA.md §3.4's augmentation struct, written out by hand.
const specAug = "struct<crop: struct<x: int32?, y: int32?, w: int32?, h: int32?>?, hflip: bool?, vflip: bool?, " +
	"rot90: uint8?, angle: float32?, jitter: struct<brightness: float32?, contrast: float32?, saturation: float32?, " +
	"hue: float32?, order: fixed_size_list<item: uint8?>[4]?>?, gray: bool?, blur: struct<sigma: float32?, kernel: int32?>?, " +
	"erased: list<item: struct<x: int32?, y: int32?, w: int32?, h: int32?>?>?, sobel: bool?, noise_sigma: float32?, " +
	"solarize: struct<applied: bool?, threshold: uint8?>?>"

var specCommon = []string{"sample_id: uint64", "key: utf8", "label: int32?", "epoch: int64"}

// specColumns is SCHEMA.md §4 by hand, for the layouts of fixtureCases.
var specColumns = map[string][]string{
	"contrastive-u8-3views": {"view_0: fixed_size_list<item: uint8?>[36]", "view_1: fixed_size_list<item: uint8?>[12]",
		"view_2: fixed_size_list<item: uint8?>[4]", "view_0_aug: " + specAug, "view_1_aug: " + specAug, "view_2_aug: " + specAug},
	"contrastive-f32-simclr": {"view_0: fixed_size_list<item: float32?>[18]", "view_1: fixed_size_list<item: float32?>[18]",
		"view_0_aug: " + specAug, "view_1_aug: " + specAug},
	"inpainting-u8": {"masked: fixed_size_list<item: uint8?>[48]", "target: fixed_size_list<item: uint8?>[48]",
		"mask: fixed_size_list<item: uint8?>[16]", "target_aug: " + specAug},
	"relative-patch-f32": {"patch_a: fixed_size_list<item: float32?>[27]", "patch_b: fixed_size_list<item: float32?>[27]",
		"position: uint8", "patch_a_aug: " + specAug, "patch_b_aug: " + specAug},
	"rotation-u8":    {"view: fixed_size_list<item: uint8?>[16]", "rotation: uint8", "view_aug: " + specAug},
	"supervised-f32": {"view: fixed_size_list<item: float32?>[18]", "view_aug: " + specAug},
	"eval-u8":        {"view: fixed_size_list<item: uint8?>[45]", "view_aug: " + specAug},
}

// specTensorMeta is SCHEMA.md §3.3's extension metadata for the fixture layouts.
var specTensorMeta = map[string]map[string]string{
	"contrastive-u8-3views":  {"view_0": `{"shape":[4,3,3],"dim_names":["H","W","C"]}`, "view_1": `{"shape":[2,2,3],"dim_names":["H","W","C"]}`, "view_2": `{"shape":[2,2,1],"dim_names":["H","W","C"]}`},
	"contrastive-f32-simclr": {"view_0": `{"shape":[3,3,2],"dim_names":["C","H","W"]}`, "view_1": `{"shape":[3,3,2],"dim_names":["C","H","W"]}`},
	"inpainting-u8":          {"masked": `{"shape":[4,4,3],"dim_names":["H","W","C"]}`, "target": `{"shape":[4,4,3],"dim_names":["H","W","C"]}`, "mask": `{"shape":[4,4,1],"dim_names":["H","W","C"]}`},
	"relative-patch-f32":     {"patch_a": `{"shape":[3,3,3],"dim_names":["C","H","W"]}`, "patch_b": `{"shape":[3,3,3],"dim_names":["C","H","W"]}`},
	"rotation-u8":            {"view": `{"shape":[4,4,1],"dim_names":["H","W","C"]}`},
	"supervised-f32":         {"view": `{"shape":[3,2,3],"dim_names":["C","H","W"]}`},
	"eval-u8":                {"view": `{"shape":[3,5,3],"dim_names":["H","W","C"]}`},
}

func TestSchemaMatchesSpec(t *testing.T) {
	for _, c := range fixtureCases() {
		t.Run(c.name, func(t *testing.T) {
			s, err := NewSchema(c.layout)
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]string{}, specCommon...), specColumns[c.name]...)
			got := columnDescs(s)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("columns\n got: %q\nwant: %q", got, want)
			}
			for name, meta := range specTensorMeta[c.name] {
				f, _ := s.FieldsByName(name)
				ext, ok := f[0].Type.(*FixedShapeTensorType)
				if !ok || ext.ExtensionName() != "arrow.fixed_shape_tensor" || ext.Serialize() != meta {
					t.Errorf("%s: type %s metadata %q, want arrow.fixed_shape_tensor %s", name, f[0].Type, ext.Serialize(), meta)
				}
			}
			md := s.Metadata()
			if v, _ := md.GetValue("pairflow.schema_version"); v != "2" {
				t.Errorf("schema_version %q", v)
			}
			if v, _ := md.GetValue("pairflow.kind"); v != string(c.layout.Kind) {
				t.Errorf("kind %q", v)
			}
			wantRecipe := string(c.layout.Recipe)
			if wantRecipe == "" {
				wantRecipe = "{}"
			}
			if v, _ := md.GetValue("pairflow.recipe"); v != wantRecipe {
				t.Errorf("recipe %q, want %q", v, wantRecipe)
			}
			l, err := ParseSchema(s)
			if err != nil {
				t.Fatal(err)
			}
			if l.Kind != c.layout.Kind || l.DType != c.layout.DType || fmt.Sprint(l.Shapes) != fmt.Sprint(c.layout.Shapes) {
				t.Errorf("ParseSchema = %+v, want %+v", l, c.layout)
			}
		})
	}
}

func TestLayoutValidate(t *testing.T) {
	sh := []Shape{{2, 2, 3}}
	for _, tc := range []struct {
		name string
		l    Layout
	}{
		{"unknown kind", Layout{Kind: "jigsaw", Shapes: sh}},
		{"one contrastive view", Layout{Kind: Contrastive, Shapes: sh}},
		{"two eval shapes", Layout{Kind: Eval, Shapes: []Shape{{2, 2, 3}, {2, 2, 3}}}},
		{"no shape", Layout{Kind: Rotation}},
		{"zero height", Layout{Kind: Eval, Shapes: []Shape{{0, 2, 3}}}},
		{"5 channels", Layout{Kind: Eval, Shapes: []Shape{{2, 2, 5}}}},
		{"huge", Layout{Kind: Eval, Shapes: []Shape{{1 << 16, 2, 3}}}},
		{"bad dtype", Layout{Kind: Eval, DType: 7, Shapes: sh}},
		{"recipe not JSON", Layout{Kind: Eval, Shapes: sh, Recipe: []byte("{")}},
		{"recipe a string", Layout{Kind: Eval, Shapes: sh, Recipe: []byte(`"x"`)}},
	} {
		if _, err := NewSchema(tc.l); !errors.Is(err, ErrLayout) {
			t.Errorf("%s: err = %v, want ErrLayout", tc.name, err)
		}
	}
}

func TestParseSchemaRefuses(t *testing.T) {
	good, err := NewSchema(Layout{Kind: Rotation, Shapes: []Shape{{2, 2, 3}}})
	if err != nil {
		t.Fatal(err)
	}
	withMeta := func(keys, vals []string) *arrow.Schema {
		md := arrow.NewMetadata(keys, vals)
		return arrow.NewSchema(good.Fields(), &md)
	}
	dropField := func(i int) *arrow.Schema {
		f := append(append([]arrow.Field{}, good.Fields()[:i]...), good.Fields()[i+1:]...)
		md := good.Metadata()
		return arrow.NewSchema(f, &md)
	}
	nullableEpoch := func() *arrow.Schema {
		f := append([]arrow.Field{}, good.Fields()...)
		f[3].Nullable = true
		md := good.Metadata()
		return arrow.NewSchema(f, &md)
	}
	for _, tc := range []struct {
		name string
		s    *arrow.Schema
		want error
	}{
		{"version 3", withMeta([]string{MetaSchemaVersion, MetaKind}, []string{"3", "rotation"}), ErrSchemaVersion},
		{"version 0", withMeta([]string{MetaSchemaVersion, MetaKind}, []string{"0", "rotation"}), ErrSchemaVersion},
		{"version 02", withMeta([]string{MetaSchemaVersion, MetaKind}, []string{"02", "rotation"}), ErrSchemaVersion},
		{"no version", withMeta([]string{MetaKind}, []string{"rotation"}), ErrNotPairflow},
		{"no kind", withMeta([]string{MetaSchemaVersion}, []string{"1"}), ErrNotPairflow},
		{"wrong kind", withMeta([]string{MetaSchemaVersion, MetaKind}, []string{"1", "eval"}), ErrNotPairflow},
		{"missing rotation", dropField(5), ErrNotPairflow},
		{"missing everything", dropField(4), ErrNotPairflow},
		{"nullable epoch", nullableEpoch(), ErrNotPairflow},
	} {
		if _, err := ParseSchema(tc.s); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
