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
// convolutions), blocked for the caches (K blocks of at most kcMax chosen
// from K alone, an M block of A in L2, a micro-panel of B in L1), and
// multiplied by a register-tile kernel. Each tier is one gemmPlan (tile,
// blocking, packers, kernel): 6×16 on ymm for AVX2 (and the plain-Go
// reference), 8×32 on zmm for AVX-512, with 14×32 tiles (28 of the 32 zmm
// registers hold the accumulators) where M is covered with fewer padded
// rows (a plan may carry a second tile; both reduce every element in the
// same order, so the choice never changes a result). C is split into disjoint blocks of whole tiles across up
// to Threads() goroutines (github.com/sourcegraph/conc).
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
// output channels and planes larger than 4×4 (see below for 4×4) run their forward pass, their
// input gradient and their weight gradient (in Conv2dBackwardInput,
// Conv2dBackwardWeights, Conv2dBackward and Conv2dBackwardBN) on Winograd
// F(2×2,3×3) instead (winograd.go, winograd_dw.go): input tiles and
// filters transformed, 16 GEMMs of Cout×Cin by Cin×tiles, output tiles
// transformed back; 16 multiplies per 2×2 output tile and channel instead
// of 36. The weight gradient transforms the input tiles and the 2×2
// output-gradient tiles, reduces 16 GEMMs of Cout×tiles by tiles×Cin over
// the batch's tiles, and transforms the 4×4 sums to 3×3 once. The
// transforms have generated AVX2 and AVX-512 bodies, bit-identical to their
// Go references. Where useWino4 says so (at least 128 channels, or 64 on
// planes of 16×16 or more, and at least 128 tiles: resnet18's 3×3 layers
// at 32 px but not smallcnn's), the forward pass and input gradient run on
// F(4×4,3×3) instead (winograd4.go): 6×6 windows, 36 GEMMs, 4× fewer
// multiplies than direct and 1.78× fewer than F(2×2,3×3). 4×4 planes run
// on Winograd too with at least 512 channels and 128 images (winoPlaneOK;
// forward and input gradient on F(2×2,3×3)). The weight gradient of both
// (useWino4DW) runs on F(3×3,4×4) (winograd4_dw.go): the 6×6 windows'
// transforms as forward, the 4×4 output-gradient tiles gathered and
// transformed to 6×6 (A·e·Aᵀ), 36 GEMMs of Cout×tiles by tiles×Cin reduced
// over the batch's tiles, one 6×6 → 3×3 transform in float64 at the end.
// SetWinograd(false) turns all Winograd paths off (tests and benchmarks
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
// reads it (on Winograd, which needs it whole, into BatchNormGrad.Into
// when set, which may be the normalisation's own input: the trainer's
// way of keeping no output-sized scratch).
//
// # Tiers
//
// Every kernel has a plain-Go path. On amd64 there are two SIMD tiers,
// chosen once from internal/cpu (cpu.Best capped at TopTier, the dispatch
// convention of package cpu; PAIRFLOW_TIER lowers it) and reported by
// Tier(); SetTier, or cputest.ForEachTier in the tests, forces a lower one.
// The build tags purego or noasm select the plain-Go path everywhere.
//
//   - AVX2/FMA: the 6×16 GEMM plan; every vector kernel in ymm.
//   - AVX-512 (F, BW, DQ, VL): the 8×32 GEMM plan (14×32 tiles where M is
//     covered with fewer padded rows), and per vector kernel the body in the
//     table below.
//
// What the AVX-512 tier runs, per kernel, and why (speed of the AVX-512
// body over the AVX2 body, same run, on Zen 4; docs/benchmarks-avx512.md):
//
//	kernel                                   AVX-512 tier runs         why
//	ReLU, ReLU grad, BN affine (+ReLU),      AVX-512 body, masked      no Go tail; no
//	adds (also col2im's), BN backward        tail                      change in the step
//	Winograd input transform                 AVX-512 on rows of        1.07–1.25×
//	                                         > 8 tiles, else AVX2      (0.54–0.60× at 7, 8)
//	Winograd output transform                AVX-512 on rows of        0.99–1.06×
//	                                         ≥ 16 tiles, else AVX2     (0.93–0.97× at 9–15,
//	                                                                   0.50× at 7, 8)
//	max pooling rows (forward, BN+ReLU       AVX-512 on rows of        1.00–1.04× (32×32
//	forward, backward)                       ≥ 16 outputs, else AVX2   input), 0.85–1.28× (64×64)
//	batch-norm reductions (sum, sqDev,       AVX2 body (reduceZMM)     0.90×: bound by
//	dotDev, sumDev)                                                    VCVTPS2PD; sumDev
//	                                                                   0.99–1.04×
//	Winograd output-gradient transform       AVX2 body (gradOutZMM)    0.89–1.14×
//	F(4×4,3×3) input / output transforms     AVX-512 body (wino4ZMM)   1.01–1.11× / 1.06–1.09×
//	(over a batch's 128–512 tiles)                                     (BenchmarkBodies)
//	F(4×4,3×3) window gather                 AVX-512 body; the AVX2    resnet18 step 1.03×
//	                                         tier runs the Go loop
//	F(3×3,4×4) output-gradient gather and    AVX-512 bodies            same description
//	transform (A·e·Aᵀ)                       (wino4ZMM); the gather's  as the two above
//	                                         AVX2 tier runs Go         (BenchmarkBodies)
//	momentum step (SGD, LARS)                AVX2 body (momentumZMM)   0.94–0.97×
//
// Both bodies of every kernel are generated and tested; the choice between
// them is speed only, since they give the same bits.
//
// All the assembly is generated by avo, the AVX2 and AVX-512 bodies of
// each kernel from one description (_generate/, its own Go module;
// gen_amd64.s says DO NOT EDIT; CI regenerates and fails on a diff).
// References: microKernelGo (GEMM kernels), the Go loops of packABlock and
// packBBlock (packers), the Go loops in vec.go (elementwise kernels and
// reductions), winoInTileGo, winoOutTileGo, winoGradOutTileGo,
// wino4InColsGo, wino4OutColsGo and wino4GradOutColsGo (Winograd
// transforms), wino4GatherGo and wino4GatherOutGo (window gathers) and
// maxPool2Plane, maxPool2BackwardPlane (pooling rows).
//
// Across the SIMD tiers results are bit-identical, not merely close: SGEMM
// reduces every element over K in the same blocks (kcStep depends on K
// alone), each block a chain of fused multiply-adds in index order, and
// applies alpha and beta the same way (c = fma(beta, c, alpha·acc)),
// whatever the tile; so the convolutions (im2col, 1×1, Winograd, whose
// transforms do the same additions in the same order on both tiers) and
// the trainer are bit-identical on AVX2 and AVX-512 (TestSgemmBitIdenticalAcrossTiers,
// TestConvBitIdenticalAcrossTiers, and in package trainer the float32 layer
// tests). The elementwise kernels perform the same IEEE operations in the
// same order on every tier, plain Go included. The float64 reductions keep
// sixteen partial sums (element i in partial i mod 16) combined in one fixed
// order on both SIMD widths, so their AVX2 and AVX-512 bodies agree bit for
// bit too (TestReduce16Exact). The reductions that are
// allowed to differ between tiers (summed across SIMD lanes in a
// tier-specific order) are: the batch-norm statistics (float64 partial sums,
// SIMD vs plain Go), the Winograd transforms' products and sums (plain Go vs
// SIMD GEMM rounding) and everything reduced through SGEMM between plain Go
// (no fused multiply-add) and the SIMD tiers; the loss and the other
// float64-accumulated layer reductions are plain Go on every tier. Each is
// held to the tolerances below against a float64 reference; the float64
// sums agree within 2⁻⁴⁰ relative to their terms, far inside the 1e-5 the
// trainer's tests allow.
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
// within a group, then add the group sums in order. The layer kernels
// reduce each channel or row sequentially, in float64. Results differ
// between plain Go and the SIMD tiers (the assembly fuses multiply-adds and
// keeps sixteen partial sums, plain Go does neither), within the tolerances
// below, and are bit-identical between the SIMD tiers; given the same
// inputs, ReLU, ReLUGrad, BiasAdd, BatchNormForward and MaxPool2 are
// bit-identical across all tiers.
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
// tile), and to ‖wino − im2col‖∞ ≤ 1e-5·‖im2col‖∞. F(4×4,3×3) rounds
// worse (Bᵀ and Aᵀ have entries up to 5 and 8, so its transforms amplify the
// products' rounding errors): it stays inside the same element-wise bound
// on normal data (max |err|/bound 0.28 on a 4×4 plane, ≤ 0.15 elsewhere in
// TestWinograd4Conv) but is held to a looser ‖wino4 − im2col‖∞ ≤
// 5e-5·‖im2col‖∞ (measured ≤ 1.4e-5 at 256 channels, about 20× F(2×2,3×3)'s
// error on the same data); the trainer's float32-vs-float64 layer bound
// (tol32 = 2e-5 of the largest output) holds for it unchanged. The
// F(3×3,4×4) weight gradient is held to the same 5e-5 against im2col
// (TestWino4WeightGrad, TestWino4WeightGradLargeLayer): measured ≤ 4.7e-6
// of the largest element on planes above 4×4 (F(3×3,2×2) ≤ 7.1e-7 on the
// same data, ~7× less) and 9.5e-6 on resnet18's 4×4 planes (512→512, 128
// images; against a float64 reference 9.5e-6, F(3×3,2×2) 2.4e-7, im2col
// 1.4e-7: one tile a plane, whose window is mostly padding, cancels most);
// element-wise it stays inside the float32 summation bound on normal data
// (max |err|/bound 0.79 on 10×3 planes of one image, where K = 30 makes
// the bound tight; ≤ 0.05 on planes of 8×8 or more).
// The layer kernels, which accumulate in float64, are within 16·2⁻²⁴ of the
// reference relative to the magnitude of the terms they combine.
package kern
