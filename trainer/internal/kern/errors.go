package kern

import "errors"

// Sentinel errors. Shape mismatches inside a kernel are programmer errors and
// panic with a message naming the kernel and the bad argument.
var (
	// ErrTier means a SIMD tier was requested that this process cannot run.
	ErrTier = errors.New("SIMD tier not supported on this CPU or build")
)

// ErrShape means a tensor shape is invalid (non-positive size, kernel larger
// than the padded input, bad stride).
var ErrShape = errors.New("invalid shape")
