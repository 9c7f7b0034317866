// Package trainer is pairflow's CPU trainer for self-supervised
// pre-training: layers with forward and backward passes on NCHW batches,
// the encoders and heads of the four objectives, losses, optimisers,
// learning-rate schedules and safetensors checkpoints.
//
// # What is here
//
//   - Layers (type Layer): Conv2d (im2col + GEMM, any square kernel, stride,
//     padding, optional bias), ConvTranspose2d, BatchNorm (2-d and 1-d;
//     batch statistics in training, running statistics in evaluation, eps
//     1e-5, momentum 0.1, unbiased running variance, as PyTorch), ReLU,
//     MaxPool2d(2), GlobalAvgPool, Upsample2x (nearest), Linear, and the
//     containers Sequential and BasicBlock. Initialisation follows PyTorch's
//     defaults from a seeded RNG, and parameters carry PyTorch's state_dict
//     names, so a checkpoint loads into the equivalent PyTorch module.
//   - Losses: NTXent (SimCLR's Algorithm 1; views i and i+N are positives,
//     all other views negatives), SoftmaxCrossEntropy, MaskedMSE.
//   - Models: SmallCNN and ResNet18 (CIFAR variant) encoders; projection,
//     classifier, relative-patch heads and the inpainting decoder.
//   - Optimisers with PyTorch's semantics: SGD (momentum, Nesterov), Adam
//     (L2 decay added to the gradient), AdamW, and SimCLR's LARS; weight decay
//     on every parameter by default, optionally not on BatchNorm parameters
//     and biases; WarmupCosine and Constant schedules.
//   - Training steps: SimCLR (both views in one forward pass), Classifier
//     (rotation, supervised, fine-tuning, linear evaluation), Inpainter
//     (masked reconstruction) and RelativePatch (8-way patch position).
//   - Checkpoints: SaveCheckpoint / LoadCheckpoint in the safetensors format
//     with a version, step, config and (version 2) a SHA-256 checksum of
//     the whole contents in __metadata__, so a damaged file fails to load
//     with ErrChecksum (format in
//     trainer/safetensors, a bounded parser for untrusted files); parameter
//     names follow PyTorch's state_dict, so PyTorch loads them (tested with
//     testdata/read_safetensors.py when python3-torch is installed).
//   - Interchange with gorgonia.org/tensor lives outside this module, in
//     contrib/gorgonia (its own go.mod), so the trainer does not depend on it.
//
// # Precision and kernels
//
// Every layer and loss is generic over float32 and float64. The float64
// instantiation is the reference: tests check it against finite differences
// (tests named *Grad*), and check the shipped float32 layers — on every SIMD
// tier, through trainer/internal/kern's kernels — against it within a stated
// tolerance; and tests with Debian's python3-torch compare a whole SimCLR
// forward and backward pass, and the optimisers' updates, with PyTorch's.
// Hot loops run on plain slices; reductions accumulate in float64
// where it matters. In training, Sequential runs a BatchNorm followed by an
// in-place ReLU (and a MaxPool2d) as one fused pass, the gradients of that
// ReLU and pool as another, and a convolution's gradients with the
// BatchNorm after it without writing out the BatchNorm's input gradient,
// all bit-identical to the layers in turn (a Profile books fused work under
// "bn", "maxpool" and "conv"). Float32 3×3 stride-1 padding-1 convolutions
// with at least 16 input and output channels run their forward pass and
// input gradient on kern's Winograd F(2×2,3×3) (2.25× fewer multiplies), or
// with enough channels and tiles (resnet18's layers) on F(4×4,3×3) (4×
// fewer; their weight gradient, and that of resnet18's 4×4-plane layers,
// on F(3×3,4×4)), within the same tolerances: F(4×4,3×3) rounds about 20×
// worse than F(2×2,3×3) (≤ 1.4e-5 of the largest output against im2col in
// kern's tests, where it is held to 5e-5; its weight gradient ≤ 9.5e-6),
// which stays inside tol32 = 2e-5 of the largest output against the
// float64 layers (TestWinogradConvLayer's F(4×4,3×3) shapes).
// Results are deterministic: the same seed and inputs give
// bit-identical weights whatever the thread count.
//
// # What is not here
//
// No autograd: each layer implements its own backward pass, and a network is
// a fixed chain of layers. No GPU, no mixed precision, no data loading or
// augmentation (see pipeline and ops): a training step takes plain slices in
// the layout of pipeline's Arrow tensors (ViewBatch).
package trainer
