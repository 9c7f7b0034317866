package trainer

import (
	"encoding/binary"
	"io"
	"math"

	"github.com/pairflow/pairflow/trainer/safetensors"
)

// STTensor is one tensor of a safetensors file (see package safetensors).
type STTensor = safetensors.Tensor

// STFile is a parsed safetensors file.
type STFile = safetensors.File

// Limits of the safetensors reader.
const (
	MaxHeaderBytes = safetensors.MaxHeaderBytes
	MaxTensors     = safetensors.MaxTensors
)

// WriteSafetensors is safetensors.Write.
func WriteSafetensors(w io.Writer, tensors []STTensor, metadata map[string]string) error {
	return safetensors.Write(w, tensors, metadata)
}

// ReadSafetensors is safetensors.Read: a bounded parser whose errors wrap
// ErrFormat.
func ReadSafetensors(r io.Reader, name string) (*STFile, error) {
	return safetensors.Read(r, name)
}

// Float tensors are stored as F32 or F64 little-endian.

func dtypeOf[T Float]() string {
	var z T
	if _, ok := any(z).(float64); ok {
		return "F64"
	}
	return "F32"
}

func encodeFloats[T Float](v []T) []byte {
	if _, ok := any(v).([]float64); ok {
		b := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
		return b
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(x)))
	}
	return b
}

func decodeFloats[T Float](b []byte, v []T) {
	if _, ok := any(v).([]float64); ok {
		for i := range v {
			v[i] = T(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		}
		return
	}
	for i := range v {
		v[i] = T(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
}

func encodeInt64(v int64) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(v))
	return b
}
