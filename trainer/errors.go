package trainer

import (
	"errors"

	"github.com/pairflow/pairflow/trainer/safetensors"
)

// Sentinel errors. They are wrapped with context (file, tensor, field);
// test with errors.Is.
var (
	// ErrConfig means an invalid option or hyper-parameter.
	ErrConfig = errors.New("invalid configuration")
	// ErrFormat means a checkpoint file is malformed (truncated, bad header,
	// offsets out of range, unknown dtype).
	ErrFormat = safetensors.ErrFormat
	// ErrVersion means a checkpoint claims a format version this package
	// does not read.
	ErrVersion = errors.New("unsupported checkpoint version")
	// ErrChecksum means a checkpoint's contents do not match the checksum
	// it records (a damaged file).
	ErrChecksum = errors.New("checkpoint checksum mismatch")
	// ErrMismatch means a checkpoint does not fit the model (missing
	// tensor, wrong shape or dtype).
	ErrMismatch = errors.New("checkpoint does not match model")
	// ErrShape means an input buffer does not match its stated shape.
	ErrShape = errors.New("bad input shape")
)
