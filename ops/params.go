package ops

// Box is a rectangle in source-image pixels. X and Y may be negative and the
// box may extend past the image (RandomCrop with padding).
type Box struct {
	X, Y, W, H int32
}

// OpSet is a set of operators, one bit each: Params.Applied says which ops
// were reached for a view.
type OpSet uint32

// The operators whose draws Params records.
const (
	OpCrop      OpSet = 1 << iota // Crop holds the source box (RandomResizedCrop, RandomCrop, CenterCrop, Resize: whole image)
	OpHFlip                       // HFlip holds whether the view was mirrored left-right
	OpVFlip                       // VFlip holds whether the view was mirrored top-bottom
	OpRot90                       // Rot90 holds the quarter turns (counter-clockwise)
	OpRotate                      // Angle holds the rotation in degrees (counter-clockwise)
	OpJitter                      // Brightness, Contrast, Saturation, Hue and JitterOrder hold the factors and order
	OpGrayscale                   // Gray holds whether the view was converted to grayscale
	OpBlur                        // BlurSigma and BlurKernel hold the Gaussian blur drawn
	OpErase                       // Erased holds the erased boxes (in output coordinates)
	OpSobel                       // the Sobel filter was applied
	OpNoise                       // NoiseSigma holds the Gaussian noise sigma (in [0,1] units)
	OpSolarize                    // Solarized and SolarizeThreshold hold the solarize draw
)

// Params records what the random operators drew for one view. A field is
// meaningful only when its op's bit is in Applied: an op that was not reached
// (absent from the recipe, or inside a RandomApply or OneOf branch that was
// not taken) leaves its bit clear, and the Arrow column holds null for it.
// An op that was reached records its draw even when the draw leaves the image
// unchanged (a flip coin that came up false).
//
// Params is a plain value without pointers except Erased, so a worker reuses
// one per view without allocating: call Reset before each view.
type Params struct {
	Applied OpSet

	Crop  Box
	HFlip bool
	VFlip bool
	Rot90 uint8   // 0..3
	Angle float32 // degrees

	// ColorJitter factors (1, 1, 1, 0 are neutral) and the order the four
	// adjustments ran in: 0 brightness, 1 contrast, 2 saturation, 3 hue.
	Brightness, Contrast, Saturation, Hue float32
	JitterOrder                           [4]uint8

	Gray bool

	BlurSigma  float32
	BlurKernel int32

	Erased []Box

	NoiseSigma float32

	Solarized         bool
	SolarizeThreshold uint8
}

// Reset clears p for the next view, keeping Erased's storage.
func (p *Params) Reset() {
	erased := p.Erased[:0]
	*p = Params{Erased: erased}
}

// Has reports whether op was reached for this view.
func (p *Params) Has(op OpSet) bool { return p.Applied&op != 0 }
