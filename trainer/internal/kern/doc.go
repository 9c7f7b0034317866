// Package kern holds the numeric kernels of pairflow's CPU trainer: SGEMM,
// 2-D convolution (forward and both backward passes) and the elementwise and
// reduction kernels the layers need (bias, ReLU, batch normalisation, max and
// global-average pooling, row-wise L2 normalisation, softmax and
// log-sum-exp). All work on plain row-major / NCHW []float32 slices.
//
// It is not a general linear-algebra library: there is one element type
// (float32), no complex numbers, no strides beyond leading dimensions, and
// shape errors inside a kernel are programmer errors that panic.
//
// # SGEMM
//
// Sgemm computes C = alpha·op(A)·op(B) + beta·C with op = identity or
// transpose for each operand, the layout of BLAS's cblas_sgemm(RowMajor,
// ...). It is the blocked algorithm of Goto and van de Geijn as BLIS
// arranges it: operands are packed into contiguous panels (or read in place
// where packing would not pay, as for the skinny GEMMs of small
// convolutions), blocked for the caches (kcBlock × mcBlock of A in L2, a
// kcBlock × 16 micro-panel of B in L1), and multiplied by a 6×16 register
// tile kernel. C is split into disjoint blocks of whole tiles across up to
// Threads() goroutines (github.com/sourcegraph/conc).
//
// # Convolution
//
// Conv2d, Conv2dBackwardInput and Conv2dBackwardWeights run im2col and
// SGEMM per image; where an image's output plane is small (fewer than
// batchCols = 768 positions, as smallcnn's 14×14 and 7×7 layers on
// 28×28 inputs) several images' patch matrices sit side by side in one
// GEMM, so that N (or, for the weight gradient, K) is long enough for full
// register tiles. Conv2dBackward computes both gradients in one pass over
// the batch, sharing each batch's rearranged output gradient. The batch size
// depends on the shape alone.
//
// 3×3 convolutions with stride 1 and padding 1, at least 16 input and
// output channels and planes larger than 4×4 run their forward pass, their
// input gradient and their weight gradient (in Conv2dBackwardInput,
// Conv2dBackwardWeights, Conv2dBackward and Conv2dBackwardBN) on Winograd
// F(2×2,3×3) instead (winograd.go, winograd_dw.go): input tiles and
// filters transformed, 16 GEMMs of Cout×Cin by Cin×tiles, output tiles
// transformed back; 16 multiplies per 2×2 output tile and channel instead
// of 36. The weight gradient transforms the input tiles and the 2×2
// output-gradient tiles, reduces 16 GEMMs of Cout×tiles by tiles×Cin over
// the batch's tiles, and transforms the 4×4 sums to 3×3 once. The
// transforms have AVX2 bodies (winograd_amd64.s, bit-identical to their Go
// references). SetWinograd(false) turns the path off (tests and benchmarks
// compare both).
//
// # Fused layer kernels
//
// BatchNormForwardReLU, BatchNormReLUMaxPool2 and MaxPool2BackwardReLU do
// in one pass over memory what two or three layer kernels do in turn, with
// bit-identical results (tests compare them with the kernels in turn, on
// every tier): the trainer's Sequential uses them for BatchNorm → ReLU (→
// MaxPool2d) chains. BatchNormReLUMaxPool2 never writes the full-size
// normalised tensor. BatchNormBackwardCoeffs and Conv2dBackwardBN split
// BatchNormBackward so that its input gradient is never written either:
// the convolution before the normalisation computes each row of it where it
// reads it.
//
// # Tiers
//
// Every kernel has a plain-Go path. On amd64 the AVX2/FMA tier adds
// assembly for the GEMM register tile and operand packing (gemm_amd64.s,
// references microKernelGo, packABlock and packBBlock) and for the vector
// loops of the layer kernels (vec_amd64.s, references in vec.go: ReLU and
// its gradient, bias, batch-norm statistics, normalisation and backward,
// max pooling, the col2im adds). The tier is chosen once from internal/cpu
// (cpu.Best) and reported by Tier(); SetTier forces a lower one (the tests
// run every tier cpu.Tiers() lists). The build tags purego or noasm select
// the plain-Go path everywhere. There is no AVX-512 kernel (the machine
// this was written on has none, and untested code is not shipped): an
// AVX-512 CPU runs the AVX2 kernels. Adding one means a second register
// tile (e.g. 14×32 on zmm) behind the same microKernel switch, with the
// blocking constants chosen per tier.
//
// # Determinism
//
// For a given tier, every result is bit-identical whatever the thread count
// (SetThreads): reductions are partitioned by shape, never by thread. In
// Sgemm each element of C is reduced over K in blocks of kcBlock, each block
// a chain of multiply-adds in index order, and threads only decide which
// tiles of C they compute; when C is small and K long, K is cut into a
// number of chunks that depends on (m, n, k) alone, summed in chunk order.
// Conv2dBackwardWeights and Conv2dBackward reduce the batch in a number of
// groups fixed by the batch size, images (or batches of images) in order
// within a group, then add the group sums in order. The layer kernels reduce each channel or row sequentially, in
// float64. Results differ between tiers (the assembly fuses multiply-adds
// and keeps eight partial sums, plain Go does neither), within the
// tolerances below; given the same inputs, ReLU, ReLUGrad, BiasAdd,
// BatchNormForward and MaxPool2 are bit-identical across tiers.
//
// # Tolerance
//
// Tests compare every kernel with a float64 reference. For SGEMM and the
// convolutions, each output element that sums k products satisfies
//
//	|got − want| ≤ 2·(k+2)·2⁻²⁴·(|alpha|·Σ|a·b| + |beta·c|)
//
// (the classical error bound of a float32 sum, with a factor 2 to spare).
// The Winograd convolutions are held to the same bound on normal random
// data (forward and input gradient stay within 2% of it, im2col within
// 1.2%; the weight gradient within 3.3%, im2col 2.6%; it is not an
// element-wise guarantee for them, whose transforms mix the 16 inputs of a
// tile), and to ‖wino − im2col‖∞ ≤ 1e-5·‖im2col‖∞.
// The layer kernels, which accumulate in float64, are within 16·2⁻²⁴ of the
// reference relative to the magnitude of the terms they combine.
package kern
