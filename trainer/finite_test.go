package trainer

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

// A checkpoint whose weights hold NaN is refused at load, naming the file
// and tensor: before, it loaded and training failed with "loss is NaN
// (learning rate too high?)".
func TestCheckpointNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		m, opt := tinyTrained()
		p := m.Params()[0]
		p.W[1] = bad
		var buf bytes.Buffer
		if err := SaveCheckpoint[float32](&buf, m, opt, 7, ""); err != nil {
			t.Fatal(err)
		}
		m2 := NewSequential[float32](NewLinear[float32]("fc", 3, 2, true, NewRNG(99)), NewBatchNorm[float32]("bn", 2))
		before := append([]float32(nil), m2.Params()[0].W...)
		_, err := LoadCheckpoint[float32](bytes.NewReader(buf.Bytes()), "ck.safetensors", m2, nil)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "ck.safetensors") || !strings.Contains(err.Error(), p.Name) ||
			!strings.Contains(err.Error(), "non-finite") || !strings.Contains(err.Error(), "element 1") {
			t.Fatalf("%v: %v", bad, err)
		}
		if !equalBits(before, m2.Params()[0].W) {
			t.Fatal("a refused checkpoint changed the model")
		}
	}
}
