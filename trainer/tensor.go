package trainer

import "fmt"

// Float is the element type of the trainer's layers. The shipped layers are
// instantiated with float32; float64 instantiations of the same code are the
// reference that the gradient checks run against.
type Float interface{ ~float32 | ~float64 }

// Tensor is a dense row-major array with a shape: NCHW for images, [N, D]
// for vectors. It is a view: Data is shared, not copied.
type Tensor[T Float] struct {
	Data  []T
	Shape []int
}

// NewTensor allocates a zeroed tensor of the given shape.
func NewTensor[T Float](shape ...int) Tensor[T] {
	return Tensor[T]{Data: make([]T, numel(shape)), Shape: append([]int(nil), shape...)}
}

// Len is the number of elements the shape describes.
func (t Tensor[T]) Len() int { return numel(t.Shape) }

func numel(shape []int) int {
	n := 1
	for _, s := range shape {
		n *= s
	}
	return n
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ensure returns a tensor of the given shape backed by buf when it is large
// enough (contents undefined), else a fresh allocation. It keeps a layer's
// buffers alive across steps so that training does not allocate per step.
func ensure[T Float](buf *[]T, shape ...int) Tensor[T] {
	n := numel(shape)
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	return Tensor[T]{Data: (*buf)[:n], Shape: append([]int(nil), shape...)}
}

func mustRank[T Float](who string, t Tensor[T], rank int) {
	if len(t.Shape) != rank || len(t.Data) < numel(t.Shape) {
		panic(fmt.Sprintf("trainer: %s: want rank-%d tensor, got shape %v with %d elements", who, rank, t.Shape, len(t.Data)))
	}
}

// Param is a trainable tensor with its gradient. Name follows PyTorch's
// state_dict naming (for example "f.0.weight") so checkpoints map onto the
// equivalent PyTorch module.
type Param[T Float] struct {
	Name  string
	Shape []int
	W     []T // values
	G     []T // gradient, set (not accumulated) by the owning layer's Backward
	// NoDecay marks BatchNorm weights/biases and layer biases: optimisers
	// skip weight decay (and LARS adaptation) on them when asked to exclude
	// them.
	NoDecay bool
}

func newParam[T Float](name string, noDecay bool, shape ...int) *Param[T] {
	n := numel(shape)
	return &Param[T]{Name: name, Shape: append([]int(nil), shape...), W: make([]T, n), G: make([]T, n), NoDecay: noDecay}
}

// Buffer is named non-trainable state saved in checkpoints (BatchNorm's
// running statistics).
type Buffer[T Float] struct {
	Name  string
	Shape []int
	Data  []T
}

// Layer is one differentiable stage. Forward keeps what Backward needs;
// Backward takes the gradient of the loss with respect to the last Forward's
// output and returns the gradient with respect to its input, setting the
// gradients of the layer's parameters. Returned tensors are owned by the
// layer and valid until its next Forward or Backward call.
type Layer[T Float] interface {
	Forward(x Tensor[T]) Tensor[T]
	Backward(dy Tensor[T]) Tensor[T]
	Params() []*Param[T]
	// Kind names the layer type ("conv", "bn", "relu", ...) for profiles.
	Kind() string
}

// Stateful is implemented by layers with non-trainable state.
type Stateful[T Float] interface {
	Buffers() []*Buffer[T]
}

// Trainable is implemented by layers whose Forward differs between training
// and evaluation (BatchNorm); containers pass the mode on.
type Trainable interface {
	SetTraining(train bool)
}
