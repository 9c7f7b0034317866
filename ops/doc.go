// Package ops holds pairflow's image augmentation operators: seeded,
// allocation-free on the hot path, with SIMD kernels on amd64 whose output is
// bit-identical to the plain-Go reference on every tier.
//
// An operator (Op) transforms an 8-bit HWC Image, drawing randomness only
// from the per-view Rand it is given and recording what it drew in Params.
// Recipes compose operators and are plain JSON, so tools can read them from
// files.
//
// Image decoding lives in the sub-package imageio; this package starts from
// decoded pixels.
package ops
