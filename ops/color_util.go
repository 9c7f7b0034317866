package ops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Helpers shared by the colour and filter operators (color*, blur*, erase*,
// sobel*, noise*, solarize*). Their names carry a "cf" prefix so that they do
// not collide with the geometric operators' helpers in the same package.

// cfDecodeStrict decodes an op's JSON object into v, rejecting unknown
// fields. v must have an `Op string` field tagged "op".
func cfDecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return cfErrf("%v", err)
	}
	return nil
}

// cfErrf returns an error wrapping ErrParam, the package's sentinel for
// invalid op parameters.
func cfErrf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrParam}, args...)...)
}

// cfProb validates a probability.
func cfProb(name string, p float64) error {
	if !(p >= 0 && p <= 1) {
		return cfErrf("%s %v outside [0, 1]", name, p)
	}
	return nil
}

// cfFinite reports whether every value is a finite number.
func cfFinite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// cfBufs is the per-Scratch working memory of the colour and filter ops,
// kept in Scratch.Plan under cfBufsKey so that it never aliases the buffers
// other ops take from Floats or Ints.
type cfBufs struct {
	f32   []float32 // blur intermediate image, noise field
	row   []float32 // blur padded row
	kern  []float32 // blur kernel
	offs  []int32   // blur vertical row offsets
	dbl   []int32   // blur ring slot offsets, twice round the ring
	refl  []int32   // blur reflected border columns
	out   []uint8   // blur output when the image is cut into strips
	gray  []uint8   // blur: one channel of an RGB image whose channels are equal
	bytes []uint8   // luma rows, Sobel padded plane
}

type cfBufsKey struct{}

func cfScratch(s *Scratch) *cfBufs {
	return s.Plan(cfBufsKey{}, func() any { return new(cfBufs) }).(*cfBufs)
}

func cfGrowF32(b *[]float32, n int) []float32 {
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

func cfGrowI32(b *[]int32, n int) []int32 {
	if cap(*b) < n {
		*b = make([]int32, n)
	}
	return (*b)[:n]
}

func cfGrowU8(b *[]uint8, n int) []uint8 {
	if cap(*b) < n {
		*b = make([]uint8, n)
	}
	return (*b)[:n]
}

// cfRows calls f on each row of m's samples, or once on all of them when the
// rows are contiguous.
func cfRows(m *Image, f func(row []uint8)) {
	if m.W == 0 || m.H == 0 {
		return
	}
	if m.Stride == m.W*m.C {
		f(m.Pix[:m.H*m.Stride])
		return
	}
	for y := 0; y < m.H; y++ {
		f(m.Row(y))
	}
}

// cfTrunc converts like torch's float32 -> uint8 after clamp(0, 255):
// clamp, then truncate toward zero.
func cfTrunc(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(int32(v))
}

// cfRound converts like torch.round(x).clamp(0, 255).to(uint8): round half
// to even, then clamp.
func cfRound(v float32) uint8 {
	r := math.RoundToEven(float64(v))
	if r <= 0 {
		return 0
	}
	if r >= 255 {
		return 255
	}
	return uint8(r)
}

// cfReflect maps i to [0, n) by mirror reflection without repeating the edge
// sample (torch's "reflect" padding), repeating the reflection for pads wider
// than the image.
func cfReflect(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * (n - 1)
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - i
	}
	return i
}
