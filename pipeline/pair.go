package pipeline

import (
	"fmt"
	"math"
	"time"

	"github.com/pairflow/pairflow/arrowpair"
	"github.com/pairflow/pairflow/ops"
)

// prepare sizes res's buffers for the layout (in direct mode the tensor
// slices are bound per sample instead).
func (w *worker) prepare(res *result) {
	n := len(w.isF32)
	if len(res.f32) != n {
		res.f32, res.u8 = make([][]float32, n), make([][]uint8, n)
		for c, f := range w.isF32 {
			if w.p.direct {
				continue
			}
			if f {
				res.f32[c] = make([]float32, w.elems[c])
			} else {
				res.u8[c] = make([]uint8, w.elems[c])
			}
		}
		na := len(w.p.layout.AugColumns())
		res.params = make([]ops.Params, na)
		res.pp = make([]*ops.Params, na)
		for i := range res.pp {
			res.pp[i] = &res.params[i]
		}
	}
}

// pair runs the kind's augmentation and pairing on w.src.
func (w *worker) pair(res *result, epoch int64) error {
	p := w.p
	w.prepare(res)
	seed, e, sg := p.cfg.Seed, uint64(epoch), uint64(res.sampleID)
	switch p.cfg.Kind {
	case arrowpair.Contrastive:
		for v, rc := range p.recipes {
			if err := w.view(res, v, v, rc, &w.src, ops.NewRand(seed, e, sg, uint32(v)), &res.params[v]); err != nil {
				return err
			}
		}
	case arrowpair.Supervised, arrowpair.Eval:
		return w.view(res, 0, 0, p.recipes[0], &w.src, ops.NewRand(seed, e, sg, 0), &res.params[0])
	case arrowpair.Rotation:
		return w.rotation(res, ops.NewRand(seed, e, sg, 0), ops.NewRand(seed, e, sg, randRotation))
	case arrowpair.Inpainting:
		if err := w.view(res, 1, 0, p.recipes[0], &w.src, ops.NewRand(seed, e, sg, 0), &res.params[0]); err != nil {
			return err
		}
		t0 := time.Now()
		w.inpaint(res, ops.NewRand(seed, e, sg, randMask))
		w.pairDur += time.Since(t0)
	case arrowpair.RelativePatch:
		return w.patches(res, epoch)
	}
	return nil
}

// view applies rc to src and writes the result into tensor column col.
func (w *worker) view(res *result, col, shapeIdx int, rc *ops.Recipe, src *ops.Image, r ops.Rand, par *ops.Params) error {
	t0 := time.Now()
	w.rnd = r // a field, not a local: Apply's ops would make a local escape
	v, err := rc.Apply(&w.scratch, src, &w.rnd, par)
	if err == nil {
		err = w.store(res, col, shapeIdx, rc, v)
	}
	w.augDur += time.Since(t0)
	return err
}

// store converts view v into tensor column col, checking its shape.
func (w *worker) store(res *result, col, shapeIdx int, rc *ops.Recipe, v *ops.Image) error {
	want := w.p.layout.Shapes[shapeIdx]
	if v.W != want.W || v.H != want.H || v.C != want.C {
		return fmt.Errorf("view %d is %dx%dx%d, column %s is %dx%dx%d (sources of other sizes need a recipe ending in a fixed-size crop or resize)",
			shapeIdx, v.W, v.H, v.C, w.p.layout.TensorColumns()[col], want.W, want.H, want.C)
	}
	if w.isF32[col] {
		return rc.Float32(res.f32[col], v)
	}
	return rc.Uint8(res.u8[col], v)
}

// rotation makes the view, then turns it by a random number of quarter turns.
func (w *worker) rotation(res *result, r, rr ops.Rand) error {
	rc := w.p.recipes[0]
	t0 := time.Now()
	w.rnd = r
	v, err := rc.Apply(&w.scratch, &w.src, &w.rnd, &res.params[0])
	w.augDur += time.Since(t0)
	if err != nil {
		return err
	}
	t1 := time.Now()
	k := rr.Intn(4)
	res.class = uint8(k)
	if k != 0 {
		if v.W != v.H {
			return fmt.Errorf("rotation view is %dx%d, not square", v.W, v.H)
		}
		w.rot.Reshape(v.W, v.H, v.C)
		ops.Rot90(&w.rot, v, k)
		v = &w.rot
	}
	err = w.store(res, 0, 0, rc, v)
	w.pairDur += time.Since(t1)
	return err
}

// inpaint draws the mask into column 2 and writes masked (column 0) as the
// target (column 1) with the mask's pixels set to the fill value.
func (w *worker) inpaint(res *result, r ops.Rand) {
	sh := w.p.layout.Shapes[0]
	mask := res.u8[2]
	clear(mask)
	drawMask(mask, sh.W, sh.H, &w.p.cfg.Mask, &r, &w.perm)
	hw := sh.H * sh.W
	if w.isF32[0] {
		dst, src := res.f32[0], res.f32[1]
		copy(dst, src)
		fill := float32(w.p.cfg.Mask.Fill)
		for c := range sh.C {
			plane := dst[c*hw : (c+1)*hw]
			for i, m := range mask {
				if m != 0 {
					plane[i] = fill
				}
			}
		}
		return
	}
	dst, src := res.u8[0], res.u8[1]
	copy(dst, src)
	fill := uint8(min(max(math.Round(w.p.cfg.Mask.Fill), 0), 255))
	for i, m := range mask {
		if m != 0 {
			for c := range sh.C {
				dst[i*sh.C+c] = fill
			}
		}
	}
}

// drawMask sets to 1 the masked pixels of a w×h mask (row-major), as
// m.Mode says, with randomness from r.
func drawMask(mask []uint8, w, h int, m *MaskOptions, r *ops.Rand, perm *[]int32) {
	rect := func(x, y, bw, bh int) int {
		n := 0
		for yy := y; yy < y+bh; yy++ {
			row := mask[yy*w+x : yy*w+x+bw]
			for i, v := range row {
				if v == 0 {
					row[i] = 1
					n++
				}
			}
		}
		return n
	}
	switch m.Mode {
	case MaskBlocks:
		side := m.Patch
		if side == 0 {
			side = max(min(w, h)/4, 1)
		}
		side = min(side, w, h)
		want := int(math.Round(m.Ratio * float64(w*h)))
		got := 0
		for it := 0; got < want && it < 4*w*h; it++ {
			bw, bh := 1+r.Intn(side), 1+r.Intn(side)
			got += rect(r.Intn(w-bw+1), r.Intn(h-bh+1), bw, bh)
		}
	case MaskPatches:
		side := m.Patch
		if side == 0 {
			side = max(min(w, h)/8, 1)
		}
		side = min(side, w, h)
		gw, gh := w/side, h/side
		cells := gw * gh
		k := max(int(math.Round(m.Ratio*float64(cells))), 1)
		if cap(*perm) < cells {
			*perm = make([]int32, cells)
		}
		p := (*perm)[:cells]
		for i := range p {
			p[i] = int32(i)
		}
		for i := range k { // partial Fisher–Yates: the first k cells
			j := i + r.Intn(cells-i)
			p[i], p[j] = p[j], p[i]
			c := int(p[i])
			rect((c%gw)*side, (c/gw)*side, side, side)
		}
	case MaskSquare:
		side := m.Patch
		if side == 0 {
			side = max(int(math.Round(math.Sqrt(m.Ratio)*float64(min(w, h)))), 1)
		}
		side = min(side, w, h)
		x := r.Intn(w - side + 1)
		rect(x, r.Intn(h-side+1), side, side)
	default: // center
		s := math.Sqrt(m.Ratio)
		bw := min(max(int(math.Round(s*float64(w))), 1), w)
		bh := min(max(int(math.Round(s*float64(h))), 1), h)
		rect((w-bw)/2, (h-bh)/2, bw, bh)
	}
}

// patchSide is the patch side P of the 3×3 grid for a w×h source.
func patchSide(w, h int, o PatchOptions) int {
	return int(math.Floor(float64(min(w, h)) / (3 + 2*o.Gap + 2*o.Jitter)))
}

// patchGrid draws the centre and neighbour boxes of the 3×3 grid in a w×h
// source: the grid's origin, the neighbour's position class (0–7, row-major
// with the centre skipped) and each patch's jitter, in that order.
func patchGrid(w, h int, o PatchOptions, r *ops.Rand) (a, b ops.Box, class int, err error) {
	ps := patchSide(w, h, o)
	if ps < 1 {
		return a, b, 0, fmt.Errorf("image %dx%d too small for a 3×3 patch grid", w, h)
	}
	gap := int(math.Floor(o.Gap * float64(ps)))
	jit := int(math.Floor(o.Jitter * float64(ps)))
	span := 3*ps + 2*gap + 2*jit
	ox, oy := r.Intn(w-span+1), r.Intn(h-span+1)
	class = r.Intn(8)
	cell := class
	if cell >= 4 {
		cell++
	}
	box := func(cx, cy int) ops.Box {
		dx, dy := r.Intn(2*jit+1)-jit, r.Intn(2*jit+1)-jit
		return ops.Box{
			X: int32(ox + jit + cx*(ps+gap) + dx), Y: int32(oy + jit + cy*(ps+gap) + dy),
			W: int32(ps), H: int32(ps),
		}
	}
	a = box(1, 1)
	b = box(cell%3, cell/3)
	return a, b, class, nil
}

// patches cuts the centre patch and a neighbour and augments each.
func (w *worker) patches(res *result, epoch int64) error {
	p := w.p
	t0 := time.Now()
	r := ops.NewRand(p.cfg.Seed, uint64(epoch), uint64(res.sampleID), randGrid)
	a, b, class, err := patchGrid(w.src.W, w.src.H, p.cfg.Patch, &r)
	w.pairDur += time.Since(t0)
	if err != nil {
		return err
	}
	res.class = uint8(class)
	rc := p.recipes[0]
	for i, box := range [2]ops.Box{a, b} {
		w.sub = w.src.Sub(int(box.X), int(box.Y), int(box.W), int(box.H))
		par := &res.params[i]
		if err := w.view(res, i, 0, rc, &w.sub, ops.NewRand(p.cfg.Seed, uint64(epoch), uint64(res.sampleID), uint32(i)), par); err != nil {
			return err
		}
		if par.Has(ops.OpCrop) { // the recipe's crop box, moved into source coordinates
			par.Crop.X += box.X
			par.Crop.Y += box.Y
		} else {
			par.Applied |= ops.OpCrop
			par.Crop = box
		}
	}
	return nil
}
