package ops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pairflow/pairflow/internal/inputfile"
)

// Errors of the recipe and geometry code. They are wrapped with context;
// test with errors.Is.
var (
	// ErrRecipe: a recipe file or document is malformed.
	ErrRecipe = errors.New("ops: bad recipe")
	// ErrRecipeVersion: a recipe's version is not one this build reads.
	ErrRecipeVersion = errors.New("ops: unsupported recipe version")
	// ErrParam: an op parameter is invalid.
	ErrParam = errors.New("ops: invalid parameter")
	// ErrEmptyImage: an op was given an image with no pixels.
	ErrEmptyImage = errors.New("ops: empty image")
	// ErrOutput: the destination of a conversion has the wrong size or the
	// view the wrong channels.
	ErrOutput = errors.New("ops: output mismatch")
	// ErrUnknownPreset: Preset was asked for a name it does not know.
	ErrUnknownPreset = errors.New("ops: unknown preset")
)

// RecipeVersion is the recipe format version this build reads and writes.
const RecipeVersion = 1

// maxRecipeBytes bounds a recipe file.
const maxRecipeBytes = 1 << 20

// Recipe is one view's augmentation: a list of ops run in order, the number
// of channels of the view and the final conversion. It is plain data in
// JSON (version 1):
//
//	{
//	  "version": 1,                  // required; other versions are refused
//	  "name": "simclr-small",        // free text
//	  "channels": 3,                 // 1 or 3: the view's channels
//	  "ops": [ {"op": "random_resized_crop", "size": 32}, ... ],
//	  "output": {"format": "float32_chw", "mean": [...], "std": [...]}
//	}
//
// output.format is "float32_chw" (planes of float32; (v/255 − mean[c]) /
// std[c], or v/255 without mean and std) or "uint8_hwc" (the pixels as they
// are). mean and std, when present, have one entry per channel.
//
// Channel rule: the source is brought to the recipe's channels before the
// first op. A gray source in a 3-channel recipe is replicated to R=G=B (what
// torchvision does to Fashion-MNIST in CIFAR-style pipelines); an RGB source
// in a 1-channel recipe becomes its ITU-R 601 luma, computed as
// torchvision's rgb_to_grayscale does on uint8 (float32 0.2989r + 0.587g +
// 0.114b, truncated).
//
// Top-level op i runs with the sub-stream Derive(i) of the view's generator
// (see Compose).
type Recipe struct {
	Version  int
	Name     string
	Channels int
	Ops      []Op
	Output   Output
}

// Output is a recipe's final conversion.
type Output struct {
	Format    OutputFormat
	Mean, Std []float32 // empty for [0,1] floats; one per channel otherwise
}

// OutputFormat names the element type and layout of a view.
type OutputFormat string

// The output formats.
const (
	Float32CHW OutputFormat = "float32_chw"
	Uint8HWC   OutputFormat = "uint8_hwc"
)

type recipeJSON struct {
	Version  *int              `json:"version"`
	Name     string            `json:"name,omitempty"`
	Channels int               `json:"channels"`
	Ops      []json.RawMessage `json:"ops"`
	Output   outputJSON        `json:"output"`
}

type outputJSON struct {
	Format OutputFormat `json:"format"`
	Mean   []float32    `json:"mean,omitempty"`
	Std    []float32    `json:"std,omitempty"`
}

// ParseRecipe reads a recipe from JSON, decoding its ops with Decode.
func ParseRecipe(data []byte) (*Recipe, error) {
	if len(data) > maxRecipeBytes {
		return nil, fmt.Errorf("%w: %d bytes (at most %d)", ErrRecipe, len(data), maxRecipeBytes)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	var j recipeJSON
	if err := d.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecipe, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after the recipe object", ErrRecipe)
	}
	if j.Version == nil {
		return nil, fmt.Errorf("%w: no version", ErrRecipe)
	}
	if *j.Version != RecipeVersion {
		return nil, fmt.Errorf("%w: version %d (this build reads %d)", ErrRecipeVersion, *j.Version, RecipeVersion)
	}
	ops, err := decodeOps(j.Ops)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRecipe, err)
	}
	r := &Recipe{
		Version:  *j.Version,
		Name:     j.Name,
		Channels: j.Channels,
		Ops:      ops,
		Output:   Output{Format: j.Output.Format, Mean: j.Output.Mean, Std: j.Output.Std},
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// LoadRecipe reads a recipe file; errors name the file. Only a regular
// file is read (a device or FIFO is refused at once).
func LoadRecipe(path string) (*Recipe, error) {
	f, _, err := inputfile.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ops: recipe: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRecipeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ops: recipe %s: %w", path, err)
	}
	r, err := ParseRecipe(data)
	if err != nil {
		return nil, fmt.Errorf("recipe %s: %w", path, err)
	}
	return r, nil
}

// Validate checks the recipe's fields.
func (r *Recipe) Validate() error {
	if r.Version != RecipeVersion {
		return fmt.Errorf("%w: version %d", ErrRecipeVersion, r.Version)
	}
	if r.Channels != 1 && r.Channels != 3 {
		return fmt.Errorf("%w: channels %d, want 1 or 3", ErrRecipe, r.Channels)
	}
	if err := composeCheck(r.Ops); err != nil {
		return fmt.Errorf("%w: %w", ErrRecipe, err)
	}
	o := r.Output
	switch o.Format {
	case Float32CHW:
		if len(o.Mean) != len(o.Std) || (len(o.Mean) != 0 && len(o.Mean) != r.Channels) {
			return fmt.Errorf("%w: output mean/std have %d/%d entries for %d channels", ErrRecipe, len(o.Mean), len(o.Std), r.Channels)
		}
		for i, s := range o.Std {
			if !(s > 0) || !(o.Mean[i] == o.Mean[i]) {
				return fmt.Errorf("%w: output std[%d] = %v, mean %v", ErrRecipe, i, s, o.Mean[i])
			}
		}
	case Uint8HWC:
		if len(o.Mean) != 0 || len(o.Std) != 0 {
			return fmt.Errorf("%w: uint8_hwc output takes no mean/std", ErrRecipe)
		}
	default:
		return fmt.Errorf("%w: output format %q (want %q or %q)", ErrRecipe, o.Format, Float32CHW, Uint8HWC)
	}
	return nil
}

// MarshalJSON writes the recipe in the form ParseRecipe reads.
func (r Recipe) MarshalJSON() ([]byte, error) {
	ops := make([]json.RawMessage, len(r.Ops))
	for i, op := range r.Ops {
		b, err := json.Marshal(op.Spec())
		if err != nil {
			return nil, fmt.Errorf("ops: marshal op %d: %w", i, err)
		}
		ops[i] = b
	}
	v := r.Version
	return json.Marshal(recipeJSON{
		Version:  &v,
		Name:     r.Name,
		Channels: r.Channels,
		Ops:      ops,
		Output:   outputJSON{Format: r.Output.Format, Mean: r.Output.Mean, Std: r.Output.Std},
	})
}

// ViewShape returns the view's width, height and channels for a w×h source;
// width and height are 0 when they depend on the draw (see Shaper).
func (r *Recipe) ViewShape(w, h int) (int, int, int) {
	w, h = shapeAll(r.Ops, w, h)
	return w, h, r.Channels
}

// Apply makes one view of src: it resets p, brings src to the recipe's
// channels, and runs the ops, op i with r.Derive(i). src is never changed.
// The result is backed by s (or, for a recipe without ops, may be a copy in
// s): it stays valid until s is used again. r is not advanced. r and p
// escape through the Op interface: keep them in long-lived variables (one
// per worker), not in loop-local ones, or each view costs an allocation.
func (rc *Recipe) Apply(s *Scratch, src *Image, r *Rand, p *Params) (*Image, error) {
	p.Reset()
	if err := geoCheck(src); err != nil {
		return nil, err
	}
	img := src
	switch {
	case src.C == rc.Channels:
		if len(rc.Ops) == 0 || !isFresh(rc.Ops[0]) {
			img = s.Image(src.W, src.H, src.C)
			copyImage(img, src)
		}
	case src.C == 1 && rc.Channels == 3:
		img = s.Image(src.W, src.H, 3)
		grayToRGB(img, src)
	case src.C == 3 && rc.Channels == 1:
		img = s.Image(src.W, src.H, 1)
		rgbToLuma(img, src)
	default:
		return nil, fmt.Errorf("%w: %d-channel source for a %d-channel recipe", ErrOutput, src.C, rc.Channels)
	}
	img, err := applyAll(rc.Ops, s, img, r, p)
	if err != nil {
		return nil, err
	}
	if img.C != rc.Channels {
		return nil, fmt.Errorf("%w: view has %d channels, recipe %d", ErrOutput, img.C, rc.Channels)
	}
	return img, nil
}

// Float32 writes view (an image Apply returned) into dst as CHW float32,
// converted as Output says. dst must hold exactly C·H·W values.
func (rc *Recipe) Float32(dst []float32, view *Image) error {
	if rc.Output.Format != Float32CHW {
		return fmt.Errorf("%w: recipe output is %s", ErrOutput, rc.Output.Format)
	}
	return ToFloat32CHW(dst, view, rc.Output.Mean, rc.Output.Std)
}

// Uint8 writes view into dst as tight HWC uint8. dst must hold exactly
// H·W·C values.
func (rc *Recipe) Uint8(dst []uint8, view *Image) error {
	if rc.Output.Format != Uint8HWC {
		return fmt.Errorf("%w: recipe output is %s", ErrOutput, rc.Output.Format)
	}
	return ToUint8HWC(dst, view)
}

// ApplyFloat32 runs Apply then Float32.
func (rc *Recipe) ApplyFloat32(s *Scratch, src *Image, r *Rand, p *Params, dst []float32) error {
	v, err := rc.Apply(s, src, r, p)
	if err != nil {
		return err
	}
	return rc.Float32(dst, v)
}

// ApplyUint8 runs Apply then Uint8.
func (rc *Recipe) ApplyUint8(s *Scratch, src *Image, r *Rand, p *Params, dst []uint8) error {
	v, err := rc.Apply(s, src, r, p)
	if err != nil {
		return err
	}
	return rc.Uint8(dst, v)
}

func grayToRGB(dst, src *Image) {
	for y := 0; y < src.H; y++ {
		grayRowToRGB(dst.Pix[y*dst.Stride:y*dst.Stride+3*src.W], src.Pix[y*src.Stride:y*src.Stride+src.W])
	}
}

func rgbToLuma(dst, src *Image) {
	const r, g, b = float32(0.2989), float32(0.587), float32(0.114)
	for y := 0; y < src.H; y++ {
		in := src.Pix[y*src.Stride : y*src.Stride+3*src.W]
		out := dst.Pix[y*dst.Stride : y*dst.Stride+src.W]
		for x := range out {
			v := r*float32(in[3*x]) + g*float32(in[3*x+1]) + b*float32(in[3*x+2])
			out[x] = uint8(min(v, 255))
		}
	}
}
