package arrowpair

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

// jsExpect is the sidecar check.mjs compares a stream against. Every value
// comes from the fixture formulas and SCHEMA.md, not from reading Arrow.
type jsExpect struct {
	File     string            `json:"file"`
	Metadata map[string]string `json:"metadata"`
	Columns  []jsColumn        `json:"columns"`
	Batches  []int             `json:"batches"`
	Values   map[string][]any  `json:"values"` // column → one value per row, all batches
}

type jsColumn struct {
	Name      string       `json:"name"`
	Type      string       `json:"type"` // SCHEMA.md notation, the column's own "?" included
	Extension *jsExtension `json:"extension"`
}

type jsExtension struct {
	Name     string          `json:"name"`
	Metadata json.RawMessage `json:"metadata"`
}

func jsParams(p *ops.Params) map[string]any {
	if p == nil {
		p = &ops.Params{}
	}
	box := func(b ops.Box) map[string]any { return map[string]any{"x": b.X, "y": b.Y, "w": b.W, "h": b.H} }
	m := map[string]any{"crop": nil, "hflip": nil, "vflip": nil, "rot90": nil, "angle": nil, "jitter": nil, "gray": nil,
		"blur": nil, "erased": nil, "sobel": nil, "noise_sigma": nil, "solarize": nil}
	if p.Has(ops.OpCrop) {
		m["crop"] = box(p.Crop)
	}
	if p.Has(ops.OpHFlip) {
		m["hflip"] = p.HFlip
	}
	if p.Has(ops.OpVFlip) {
		m["vflip"] = p.VFlip
	}
	if p.Has(ops.OpRot90) {
		m["rot90"] = p.Rot90
	}
	if p.Has(ops.OpRotate) {
		m["angle"] = float64(p.Angle)
	}
	if p.Has(ops.OpJitter) {
		m["jitter"] = map[string]any{"brightness": float64(p.Brightness), "contrast": float64(p.Contrast),
			"saturation": float64(p.Saturation), "hue": float64(p.Hue), "order": []int{int(p.JitterOrder[0]), int(p.JitterOrder[1]), int(p.JitterOrder[2]), int(p.JitterOrder[3])}}
	}
	if p.Has(ops.OpGrayscale) {
		m["gray"] = p.Gray
	}
	if p.Has(ops.OpBlur) {
		m["blur"] = map[string]any{"sigma": float64(p.BlurSigma), "kernel": p.BlurKernel}
	}
	if p.Has(ops.OpErase) {
		boxes := []any{}
		for _, b := range p.Erased {
			boxes = append(boxes, box(b))
		}
		m["erased"] = boxes
	}
	if p.Has(ops.OpSobel) {
		m["sobel"] = true
	}
	if p.Has(ops.OpNoise) {
		m["noise_sigma"] = float64(p.NoiseSigma)
	}
	if p.Has(ops.OpSolarize) {
		m["solarize"] = map[string]any{"applied": p.Solarized, "threshold": p.SolarizeThreshold}
	}
	return m
}

func fixtureExpect(c fixtureCase, file string) jsExpect {
	l := c.layout
	recipe := string(l.Recipe)
	if recipe == "" {
		recipe = "{}"
	}
	e := jsExpect{
		File:     file,
		Metadata: map[string]string{"pairflow.schema_version": "2", "pairflow.kind": string(l.Kind), "pairflow.recipe": recipe},
		Batches:  c.rows,
		Values:   map[string][]any{},
	}
	for _, col := range append(append([]string{}, specCommon...), specColumns[c.name]...) {
		name, typ, _ := strings.Cut(col, ": ")
		jc := jsColumn{Name: name, Type: typ}
		if meta, ok := specTensorMeta[c.name][name]; ok {
			jc.Extension = &jsExtension{Name: "arrow.fixed_shape_tensor", Metadata: json.RawMessage(meta)}
		}
		e.Columns = append(e.Columns, jc)
	}
	tensors := l.TensorColumns()
	class, _ := l.ClassColumn()
	augs := l.AugColumns()
	total := 0
	for _, n := range c.rows {
		total += n
	}
	for r := range total {
		add := func(col string, v any) { e.Values[col] = append(e.Values[col], v) }
		add("sample_id", strconv.FormatUint(fxSampleID(r), 10)) // 64-bit as decimal strings
		add("key", fxKey(r))
		if lab, ok := fxLabel(r, l.Kind); ok {
			add("label", lab)
		} else {
			add("label", nil)
		}
		add("epoch", strconv.FormatInt(fxEpoch(r), 10))
		for tc, name := range tensors {
			var meta struct{ Shape []int }
			_ = json.Unmarshal([]byte(specTensorMeta[c.name][name]), &meta)
			n := 1
			for _, d := range meta.Shape {
				n *= d
			}
			vals := make([]any, n)
			for j := range vals {
				switch {
				case l.Kind == Inpainting && tc == 2:
					vals[j] = fxMask(r, j)
				case l.DType == Float32:
					vals[j] = float64(fxF32(r, tc, j))
				default:
					vals[j] = fxU8(r, tc, j)
				}
			}
			add(name, vals)
		}
		if class != "" {
			add(class, fxClass(r, l.Kind))
		}
		for v, name := range augs {
			add(name, jsParams(fxParams(r, v)))
		}
	}
	return e
}

func writeJSFixtures(t *testing.T, dir string) []string {
	t.Helper()
	var sidecars []string
	for _, c := range fixtureCases() {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		recs := buildFixture(t, mem, c)
		f, err := os.Create(filepath.Join(dir, c.name+".arrows"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := WriteIPC(f, recs[0].Schema(), RecordSeq(recs...)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		mem.AssertSize(t, 0)
		js, err := json.MarshalIndent(fixtureExpect(c, c.name+".arrows"), "", " ")
		if err != nil {
			t.Fatal(err)
		}
		side := filepath.Join(dir, c.name+".json")
		if err := os.WriteFile(side, js, 0o644); err != nil {
			t.Fatal(err)
		}
		sidecars = append(sidecars, side)
	}
	return sidecars
}

// TestJSInterop reads pairflow's IPC streams of every pair kind with an
// independent implementation, the npm apache-arrow package, and checks the
// schema, extension metadata, shapes and values against expectations computed
// from the inputs. CI: `cd arrowpair/jsinterop && npm ci` first.
func TestJSInterop(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("SKIPPED JS INTEROP: node not found on PATH; install Node.js and run `npm ci` in arrowpair/jsinterop")
	}
	if _, err := os.Stat(filepath.Join("jsinterop", "node_modules", "apache-arrow", "package.json")); err != nil {
		t.Skip("SKIPPED JS INTEROP: arrowpair/jsinterop/node_modules/apache-arrow is missing; run `cd arrowpair/jsinterop && npm ci`")
	}
	dir := t.TempDir()
	sidecars := writeJSFixtures(t, dir)
	out, err := exec.Command(node, append([]string{filepath.Join("jsinterop", "check.mjs")}, sidecars...)...).CombinedOutput()
	t.Logf("node check.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("apache-arrow (JS) disagrees with the Go writer: %v", err)
	}
	if got := strings.Count(string(out), "OK "); got != len(sidecars) {
		t.Fatalf("node reported %d OK lines for %d streams", got, len(sidecars))
	}

	// The checker itself must catch a mismatch: tamper with one expected
	// value, one type and one extension shape, and demand failure.
	raw, err := os.ReadFile(sidecars[0])
	if err != nil {
		t.Fatal(err)
	}
	var tampered []string
	for i, tamper := range []func(*jsExpect){
		func(e *jsExpect) { e.Values["key"][1] = "wrong" },
		func(e *jsExpect) { e.Values["view_0"][0].([]any)[5] = 1000.0 },
		func(e *jsExpect) {
			e.Columns[4].Extension.Metadata = json.RawMessage(`{"shape":[3,4,3],"dim_names":["H","W","C"]}`)
		},
		func(e *jsExpect) { e.Columns[3].Type = "uint32" },
		func(e *jsExpect) { e.Values["view_1_aug"][0].(map[string]any)["hflip"] = nil },
		func(e *jsExpect) { e.Metadata["pairflow.schema_version"] = "1" },
		func(e *jsExpect) { e.Batches = []int{5} },
	} {
		var bad jsExpect
		if err := json.Unmarshal(raw, &bad); err != nil {
			t.Fatal(err)
		}
		tamper(&bad)
		js, _ := json.Marshal(bad)
		side := filepath.Join(dir, "tampered"+strconv.Itoa(i)+".json")
		if err := os.WriteFile(side, js, 0o644); err != nil {
			t.Fatal(err)
		}
		tampered = append(tampered, side)
	}
	out, err = exec.Command(node, append([]string{filepath.Join("jsinterop", "check.mjs")}, tampered...)...).CombinedOutput()
	if err == nil || strings.Count(string(out), "MISMATCH ") != len(tampered) {
		t.Errorf("check.mjs did not reject all %d wrong expectations (err %v):\n%s", len(tampered), err, out)
	}
}
