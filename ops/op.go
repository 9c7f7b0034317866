package ops

import (
	"encoding/json"
	"fmt"
	"sort"
	"sync"
)

// Op is one augmentation operator. Ops are immutable after construction and
// safe for concurrent use; all per-call state lives in the Scratch.
type Op interface {
	// Apply transforms src and returns the result: either src itself,
	// changed in place, or an image backed by buffers from s. It draws its
	// randomness from r only and records what it drew in p.
	Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error)
	// Spec returns the op's JSON form: {"op": name, ...parameters}. It is what
	// Recipe files hold and what Decode reads back.
	Spec() Spec
}

// Spec is the JSON form of an op: the "op" field names it, the other fields
// are its parameters.
type Spec map[string]any

// Scratch holds the reusable buffers of one worker. A Scratch is not safe for
// concurrent use: give each goroutine its own.
type Scratch struct {
	imgs [4]Image
	next int
	// F32 and I32 are general scratch slices for kernels; grow with Floats
	// and Ints.
	f32 []float32
	i32 []int32
	// plans caches per-size precomputed data (resize weights, blur kernels),
	// keyed by the op.
	plans map[any]any
}

// Image returns a w×h×c image backed by one of s's rotating buffers. It never
// returns the buffer behind the most recently returned image, so an op may
// read its input while writing its output when both come from s.
func (s *Scratch) Image(w, h, c int) *Image {
	m := &s.imgs[s.next]
	s.next = (s.next + 1) % len(s.imgs)
	m.Reshape(w, h, c)
	return m
}

// Floats returns a float32 slice of length n, reused across calls.
func (s *Scratch) Floats(n int) []float32 {
	if cap(s.f32) < n {
		s.f32 = make([]float32, n)
	}
	return s.f32[:n]
}

// Ints returns an int32 slice of length n, reused across calls.
func (s *Scratch) Ints(n int) []int32 {
	if cap(s.i32) < n {
		s.i32 = make([]int32, n)
	}
	return s.i32[:n]
}

// Plan returns the cached value for key, building it with build on first use.
// Keys must be comparable and should include every size the plan depends on.
func (s *Scratch) Plan(key any, build func() any) any {
	if v, ok := s.plans[key]; ok {
		return v
	}
	if s.plans == nil {
		s.plans = make(map[any]any)
	}
	v := build()
	s.plans[key] = v
	return v
}

// Decoder builds an op from its JSON object (the "op" field included).
// Decoders reject unknown fields and invalid values with an error.
type Decoder func(params json.RawMessage) (Op, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Decoder{}
)

// Register makes an op decodable from recipes under name. It panics if name
// is registered twice (a programming error).
func Register(name string, dec Decoder) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("ops: Register called twice for " + name)
	}
	registry[name] = dec
}

// Registered lists the names of every decodable op, sorted.
func Registered() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Decode builds an op from its JSON form {"op": name, ...}.
func Decode(data []byte) (Op, error) {
	var head struct {
		Op string `json:"op"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("ops: decode op: %w", err)
	}
	registryMu.RLock()
	dec, ok := registry[head.Op]
	registryMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("ops: unknown op %q (known: %v)", head.Op, Registered())
	}
	op, err := dec(data)
	if err != nil {
		return nil, fmt.Errorf("ops: %s: %w", head.Op, err)
	}
	return op, nil
}
