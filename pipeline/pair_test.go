package pipeline_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/pipeline"
	"github.com/pairflow/pairflow/sampler"
)

// panicOp is an op that panics, for TestOpPanic.
type panicOp struct{}

func (panicOp) Apply(*ops.Scratch, *ops.Image, *ops.Rand, *ops.Params) (*ops.Image, error) {
	panic("boom")
}
func (panicOp) Spec() ops.Spec { return ops.Spec{"op": "pipeline_test_panic"} }

func init() {
	ops.Register("pipeline_test_panic", func(json.RawMessage) (ops.Op, error) { return panicOp{}, nil })
}

// forBatches runs cfg to the end and calls f on every batch.
func forBatches(t *testing.T, p *pipeline.Pipeline, f func(rec arrow.RecordBatch)) {
	t.Helper()
	defer p.Close()
	for rec, err := range p.Batches(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		f(rec)
		rec.Release()
	}
}

func col(t *testing.T, rec arrow.RecordBatch, name string) arrow.Array {
	t.Helper()
	idx := rec.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("no column %s in %v", name, rec.Schema())
	}
	return rec.Column(idx[0])
}

func tensors(t *testing.T, rec arrow.RecordBatch, name string) arrowpair.TensorColumn {
	t.Helper()
	return must(arrowpair.TensorsByName(rec, name))
}

// source returns record i's 16×16 (or w×h) RGB test image.
func source(i, w, h int) *ops.Image {
	m := ops.NewImage(w, h, 3)
	for y := range h {
		for x := range w {
			for c := range 3 {
				m.Pix[(y*w+x)*3+c] = pixel(i, x, y, c)
			}
		}
	}
	return m
}

func TestContrastiveMultiCropPerViewRecipes(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 20})
	small := `{"version":1,"channels":1,"ops":[{"op":"random_resized_crop","size":[6,8],"scale":[0.2,0.5],"ratio":[0.75,1.3333333333333333]}],"output":{"format":"float32_chw","mean":[0.5],"std":[0.25]}}`
	cfg := baseConfig(arrowpair.Contrastive)
	cfg.Views, cfg.Recipe = 3, pipeline.Recipes{testRecipe, "torchvision-a", small}
	p := must(pipeline.New(ds, cfg))
	want := []arrowpair.Shape{{H: 12, W: 12, C: 3}, {H: 32, W: 32, C: 3}, {H: 6, W: 8, C: 1}}
	if got := p.Layout().Shapes; !slices.Equal(got, want) {
		t.Fatalf("shapes %v, want %v", got, want)
	}
	rows := 0
	forBatches(t, p, func(rec arrow.RecordBatch) {
		ids := col(t, rec, "sample_id").(*array.Uint64)
		labels := col(t, rec, "label").(*array.Int32)
		v0, v1 := tensors(t, rec, "view_0"), tensors(t, rec, "view_1")
		for i := range int(rec.NumRows()) {
			if labels.IsNull(i) || labels.Value(i) != int32(ids.Value(i)%4) {
				t.Fatalf("row %d: label %v for record %d", i, labels.Value(i), ids.Value(i))
			}
			if len(v0.Float32(i)) != 3*12*12 || len(v1.Float32(i)) != 3*32*32 {
				t.Fatal("view sizes")
			}
			var pa, pb ops.Params
			noErr(t, arrowpair.ReadParams(col(t, rec, "view_0_aug"), i, &pa))
			noErr(t, arrowpair.ReadParams(col(t, rec, "view_2_aug"), i, &pb))
			if !pa.Has(ops.OpCrop) || !pb.Has(ops.OpCrop) || pb.Has(ops.OpHFlip) {
				t.Fatalf("params %+v %+v", pa, pb)
			}
			if pa.Crop == pb.Crop {
				t.Fatal("two views drew the same crop")
			}
			rows++
		}
	})
	if rows != 24 {
		t.Fatalf("%d rows, want 24", rows)
	}
}

func TestInpaintingMasks(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 12})
	for _, tc := range []struct {
		mask   pipeline.MaskOptions
		masked func(n int) bool
	}{
		{pipeline.MaskOptions{Ratio: 0.25, Fill: 7}, func(n int) bool { return n == 64 }},
		{pipeline.MaskOptions{Mode: pipeline.MaskPatches, Ratio: 0.5, Patch: 4, Fill: 7}, func(n int) bool { return n == 128 }},
		{pipeline.MaskOptions{Mode: pipeline.MaskBlocks, Ratio: 0.3, Patch: 5, Fill: 7}, func(n int) bool { return n >= 77 && n < 77+25 }},
		{pipeline.MaskOptions{Mode: pipeline.MaskSquare, Patch: 6, Fill: 7}, func(n int) bool { return n == 36 }},
	} {
		t.Run(tc.mask.Mode, func(t *testing.T) {
			cfg := baseConfig(arrowpair.Inpainting)
			cfg.Recipe, cfg.Mask = pipeline.Recipes{identity16}, tc.mask
			var masks [][]uint8
			forBatches(t, must(pipeline.New(ds, cfg)), func(rec arrow.RecordBatch) {
				ids := col(t, rec, "sample_id").(*array.Uint64)
				mk, tg, mm := tensors(t, rec, "masked"), tensors(t, rec, "target"), tensors(t, rec, "mask")
				for i := range int(rec.NumRows()) {
					src := source(int(ids.Value(i)), 16, 16)
					target, masked, mask := tg.Uint8(i), mk.Uint8(i), mm.Uint8(i)
					if !slices.Equal(target, src.Pix) {
						t.Fatal("target is not the (identity) view")
					}
					n := 0
					for j, m := range mask {
						for c := range 3 {
							want := target[j*3+c]
							if m == 1 {
								want = 7
							}
							if masked[j*3+c] != want {
								t.Fatalf("pixel %d channel %d: %d, want %d (mask %d)", j, c, masked[j*3+c], want, m)
							}
						}
						n += int(m)
					}
					if !tc.masked(n) {
						t.Fatalf("%d pixels masked", n)
					}
					if tc.mask.Mode == pipeline.MaskSquare && !isSquare(mask, 16, 6) {
						t.Fatal("square mask is not one 6×6 square")
					}
					if tc.mask.Mode == "" && (mask[4*16+4] != 1 || mask[3*16+4] != 0 || mask[11*16+11] != 1 || mask[12*16+12] != 0) {
						t.Fatal("central mask is not the 8×8 square at (4,4)")
					}
					masks = append(masks, slices.Clone(mask))
				}
			})
			if tc.mask.Mode != "" && slices.EqualFunc(masks[:len(masks)-1], masks[1:], slices.Equal) {
				t.Fatal("random masks all equal")
			}
		})
	}
}

// isSquare reports whether the set pixels of a w-wide mask are exactly one
// side×side square.
func isSquare(mask []uint8, w, side int) bool {
	x0, y0 := -1, -1
	for i, m := range mask {
		if m != 0 {
			x0, y0 = i%w, i/w
			break
		}
	}
	if x0 < 0 {
		return false
	}
	for i, m := range mask {
		x, y := i%w, i/w
		in := x >= x0 && x < x0+side && y >= y0 && y < y0+side
		if in != (m != 0) {
			return false
		}
	}
	return true
}

func TestRelativePatchGeometry(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 16, w: 40, h: 40, c: 3})
	cfg := baseConfig(arrowpair.RelativePatch)
	// P = floor(40 / 3.7) = 10, gap 2, jitter 1; the recipe keeps a 10×10 patch.
	cfg.Patch = pipeline.PatchOptions{Gap: 0.25, Jitter: 0.1}
	cfg.Recipe = pipeline.Recipes{`{"version":1,"channels":3,"ops":[{"op":"resize","size":[10,10]}],"output":{"format":"uint8_hwc"}}`}
	cfg.Epochs = 4
	seen := map[uint8]bool{}
	forBatches(t, must(pipeline.New(ds, cfg)), func(rec arrow.RecordBatch) {
		ids := col(t, rec, "sample_id").(*array.Uint64)
		pos := col(t, rec, "position").(*array.Uint8)
		pa, pb := tensors(t, rec, "patch_a"), tensors(t, rec, "patch_b")
		for i := range int(rec.NumRows()) {
			var a, b ops.Params
			noErr(t, arrowpair.ReadParams(col(t, rec, "patch_a_aug"), i, &a))
			noErr(t, arrowpair.ReadParams(col(t, rec, "patch_b_aug"), i, &b))
			k := pos.Value(i)
			seen[k] = true
			cell := int(k)
			if cell >= 4 {
				cell++
			}
			cx, cy := cell%3-1, cell/3-1
			dx, dy := int(b.Crop.X-a.Crop.X)-cx*12, int(b.Crop.Y-a.Crop.Y)-cy*12
			if k > 7 || dx < -2 || dx > 2 || dy < -2 || dy > 2 || a.Crop.W != 10 || b.Crop.H != 10 {
				t.Fatalf("position %d: boxes %+v %+v", k, a.Crop, b.Crop)
			}
			src := source(int(ids.Value(i)), 40, 40)
			for j, box := range []ops.Box{a.Crop, b.Crop} {
				sub := src.Sub(int(box.X), int(box.Y), 10, 10)
				got := [][]uint8{pa.Uint8(i), pb.Uint8(i)}[j]
				for y := range 10 {
					if !slices.Equal(got[y*30:(y+1)*30], sub.Row(y)) {
						t.Fatalf("patch %d row %d is not the source box %+v", j, y, box)
					}
				}
			}
		}
	})
	if len(seen) != 8 {
		t.Fatalf("positions seen: %v", seen)
	}
}

func TestRotation(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 24})
	cfg := baseConfig(arrowpair.Rotation)
	cfg.Recipe = pipeline.Recipes{identity16}
	seen := map[uint8]int{}
	forBatches(t, must(pipeline.New(ds, cfg)), func(rec arrow.RecordBatch) {
		ids := col(t, rec, "sample_id").(*array.Uint64)
		rot := col(t, rec, "rotation").(*array.Uint8)
		v := tensors(t, rec, "view")
		for i := range int(rec.NumRows()) {
			k := rot.Value(i)
			seen[k]++
			want := ops.NewImage(16, 16, 3)
			ops.Rot90(want, source(int(ids.Value(i)), 16, 16), int(k))
			if !slices.Equal(v.Uint8(i), want.Pix) {
				t.Fatalf("row %d: view is not the source turned %d quarter turns", i, k)
			}
			var p ops.Params
			noErr(t, arrowpair.ReadParams(col(t, rec, "view_aug"), i, &p))
			if p.Has(ops.OpRot90) {
				t.Fatal("pretext rotation leaked into view_aug")
			}
		}
	})
	if len(seen) != 4 {
		t.Fatalf("rotation classes %v", seen)
	}
}

func TestSupervisedSubset(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 40})
	cfg := kindConfigs()[arrowpair.Supervised]
	labels := make([]int32, 40)
	for i := range labels {
		labels[i] = int32(i % 4)
	}
	sub := must(sampler.BalancedSubset(labels, 0.5, cfg.Seed))
	forBatches(t, must(pipeline.New(ds, cfg)), func(rec arrow.RecordBatch) {
		ids := col(t, rec, "sample_id").(*array.Uint64)
		lab := col(t, rec, "label").(*array.Int32)
		for i := range int(rec.NumRows()) {
			if _, ok := slices.BinarySearch(sub, int64(ids.Value(i))); !ok {
				t.Fatalf("record %d not in the labelled subset", ids.Value(i))
			}
			if lab.IsNull(i) || lab.Value(i) != int32(ids.Value(i)%4) {
				t.Fatal("label")
			}
		}
	})
	// A dataset without labels cannot serve supervised.
	if _, err := pipeline.New(makeDataset(t, dsOpts{n: 8, noLabel: true}), cfg); err == nil {
		t.Fatal("supervised without labels accepted")
	}
}

func TestEvalOrderRanksNoPadding(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 37, noLabel: true})
	cfg := kindConfigs()[arrowpair.Eval]
	cfg.WorldSize, cfg.Rank = 2, 1
	var sizes []int64
	var ids []uint64
	forBatches(t, must(pipeline.New(ds, cfg)), func(rec arrow.RecordBatch) {
		sizes = append(sizes, rec.NumRows())
		c := col(t, rec, "sample_id").(*array.Uint64)
		ids = append(ids, c.Uint64Values()...)
		if col(t, rec, "label").NullN() != int(rec.NumRows()) {
			t.Fatal("labels of an unlabelled dataset are not null")
		}
	})
	if !slices.Equal(sizes, []int64{8, 8, 2}) {
		t.Fatalf("batch sizes %v", sizes)
	}
	for i, id := range ids {
		if id != uint64(2*i+1) {
			t.Fatalf("ids %v", ids)
		}
	}
}

func TestDropLast(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 37})
	cfg := baseConfig(arrowpair.Contrastive)
	cfg.DropLast = true
	n := 0
	forBatches(t, must(pipeline.New(ds, cfg)), func(rec arrow.RecordBatch) {
		if rec.NumRows() != 8 {
			t.Fatalf("batch of %d", rec.NumRows())
		}
		n++
	})
	if n != 4 {
		t.Fatalf("%d batches, want 4", n)
	}
}

func TestParseConfig(t *testing.T) {
	c, err := pipeline.ParseConfig([]byte(`{"kind":"contrastive","batch_size":4,"views":2,
		"recipe":["torchvision-a",{"version":1,"channels":3,"ops":[],"output":{"format":"uint8_hwc"}}],
		"seed":7,"skip":{"policy":"skip","max_fraction":0.01},"workers":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Recipe) != 2 || c.Recipe[0] != "torchvision-a" || c.Seed != 7 || c.Skip.MaxFraction != 0.01 {
		t.Fatalf("%+v", c)
	}
	b := must(json.Marshal(c))
	c2, err := pipeline.ParseConfig(b)
	if err != nil || len(c2.Recipe) != 2 {
		t.Fatalf("round trip %s: %v", b, err)
	}
	bad := []string{
		`{"kind":"simclr","batch_size":4,"recipe":"x"}`,
		`{"kind":"eval","batch_size":0,"recipe":"x"}`,
		`{"kind":"contrastive","batch_size":4,"views":1,"recipe":"x"}`,
		`{"kind":"rotation","batch_size":4,"recipe":["a","b"]}`,
		`{"kind":"contrastive","batch_size":4,"views":3,"recipe":["a","b"]}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","drop_last":true}`,
		`{"kind":"eval","batch_size":4}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","skip":{"policy":"skip"}}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","skip":{"policy":"maybe"}}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","skip":{"max_count":3}}`,
		`{"kind":"inpainting","batch_size":4,"recipe":"x","mask":{"mode":"circle"}}`,
		`{"kind":"inpainting","batch_size":4,"recipe":"x","mask":{"ratio":1.5}}`,
		`{"kind":"relative-patch","batch_size":4,"recipe":"x","patch":{"gap":-1}}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","rank":2,"world_size":2}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","workers":-1}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","label_fraction":0.5}`,
		`{"kind":"eval","batch_size":4,"recipe":"x","bogus":1}`,
		`{"kind":"eval","batch_size":4,"recipe":"x"} {}`,
	}
	for _, s := range bad {
		if _, err := pipeline.ParseConfig([]byte(s)); err == nil {
			t.Errorf("accepted %s", s)
		}
	}
	// Errors found only when the recipe is loaded come from New.
	ds := makeDataset(t, dsOpts{n: 4})
	for _, r := range []string{"no-such-preset", `{"version":1,"channels":3,"ops":[{"op":"resize","size":[8,12]},{"op":"random_rot90"}],"output":{"format":"uint8_hwc"}}`} {
		cfg := baseConfig(arrowpair.Contrastive)
		cfg.Recipe = pipeline.Recipes{r}
		cfg.BatchSize = 2
		if _, err := pipeline.New(ds, cfg); err == nil {
			t.Errorf("recipe %s accepted", r)
		}
	}
}

func TestStats(t *testing.T) {
	ds := makeDataset(t, dsOpts{n: 32})
	cfg := baseConfig(arrowpair.Contrastive)
	p := must(pipeline.New(ds, cfg))
	forBatches(t, p, func(arrow.RecordBatch) {})
	s := p.Stats()
	if s.FirstBatch <= 0 || s.FirstBatch > s.Elapsed {
		t.Fatalf("first batch after %v of %v", s.FirstBatch, s.Elapsed)
	}
	if s.Batches != 4 || len(s.Stages) != 6 {
		t.Fatalf("%+v", s)
	}
	for _, st := range s.Stages {
		want := int64(32)
		if st.Items != want || st.Busy <= 0 && st.Name != pipeline.StageEmit && st.Name != pipeline.StagePair {
			t.Errorf("stage %s: %+v", st.Name, st)
		}
		if st.BusyFraction < 0 || st.BusyFraction > 1.01 {
			t.Errorf("stage %s busy fraction %v", st.Name, st.BusyFraction)
		}
	}
	if fmt.Sprint(s.Stages[0].Name, s.Stages[5].Name) != "reademit" {
		t.Fatal("stage order")
	}
}
