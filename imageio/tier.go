package imageio

import "github.com/pairflow/pairflow/internal/cpu"

// tier is the SIMD tier the conversion kernels use; tests lower it to
// compare every tier with the reference.
var tier = cpu.Best
