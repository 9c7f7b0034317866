// Package ops holds pairflow's image augmentation operators: seeded,
// allocation-free on the hot path, with SIMD kernels on amd64 whose output is
// bit-identical to the plain-Go reference on every tier.
//
// An operator (Op) transforms an 8-bit HWC Image, drawing randomness only
// from the per-view Rand it is given and recording what it drew in Params.
// Recipes compose operators and are plain JSON, so tools can read them from
// files.
//
// A Recipe (ParseRecipe, LoadRecipe, Preset) is one view's augmentation: its
// ops run in order, top-level op i with the sub-stream Rand.Derive(i), so
// an op's draws never depend on how many numbers another op drew. Recipe.Apply
// makes the uint8 view; Recipe.Float32 / Recipe.Uint8 convert it into the
// caller's buffer. Shipped presets: simclr-imagenet, simclr-small,
// torchvision-a, fmnist-simclr-v1, inpainting-fmnist (see Presets).
//
// The geometric ops (RandomResizedCrop, Resize, CenterCrop, RandomCrop,
// flips, RandomRot90, RandomRotation) follow torchvision's functional ops on
// uint8 tensors; testdata/geometry holds goldens made by
// scripts/goldens/geometry.py.
//
// Image decoding lives in package imageio (it decodes into pix.Image, which
// is this package's Image); this package starts from decoded pixels.
package ops
