package imageio

import "github.com/pairflow/pairflow/internal/cpu"

// topTier is the highest tier this package has kernels for.
const topTier = cpu.AVX2

// tier is the SIMD tier the conversion kernels use (the dispatch convention
// of package cpu): cpu.Best capped at topTier. Tests set it with
// cputest.ForEachTier.
var tier = cpu.Best.Cap(topTier)

// Tier reports the SIMD tier the conversion kernels run on in this process.
func Tier() cpu.Tier { return tier }
