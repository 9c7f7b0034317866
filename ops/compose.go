package ops

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Composition operators. Each child op runs with its own sub-stream of the
// view's generator, derived from the parent's stream and the child's
// position in the list (Rand.Derive(i)): how many numbers one op draws never
// shifts another op's draws, and adding an op at the end of a list leaves
// the earlier ops' draws unchanged. The composition's own draws (a coin, an
// order, a choice) come from the parent's stream itself.
//
// Children leave their Params bit clear when they are not reached.

// Compose runs ops in order. JSON: {"op":"compose","ops":[...]}.
type Compose struct{ ops []Op }

// RandomApply runs all of its ops (in order) with probability P: one uniform
// draw u, applied when u < P (torchvision's RandomApply). JSON:
// {"op":"random_apply","p":0.8,"ops":[...]}.
type RandomApply struct {
	p   float64
	ops []Op
}

// RandomOrder runs all of its ops in a uniformly random order (torchvision's
// RandomOrder). JSON: {"op":"random_order","ops":[...]}.
type RandomOrder struct{ ops []Op }

// OneOf runs exactly one of its ops, chosen uniformly or by the optional
// weights P (torchvision's RandomChoice). JSON:
// {"op":"one_of","ops":[...],"p":[...]}.
type OneOf struct {
	ops []Op
	cum []float64 // cumulative weights, normalised; nil for uniform
}

// maxChildren bounds a composition's list (RandomOrder keeps its order on
// the stack).
const maxChildren = 64

func composeCheck(ops []Op) error {
	if len(ops) > maxChildren {
		return fmt.Errorf("%w: %d ops in one list (at most %d)", ErrParam, len(ops), maxChildren)
	}
	for i, o := range ops {
		if o == nil {
			return fmt.Errorf("%w: op %d is nil", ErrParam, i)
		}
	}
	return nil
}

// NewCompose returns a Compose of ops.
func NewCompose(ops ...Op) (*Compose, error) {
	if err := composeCheck(ops); err != nil {
		return nil, err
	}
	return &Compose{ops: ops}, nil
}

// NewRandomApply returns a RandomApply of ops with probability p.
func NewRandomApply(p float64, ops ...Op) (*RandomApply, error) {
	if err := geoProb(p); err != nil {
		return nil, err
	}
	if err := composeCheck(ops); err != nil {
		return nil, err
	}
	return &RandomApply{p: p, ops: ops}, nil
}

// NewRandomOrder returns a RandomOrder of ops.
func NewRandomOrder(ops ...Op) (*RandomOrder, error) {
	if err := composeCheck(ops); err != nil {
		return nil, err
	}
	return &RandomOrder{ops: ops}, nil
}

// NewOneOf returns a OneOf of ops; weights may be nil (uniform) or one
// non-negative weight per op with a positive sum.
func NewOneOf(weights []float64, ops ...Op) (*OneOf, error) {
	if err := composeCheck(ops); err != nil {
		return nil, err
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: one_of needs at least one op", ErrParam)
	}
	o := &OneOf{ops: ops}
	if weights != nil {
		if len(weights) != len(ops) {
			return nil, fmt.Errorf("%w: one_of has %d weights for %d ops", ErrParam, len(weights), len(ops))
		}
		sum := 0.0
		for _, w := range weights {
			if !(w >= 0) {
				return nil, fmt.Errorf("%w: one_of weight %v", ErrParam, w)
			}
			sum += w
		}
		if !(sum > 0) || sum > 1e300 {
			return nil, fmt.Errorf("%w: one_of weights sum to %v", ErrParam, sum)
		}
		o.cum = make([]float64, len(weights))
		acc := 0.0
		for i, w := range weights {
			acc += w
			o.cum[i] = acc / sum
		}
	}
	return o, nil
}

// applyChild runs op with the sub-stream i of r. It re-keys r in place and
// restores it afterwards, so that no Rand escapes to the heap.
func applyChild(op Op, i int, s *Scratch, img *Image, r *Rand, p *Params) (*Image, error) {
	saved := *r
	*r = saved.Derive(uint64(i))
	out, err := op.Apply(s, img, r, p)
	*r = saved
	return out, err
}

func applyAll(ops []Op, s *Scratch, img *Image, r *Rand, p *Params) (*Image, error) {
	for i := 0; i < len(ops); i++ {
		var err error
		if rrc, ok := ops[i].(*RandomResizedCrop); ok && i+1 < len(ops) {
			if fl, ok := ops[i+1].(*RandomHorizontalFlip); ok {
				// Fused: the flip is folded into the resize. Same
				// draws (each op keeps its sub-stream), same bytes.
				if img, err = rrcFlip(rrc, fl, i, s, img, r, p); err != nil {
					return nil, err
				}
				i++
				continue
			}
		}
		if img, err = applyChild(ops[i], i, s, img, r, p); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// rrcFlip runs RandomResizedCrop (position i) and the RandomHorizontalFlip
// after it (position i+1) as one pass.
func rrcFlip(rrc *RandomResizedCrop, fl *RandomHorizontalFlip, i int, s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	saved := *r
	*r = saved.Derive(uint64(i))
	b := rrc.CropBox(r, src.W, src.H)
	*r = saved.Derive(uint64(i + 1))
	f := r.Float64() < fl.p
	*r = saved
	p.Applied |= OpCrop | OpHFlip
	p.Crop, p.HFlip = b, f
	sub := src.Sub(int(b.X), int(b.Y), int(b.W), int(b.H))
	dst := s.Image(rrc.size.W, rrc.size.H, src.C)
	resizeMirror(s, dst, &sub, f)
	return dst, nil
}

// Apply runs the ops in order.
func (o *Compose) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	return applyAll(o.ops, s, src, r, p)
}

// Apply runs the ops with probability P.
func (o *RandomApply) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	if !(r.Float64() < o.p) {
		return src, nil
	}
	return applyAll(o.ops, s, src, r, p)
}

// Apply runs the ops in a random order; op i always gets sub-stream i.
func (o *RandomOrder) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	var perm [maxChildren]uint8
	n := len(o.ops)
	for i := range n {
		perm[i] = uint8(i)
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	img := src
	for _, i := range perm[:n] {
		var err error
		if img, err = applyChild(o.ops[i], int(i), s, img, r, p); err != nil {
			return nil, err
		}
	}
	return img, nil
}

// Apply runs one op, chosen at random.
func (o *OneOf) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	i := 0
	if o.cum == nil {
		i = r.Intn(len(o.ops))
	} else {
		u := r.Float64()
		for i < len(o.cum)-1 && u >= o.cum[i] {
			i++
		}
	}
	return applyChild(o.ops[i], i, s, src, r, p)
}

func specs(ops []Op) []Spec {
	out := make([]Spec, len(ops))
	for i, o := range ops {
		out[i] = o.Spec()
	}
	return out
}

// Spec returns the op's JSON form.
func (o *Compose) Spec() Spec { return Spec{"op": "compose", "ops": specs(o.ops)} }

// Spec returns the op's JSON form.
func (o *RandomApply) Spec() Spec { return Spec{"op": "random_apply", "p": o.p, "ops": specs(o.ops)} }

// Spec returns the op's JSON form.
func (o *RandomOrder) Spec() Spec { return Spec{"op": "random_order", "ops": specs(o.ops)} }

// Spec returns the op's JSON form.
func (o *OneOf) Spec() Spec {
	sp := Spec{"op": "one_of", "ops": specs(o.ops)}
	if o.cum != nil {
		w := make([]float64, len(o.cum))
		prev := 0.0
		for i, c := range o.cum {
			w[i], prev = c-prev, c
		}
		sp["p"] = w
	}
	return sp
}

// OutSize follows the size through the ops (see Shaper).
func (o *Compose) OutSize(w, h int) (int, int) { return shapeAll(o.ops, w, h) }

// OutSize is the size if applied; it reports (0, 0) when that differs from
// the input size (the size then depends on the draw).
func (o *RandomApply) OutSize(w, h int) (int, int) { return shapeMaybe(o.ops, w, h) }

// OutSize follows the size through the ops, which must all keep the size
// (else the result depends on the order and it reports (0, 0)).
func (o *RandomOrder) OutSize(w, h int) (int, int) { return shapeMaybe(o.ops, w, h) }

// OutSize is the common size of every branch, or (0, 0).
func (o *OneOf) OutSize(w, h int) (int, int) {
	rw, rh := shapeOf(o.ops[0], w, h)
	for _, op := range o.ops[1:] {
		if ow, oh := shapeOf(op, w, h); ow != rw || oh != rh {
			return 0, 0
		}
	}
	return rw, rh
}

// Shaper is implemented by ops that can say their output size for a w×h
// input without running; (0, 0) means "depends on the draw". Ops that do
// not implement it keep the size (the colour and filter ops).
type Shaper interface {
	OutSize(w, h int) (int, int)
}

func shapeOf(op Op, w, h int) (int, int) {
	if s, ok := op.(Shaper); ok {
		return s.OutSize(w, h)
	}
	return w, h
}

func shapeAll(ops []Op, w, h int) (int, int) {
	for _, op := range ops {
		if w == 0 && h == 0 {
			return 0, 0
		}
		w, h = shapeOf(op, w, h)
	}
	return w, h
}

func shapeMaybe(ops []Op, w, h int) (int, int) {
	if ow, oh := shapeAll(ops, w, h); ow != w || oh != h {
		return 0, 0
	}
	return w, h
}

// freshOp is implemented by ops whose output never shares pixels with their
// input (crops and resizes), so a recipe can hand them the caller's image.
type freshOp interface{ freshOutput() bool }

func isFresh(op Op) bool {
	f, ok := op.(freshOp)
	return ok && f.freshOutput()
}

func (o *Compose) freshOutput() bool { return len(o.ops) > 0 && isFresh(o.ops[0]) }

// geoStrict decodes one op's JSON object into v, rejecting unknown fields
// and trailing data.
func geoStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrParam, err)
	}
	if d.More() {
		return fmt.Errorf("%w: trailing data after op", ErrParam)
	}
	return nil
}

// decodeOps decodes a list of op objects, naming the failing index.
func decodeOps(list []json.RawMessage) ([]Op, error) {
	if len(list) > maxChildren {
		return nil, fmt.Errorf("%w: %d ops in one list (at most %d)", ErrParam, len(list), maxChildren)
	}
	ops := make([]Op, len(list))
	for i, raw := range list {
		op, err := Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("ops[%d]: %w", i, err)
		}
		ops[i] = op
	}
	return ops, nil
}

func init() {
	type list struct {
		Op  string            `json:"op"`
		P   json.RawMessage   `json:"p"`
		Ops []json.RawMessage `json:"ops"`
	}
	read := func(b json.RawMessage, wantP bool) (list, []Op, error) {
		var j list
		if err := geoStrict(b, &j); err != nil {
			return j, nil, err
		}
		if j.P != nil && !wantP {
			return j, nil, fmt.Errorf("%w: %s takes no p", ErrParam, j.Op)
		}
		ops, err := decodeOps(j.Ops)
		return j, ops, err
	}
	Register("compose", func(b json.RawMessage) (Op, error) {
		_, ops, err := read(b, false)
		if err != nil {
			return nil, err
		}
		return NewCompose(ops...)
	})
	Register("random_order", func(b json.RawMessage) (Op, error) {
		_, ops, err := read(b, false)
		if err != nil {
			return nil, err
		}
		return NewRandomOrder(ops...)
	})
	Register("random_apply", func(b json.RawMessage) (Op, error) {
		j, ops, err := read(b, true)
		if err != nil {
			return nil, err
		}
		p := 0.5
		if j.P != nil {
			if err := json.Unmarshal(j.P, &p); err != nil {
				return nil, fmt.Errorf("%w: p: %v", ErrParam, err)
			}
		}
		return NewRandomApply(p, ops...)
	})
	Register("one_of", func(b json.RawMessage) (Op, error) {
		j, ops, err := read(b, true)
		if err != nil {
			return nil, err
		}
		var w []float64
		if j.P != nil {
			if err := json.Unmarshal(j.P, &w); err != nil {
				return nil, fmt.Errorf("%w: p: %v", ErrParam, err)
			}
		}
		return NewOneOf(w, ops...)
	})
}
