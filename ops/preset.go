package ops

import (
	"fmt"
	"sort"
)

// presetJSON holds the shipped recipes as data: Preset decodes them with
// ParseRecipe, so they are exactly what a user would write in a file, and a
// preset whose ops are not compiled in fails with a clear error.
var presetJSON = map[string]string{
	// SimCLR ImageNet views (Chen et al. 2020, appendix A): crop, flip,
	// colour distortion of strength 1 with p 0.8, grayscale p 0.2, Gaussian
	// blur p 0.5 with a kernel of 10% of the side (23, odd) and sigma in
	// [0.1, 2]; float32 CHW in [0, 1].
	"simclr-imagenet": `{"version":1,"name":"simclr-imagenet","channels":3,"ops":[
		{"op":"random_resized_crop","size":224,"scale":[0.08,1],"ratio":[0.75,1.3333333333333333]},
		{"op":"random_horizontal_flip","p":0.5},
		{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.8,"contrast":0.8,"saturation":0.8,"hue":0.2}]},
		{"op":"random_grayscale","p":0.2},
		{"op":"random_apply","p":0.5,"ops":[{"op":"gaussian_blur","kernel_size":23,"sigma":[0.1,2.0]}]}
	],"output":{"format":"float32_chw"}}`,

	// SimCLR for small (CIFAR-size) images: colour strength 0.5, no blur,
	// 32×32 views.
	"simclr-small": `{"version":1,"name":"simclr-small","channels":3,"ops":[
		{"op":"random_resized_crop","size":32,"scale":[0.08,1],"ratio":[0.75,1.3333333333333333]},
		{"op":"random_horizontal_flip","p":0.5},
		{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.4,"contrast":0.4,"saturation":0.4,"hue":0.1}]},
		{"op":"random_grayscale","p":0.2}
	],"output":{"format":"float32_chw"}}`,

	// The torchvision peer benchmark's setting A (aug_bench.py, see
	// docs/benchmarks.md):
	// 3-channel 32×32 views, RandomResizedCrop(32, scale=(0.08, 1)),
	// RandomHorizontalFlip(), RandomApply([ColorJitter(0.8, 0.8, 0.8, 0.2)],
	// p=0.8), RandomGrayscale(0.2), ToTensor() (float32 in [0, 1]).
	"torchvision-a": `{"version":1,"name":"torchvision-a","channels":3,"ops":[
		{"op":"random_resized_crop","size":32,"scale":[0.08,1],"ratio":[0.75,1.3333333333333333]},
		{"op":"random_horizontal_flip","p":0.5},
		{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.8,"contrast":0.8,"saturation":0.8,"hue":0.2}]},
		{"op":"random_grayscale","p":0.2}
	],"output":{"format":"float32_chw"}}`,

	// FMNIST-SimCLR v1 (issue 9): 28×28×1 views, RandomResizedCrop(28,
	// scale=(0.2, 1)), flip p 0.5, with p 0.8 brightness and contrast
	// factors in U[0.6, 1.4] in random order (ColorJitter(0.4, 0.4)), then
	// (x − 0.2860)/0.3530.
	"fmnist-simclr-v1": `{"version":1,"name":"fmnist-simclr-v1","channels":1,"ops":[
		{"op":"random_resized_crop","size":28,"scale":[0.2,1],"ratio":[0.75,1.3333333333333333]},
		{"op":"random_horizontal_flip","p":0.5},
		{"op":"random_apply","p":0.8,"ops":[{"op":"color_jitter","brightness":0.4,"contrast":0.4}]}
	],"output":{"format":"float32_chw","mean":[0.2860],"std":[0.3530]}}`,

	// The inpainting views of issue 9: the FMNIST-SimCLR v1 views without
	// jitter. The masked square is the pairing's job (pipeline), not part
	// of the view.
	"inpainting-fmnist": `{"version":1,"name":"inpainting-fmnist","channels":1,"ops":[
		{"op":"random_resized_crop","size":28,"scale":[0.2,1],"ratio":[0.75,1.3333333333333333]},
		{"op":"random_horizontal_flip","p":0.5}
	],"output":{"format":"float32_chw","mean":[0.2860],"std":[0.3530]}}`,
}

// Presets lists the names Preset accepts, sorted.
func Presets() []string {
	names := make([]string, 0, len(presetJSON))
	for n := range presetJSON {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns a fresh copy of a shipped recipe: simclr-imagenet,
// simclr-small, torchvision-a, fmnist-simclr-v1 or inpainting-fmnist.
func Preset(name string) (*Recipe, error) {
	js, ok := presetJSON[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q (known: %v)", ErrUnknownPreset, name, Presets())
	}
	r, err := ParseRecipe([]byte(js))
	if err != nil {
		return nil, fmt.Errorf("ops: preset %s: %w", name, err)
	}
	return r, nil
}
