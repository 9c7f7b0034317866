package arrowpair

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/pairflow/pairflow/ops"
)

// fixtureCase is one stream of known values used by the IPC and JS interop
// tests: every value follows from (row, view, element) by the formulas below,
// so expectations are computed from the inputs, never read back from Arrow.
type fixtureCase struct {
	name   string
	layout Layout
	cap    int
	rows   []int // rows per batch
}

func fixtureCases() []fixtureCase {
	return []fixtureCase{
		{"contrastive-u8-3views", Layout{Kind: Contrastive, DType: Uint8, Shapes: []Shape{{4, 3, 3}, {2, 2, 3}, {2, 2, 1}}, Recipe: []byte(`{"views":[{"ops":["crop"]},{"ops":["flip"]}]}`)}, 3, []int{3, 2}},
		{"contrastive-f32-simclr", Layout{Kind: Contrastive, DType: Float32, Shapes: []Shape{{3, 2, 3}, {3, 2, 3}}}, 3, []int{3, 2}},
		{"inpainting-u8", Layout{Kind: Inpainting, DType: Uint8, Shapes: []Shape{{4, 4, 3}}, Recipe: []byte(`[1,2]`)}, 3, []int{3, 2}},
		{"relative-patch-f32", Layout{Kind: RelativePatch, DType: Float32, Shapes: []Shape{{3, 3, 3}}}, 4, []int{4, 4}},
		{"rotation-u8", Layout{Kind: Rotation, DType: Uint8, Shapes: []Shape{{4, 4, 1}}}, 4, []int{4, 1}},
		{"supervised-f32", Layout{Kind: Supervised, DType: Float32, Shapes: []Shape{{2, 3, 3}}}, 3, []int{3, 2}},
		{"eval-u8", Layout{Kind: Eval, DType: Uint8, Shapes: []Shape{{3, 5, 3}}}, 2, []int{2, 1}},
	}
}

// Fixture formulas; r is the row index across the whole stream.
func fxSampleID(r int) uint64 { return 1<<63 + uint64(r)*977 } // above MaxInt64 on purpose
func fxKey(r int) string      { return fmt.Sprintf("dir/é_%05d.png", r) }
func fxLabel(r int, k Kind) (int32, bool) {
	if r%3 == 1 && k != Supervised {
		return 0, false
	}
	return int32(r*7 - 5), true
}
func fxEpoch(r int) int64 { return 1<<40 + int64(r/4) }
func fxClass(r int, k Kind) uint8 {
	switch k {
	case RelativePatch:
		return uint8(r % 8)
	case Rotation:
		return uint8(r % 4)
	}
	return 0
}
func fxU8(r, t, j int) uint8    { return uint8(r*31 + t*7 + j) }
func fxF32(r, t, j int) float32 { return float32(j)*0.25 - float32(r) + float32(t)*0.5 }
func fxMask(r, j int) uint8     { return uint8((r + j) % 2) }

// fxParams returns the augmentation of view v of row r: a different subset
// of ops per (r, v), covering every op and the not-reached case.
func fxParams(r, v int) *ops.Params {
	if (r+v)%5 == 4 {
		return nil // nothing reached
	}
	p := &ops.Params{}
	sel := r*3 + v
	if sel%2 == 0 {
		p.Applied |= ops.OpCrop
		p.Crop = ops.Box{X: int32(-r), Y: int32(v), W: int32(10 + r), H: int32(20 + v)}
	}
	p.Applied |= ops.OpHFlip
	p.HFlip = sel%3 == 0
	if sel%2 == 1 {
		p.Applied |= ops.OpVFlip | ops.OpRot90 | ops.OpRotate | ops.OpGrayscale | ops.OpSobel
		p.VFlip = true
		p.Rot90 = uint8(sel % 4)
		p.Angle = float32(sel) * 1.5
		p.Gray = sel%4 == 1
	}
	if sel%3 != 2 {
		p.Applied |= ops.OpJitter | ops.OpBlur | ops.OpNoise
		p.Brightness, p.Contrast, p.Saturation, p.Hue = 0.75, 1.25, float32(sel)/8, -0.125
		p.JitterOrder = [4]uint8{uint8(sel % 4), uint8((sel + 1) % 4), uint8((sel + 2) % 4), uint8((sel + 3) % 4)}
		p.BlurSigma, p.BlurKernel = 0.5+float32(sel), int32(2*sel+1)
		p.NoiseSigma = 0.03125
	}
	if sel%4 != 3 {
		p.Applied |= ops.OpErase | ops.OpSolarize
		for i := range sel % 3 { // 0, 1 or 2 boxes: an empty list too
			p.Erased = append(p.Erased, ops.Box{X: int32(i), Y: int32(sel), W: 3, H: int32(4 + i)})
		}
		p.Solarized = sel%2 == 0
		p.SolarizeThreshold = uint8(100 + sel)
	}
	return p
}

// buildFixture builds the batches of c with mem; the caller Releases them.
func buildFixture(t testing.TB, mem memory.Allocator, c fixtureCase) []arrow.RecordBatch {
	t.Helper()
	b, err := NewBatchBuilder(mem, c.layout, c.cap)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()
	var recs []arrow.RecordBatch
	r := 0
	for _, n := range c.rows {
		for range n {
			row := Row{SampleID: fxSampleID(r), Key: fxKey(r), Epoch: fxEpoch(r), Class: fxClass(r, c.layout.Kind)}
			row.Label, row.HasLabel = fxLabel(r, c.layout.Kind)
			for v := range c.layout.AugColumns() {
				row.Params = append(row.Params, fxParams(r, v))
			}
			i, err := b.Append(&row)
			if err != nil {
				t.Fatal(err)
			}
			for tc := range c.layout.TensorColumns() {
				if b.tensors[tc].f32 {
					dst := b.Float32(tc, i)
					for j := range dst {
						dst[j] = fxF32(r, tc, j)
					}
				} else {
					dst := b.Uint8(tc, i)
					for j := range dst {
						if c.layout.Kind == Inpainting && tc == 2 {
							dst[j] = fxMask(r, j)
						} else {
							dst[j] = fxU8(r, tc, j)
						}
					}
				}
			}
			r++
		}
		rec, err := b.NewRecordBatch()
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	return recs
}
