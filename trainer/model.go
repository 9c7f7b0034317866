package trainer

import (
	"math"
	"sort"
	"time"
)

// Profile accumulates wall time per layer kind, forward and backward.
type Profile struct {
	Forward, Backward map[string]time.Duration
}

// NewProfile returns an empty profile.
func NewProfile() *Profile {
	return &Profile{Forward: map[string]time.Duration{}, Backward: map[string]time.Duration{}}
}

// Kinds lists the layer kinds seen, slowest (forward + backward) first.
func (p *Profile) Kinds() []string {
	var ks []string
	for k := range p.Forward {
		ks = append(ks, k)
	}
	for k := range p.Backward {
		if _, ok := p.Forward[k]; !ok {
			ks = append(ks, k)
		}
	}
	sort.Slice(ks, func(i, j int) bool {
		ti, tj := p.Forward[ks[i]]+p.Backward[ks[i]], p.Forward[ks[j]]+p.Backward[ks[j]]
		if ti != tj {
			return ti > tj
		}
		return ks[i] < ks[j]
	})
	return ks
}

// Reset clears the profile.
func (p *Profile) Reset() {
	clear(p.Forward)
	clear(p.Backward)
}

// profiled is implemented by containers that time their children.
type profiled interface{ setProfile(p *Profile) }

// Sequential chains layers. It is itself a Layer.
type Sequential[T Float] struct {
	Layers []Layer[T]
	prof   *Profile
}

// NewSequential chains the layers.
func NewSequential[T Float](layers ...Layer[T]) *Sequential[T] {
	return &Sequential[T]{Layers: layers}
}

// Kind implements Layer.
func (s *Sequential[T]) Kind() string { return "seq" }

// SetProfile makes the layers record their time into p (nil stops it).
func (s *Sequential[T]) SetProfile(p *Profile) { s.setProfile(p) }

func (s *Sequential[T]) setProfile(p *Profile) {
	s.prof = p
	for _, l := range s.Layers {
		if c, ok := l.(profiled); ok {
			c.setProfile(p)
		}
	}
}

func runTimed[T Float](p *Profile, l Layer[T], fwd bool, x Tensor[T]) Tensor[T] {
	_, container := l.(profiled)
	if p == nil || container {
		if fwd {
			return l.Forward(x)
		}
		return l.Backward(x)
	}
	t0 := time.Now()
	var y Tensor[T]
	if fwd {
		y = l.Forward(x)
		p.Forward[l.Kind()] += time.Since(t0)
	} else {
		y = l.Backward(x)
		p.Backward[l.Kind()] += time.Since(t0)
	}
	return y
}

// Forward implements Layer. A BatchNorm followed by an in-place ReLU (and
// a max pool) runs as one pass where kern has the fused kernel (see
// fuseLayers).
func (s *Sequential[T]) Forward(x Tensor[T]) Tensor[T] {
	for i := 0; i < len(s.Layers); i++ {
		if y, more := fusedForward(s.prof, s.Layers, i, x); more > 0 {
			x = y
			i += more
			continue
		}
		x = runTimed(s.prof, s.Layers[i], true, x)
	}
	return x
}

// Backward implements Layer. The gradients of an in-place ReLU and the
// max pool after it run as one pass where kern has the fused kernel.
func (s *Sequential[T]) Backward(dy Tensor[T]) Tensor[T] {
	for i := len(s.Layers) - 1; i >= 0; i-- {
		if dx, ok := fusedBackward(s.prof, s.Layers, i, dy); ok {
			dy = dx
			i--
			continue
		}
		dy = runTimed(s.prof, s.Layers[i], false, dy)
	}
	return dy
}

// Params implements Layer: every trainable parameter, in order.
func (s *Sequential[T]) Params() []*Param[T] {
	var ps []*Param[T]
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Buffers implements Stateful.
func (s *Sequential[T]) Buffers() []*Buffer[T] {
	var bs []*Buffer[T]
	for _, l := range s.Layers {
		if st, ok := l.(Stateful[T]); ok {
			bs = append(bs, st.Buffers()...)
		}
	}
	return bs
}

// SetTraining implements Trainable.
func (s *Sequential[T]) SetTraining(train bool) {
	for _, l := range s.Layers {
		if tr, ok := l.(Trainable); ok {
			tr.SetTraining(train)
		}
	}
}

// batchNorms lists the BatchNorm layers inside l (for their step counters).
func batchNorms[T Float](l Layer[T]) []*BatchNorm[T] {
	switch v := l.(type) {
	case *BatchNorm[T]:
		return []*BatchNorm[T]{v}
	case *Encoder[T]:
		return batchNorms[T](v.Sequential)
	case *Sequential[T]:
		var out []*BatchNorm[T]
		for _, c := range v.Layers {
			out = append(out, batchNorms(c)...)
		}
		return out
	case *BasicBlock[T]:
		out := []*BatchNorm[T]{v.BN1, v.BN2}
		if v.DownBN != nil {
			out = append(out, v.DownBN)
		}
		return out
	}
	return nil
}

// BasicBlock is ResNet's two-convolution residual block (torchvision's
// BasicBlock): relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the
// shortcut a strided 1×1 convolution with BatchNorm when the shape changes.
type BasicBlock[T Float] struct {
	Conv1, Conv2 *Conv2d[T]
	BN1, BN2     *BatchNorm[T]
	Relu1, Relu2 *ReLU[T]
	Down         *Conv2d[T] // nil for the identity shortcut
	DownBN       *BatchNorm[T]
	main         *Sequential[T]
	prof         *Profile
}

// NewBasicBlock makes a block named as torchvision's (name.conv1, name.bn1,
// name.conv2, name.bn2, name.downsample.0/1), convolutions initialised with
// kaiming_normal_(mode="fan_out", nonlinearity="relu") as torchvision's ResNet.
func NewBasicBlock[T Float](name string, in, out, stride int, r *RNG) *BasicBlock[T] {
	b := &BasicBlock[T]{
		Conv1: newResConv[T](name+".conv1", in, out, 3, stride, 1, r),
		BN1:   NewBatchNorm[T](name+".bn1", out),
		Relu1: newReLUInPlace[T](),
		Conv2: newResConv[T](name+".conv2", out, out, 3, 1, 1, r),
		BN2:   NewBatchNorm[T](name+".bn2", out),
		Relu2: newReLUInPlace[T](),
	}
	if stride != 1 || in != out {
		b.Down = newResConv[T](name+".downsample.0", in, out, 1, stride, 0, r)
		b.DownBN = NewBatchNorm[T](name+".downsample.1", out)
		// Forward adds its output into the main path's, which leaves it
		// unread: its input gradient can take its place.
		b.DownBN.gradInOut = true
	}
	b.main = NewSequential[T](b.Conv1, b.BN1, b.Relu1, b.Conv2, b.BN2)
	return b
}

func newResConv[T Float](name string, in, out, k, stride, pad int, r *RNG) *Conv2d[T] {
	c := NewConv2d[T](name, in, out, k, stride, pad, false, r)
	fillNormal(r, c.Weight.W, math.Sqrt(2/float64(out*k*k)))
	return c
}

// Kind implements Layer.
func (b *BasicBlock[T]) Kind() string { return "block" }

func (b *BasicBlock[T]) setProfile(p *Profile) { b.prof = p; b.main.setProfile(p) }

// Params implements Layer.
func (b *BasicBlock[T]) Params() []*Param[T] {
	ps := b.main.Params()
	if b.Down != nil {
		ps = append(ps, b.Down.Params()...)
		ps = append(ps, b.DownBN.Params()...)
	}
	return ps
}

// Buffers implements Stateful.
func (b *BasicBlock[T]) Buffers() []*Buffer[T] {
	bs := b.main.Buffers()
	if b.DownBN != nil {
		bs = append(bs, b.DownBN.Buffers()...)
	}
	return bs
}

// SetTraining implements Trainable.
func (b *BasicBlock[T]) SetTraining(train bool) {
	b.main.SetTraining(train)
	if b.DownBN != nil {
		b.DownBN.SetTraining(train)
	}
}

// Forward implements Layer.
func (b *BasicBlock[T]) Forward(x Tensor[T]) Tensor[T] {
	m := b.main.Forward(x)
	sc := x
	if b.Down != nil {
		sc = runTimed(b.prof, Layer[T](b.Down), true, x)
		sc = runTimed(b.prof, Layer[T](b.DownBN), true, sc)
	}
	// The sum overwrites bn2's output, which nothing else reads.
	for i := range m.Data {
		m.Data[i] += sc.Data[i]
	}
	return runTimed(b.prof, Layer[T](b.Relu2), true, m)
}

// Backward implements Layer.
func (b *BasicBlock[T]) Backward(dy Tensor[T]) Tensor[T] {
	d := runTimed(b.prof, Layer[T](b.Relu2), false, dy)
	dm := b.main.Backward(d)
	ds := d
	if b.Down != nil {
		ds = runTimed(b.prof, Layer[T](b.DownBN), false, d)
		ds = runTimed(b.prof, Layer[T](b.Down), false, ds)
	}
	// The sum overwrites conv1's input gradient, owned by conv1 until its
	// next Backward (in a ResNet18, a buffer shared with other blocks'
	// convolutions until the next backward pass, and ds is in dy's buffer:
	// see shareGradSlots).
	for i := range dm.Data {
		dm.Data[i] += ds.Data[i]
	}
	return dm
}

// Encoder is a network from images to feature vectors, with its output
// width.
type Encoder[T Float] struct {
	*Sequential[T]
	Dim int
}

// SmallCNN is the encoder conv3×3(C→32)-BN-ReLU-maxpool2,
// conv3×3(32→64)-BN-ReLU-maxpool2, conv3×3(64→128)-BN-ReLU-global-avg-pool →
// 128-d, convolutions without bias and padding 1, PyTorch's default
// initialisation. Parameters are named prefix+"f.0.weight", ... as an
// nn.Sequential attribute f. The first convolution skips its input gradient.
func SmallCNN[T Float](prefix string, channels int, r *RNG) *Encoder[T] {
	blk := func(i, in, out int) []Layer[T] {
		return []Layer[T]{
			NewConv2d[T](prefix+"f."+itoa(i), in, out, 3, 1, 1, false, r),
			NewBatchNorm[T](prefix+"f."+itoa(i+1), out),
			newReLUInPlace[T](),
		}
	}
	var ls []Layer[T]
	ls = append(ls, blk(0, channels, 32)...)
	ls = append(ls, NewMaxPool2d[T]())
	ls = append(ls, blk(4, 32, 64)...)
	ls = append(ls, NewMaxPool2d[T]())
	ls = append(ls, blk(8, 64, 128)...)
	ls = append(ls, NewGlobalAvgPool[T]())
	ls[0].(*Conv2d[T]).SkipInputGrad = true
	return &Encoder[T]{Sequential: NewSequential(ls...), Dim: 128}
}

// ResNet18 is the CIFAR variant of torchvision's resnet18 → 512-d: a 3×3
// stride-1 stem (PyTorch default initialisation, as the replaced conv1 of the
// usual recipe), no max pool, four stages of two BasicBlocks (64, 128, 256,
// 512 channels), global average pool, no fc.
func ResNet18[T Float](prefix string, channels int, r *RNG) *Encoder[T] {
	stem := NewConv2d[T](prefix+"conv1", channels, 64, 3, 1, 1, false, r)
	stem.SkipInputGrad = true
	ls := []Layer[T]{stem, NewBatchNorm[T](prefix+"bn1", 64), newReLUInPlace[T]()}
	in := 64
	for s, out := range []int{64, 128, 256, 512} {
		stride := 2
		if s == 0 {
			stride = 1
		}
		name := prefix + "layer" + itoa(s+1)
		ls = append(ls, NewBasicBlock[T](name+".0", in, out, stride, r), NewBasicBlock[T](name+".1", out, out, 1, r))
		in = out
	}
	ls = append(ls, NewGlobalAvgPool[T]())
	shareGradSlots(ls)
	// The shortcuts' BatchNorms use up their outputs in the residual sum
	// and their input gradients in the shortcut's convolution, before the
	// next of them writes: one buffer for the three (resnet18, 512 views:
	// 64 MiB instead of 112).
	down := new([]T)
	for _, l := range ls {
		if b, ok := l.(*BasicBlock[T]); ok && b.DownBN != nil {
			b.DownBN.ySlot = down
		}
	}
	return &Encoder[T]{Sequential: NewSequential(ls...), Dim: 512}
}

// shareGradSlots lets the convolutions of the BasicBlocks in ls write their
// input gradients into two shared buffers and the blocks' own dead
// outputs instead of one buffer each, as PyTorch frees a gradient once it
// is consumed (resnet18, 512 views of 32×32: Go heap live after a
// collection 4.53 → 3.58 GB with three shared slots; peak RSS a further
// 128 MiB lower with two). Slots are handed out in backward order, last
// block first. A block's incoming gradient P (in its caller's slot p, or
// the global pool's buffer) must outlive its conv2's and conv1's input
// gradients X and Y (the shortcut reads P after the main path).
//   - X (conv2's) goes into the block's output buffer (bn2's, summed with
//     the shortcut and rectified in place), which nothing reads once the
//     ReLU's gradient has taken its mask: the block after read it as its
//     input during its own backward pass, which ran before.
//   - Y (conv1's) takes the other slot; it is what the block returns, the
//     P of the block before.
//   - The shortcut's gradient takes P's slot: P is dead once the
//     shortcut's BatchNorm has read it.
//
// The bits are those of private buffers (TestResNet18SharedGradSlots).
func shareGradSlots[T Float](ls []Layer[T]) {
	slots := new(gradSlots[T])
	use := func(c *Conv2d[T], i int) {
		c.dxSlot, c.slots = &slots.bufs[i], slots
		slots.users = append(slots.users, slotUser[T]{c, i})
	}
	// p: the slot of the gradient flowing into the next block visited; the
	// last block's comes from the global pool's own buffer, so any value.
	p := 1
	for i := len(ls) - 1; i >= 0; i-- {
		b, ok := ls[i].(*BasicBlock[T])
		if !ok {
			continue
		}
		y := 1 - p
		b.Conv2.dxSlot = &b.BN2.yBuf // same shape: conv2's input is bn2's output's
		use(b.Conv1, y)
		if b.Down != nil {
			use(b.Down, p)
		}
		p = y
	}
}

// gradSlots are the buffers shareGradSlots hands out, and the
// convolutions that write into them.
type gradSlots[T Float] struct {
	bufs  [2][]T
	users []slotUser[T]
}

type slotUser[T Float] struct {
	c    *Conv2d[T]
	slot int
}

// reserve grows each slot to the largest input gradient that its users'
// last forward pass asks of it, before any is written. The backward pass
// visits the layers from the smallest planes to the largest: growing each
// slot as its users come would leave each smaller buffer behind as
// garbage, which nothing collects in a training loop that allocates
// nothing more (resnet18, 512 views: ~250 MiB of the first step's peak).
// A grown slot loses its contents; the first call of a backward pass
// (the last block's conv1) comes before any slot is written, and no later
// call of the same pass grows one.
func (s *gradSlots[T]) reserve() {
	var need [len(s.bufs)]int
	for _, u := range s.users {
		g := u.c.g
		need[u.slot] = max(need[u.slot], g.n*u.c.In*g.h*g.w)
	}
	for i, n := range need {
		if cap(s.bufs[i]) < n {
			s.bufs[i] = nil // the old buffer is garbage before the new one exists
			s.bufs[i] = make([]T, n)
		}
	}
}

// ProjectionHead is SimCLR's Linear(d,512)-ReLU-Linear(512,128), named
// prefix+"0" and prefix+"2".
func ProjectionHead[T Float](prefix string, d int, r *RNG) *Sequential[T] {
	return NewSequential[T](NewLinear[T](prefix+"0", d, 512, true, r), NewReLU[T](), NewLinear[T](prefix+"2", 512, 128, true, r))
}

// ClassifierHead is a Linear(d, classes) head: 4 classes for rotation
// prediction, the label count for supervised training and linear evaluation.
func ClassifierHead[T Float](prefix string, d, classes int, r *RNG) *Sequential[T] {
	return NewSequential[T](NewLinear[T](prefix+"0", d, classes, true, r))
}

// RelativePatchHead classifies the concatenated embeddings of two patches
// ([N, 2d], see ConcatPairs) into the 8 relative positions:
// Linear(2d, hidden)-ReLU-Linear(hidden, 8).
func RelativePatchHead[T Float](prefix string, d, hidden int, r *RNG) *Sequential[T] {
	return NewSequential[T](NewLinear[T](prefix+"0", 2*d, hidden, true, r), NewReLU[T](), NewLinear[T](prefix+"2", hidden, 8, true, r))
}

// InpaintingDecoder maps an encoder's last feature map [N, in, h, w] back to
// an image [N, out, 4h, 4w]: upsample ×2, conv3×3(in→mid)-BN-ReLU,
// upsample ×2, conv3×3(mid→out) with bias.
func InpaintingDecoder[T Float](prefix string, in, mid, out int, r *RNG) *Sequential[T] {
	return NewSequential[T](
		NewUpsample2x[T](),
		NewConv2d[T](prefix+"1", in, mid, 3, 1, 1, false, r),
		NewBatchNorm[T](prefix+"2", mid),
		newReLUInPlace[T](),
		NewUpsample2x[T](),
		NewConv2d[T](prefix+"5", mid, out, 3, 1, 1, true, r),
	)
}

// ConcatPairs writes [a | b] row by row into dst ([N, da+db]) for the
// relative-patch head; SplitPairs undoes it for the gradient.
func ConcatPairs[T Float](a, b Tensor[T], dst *[]T) Tensor[T] {
	n, da, db := a.Shape[0], a.Shape[1], b.Shape[1]
	out := ensure(dst, n, da+db)
	for i := 0; i < n; i++ {
		copy(out.Data[i*(da+db):], a.Data[i*da:(i+1)*da])
		copy(out.Data[i*(da+db)+da:], b.Data[i*db:(i+1)*db])
	}
	return out
}

// SplitPairs splits a [N, da+db] gradient into [N, da] and [N, db].
func SplitPairs[T Float](g Tensor[T], da int, bufA, bufB *[]T) (Tensor[T], Tensor[T]) {
	n, w := g.Shape[0], g.Shape[1]
	a, b := ensure(bufA, n, da), ensure(bufB, n, w-da)
	for i := 0; i < n; i++ {
		copy(a.Data[i*da:(i+1)*da], g.Data[i*w:i*w+da])
		copy(b.Data[i*(w-da):(i+1)*(w-da)], g.Data[i*w+da:(i+1)*w])
	}
	return a, b
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
