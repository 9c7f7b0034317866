package ops

import "github.com/pairflow/pairflow/pix"

// MaxSide bounds the width and height of any image an operator creates, so a
// corrupt recipe or header cannot make pairflow allocate without limit. It is
// pix.MaxSide, the bound the decoder applies too.
const MaxSide = pix.MaxSide

// Image is the pixel buffer every operator reads and writes: 8-bit samples in
// HWC order, C 1 (gray) or 3 (RGB). It is pix.Image, the type imageio decodes
// into, so decoded images go to the operators without conversion.
type Image = pix.Image

// NewImage allocates a w×h image with c channels and a tight stride.
func NewImage(w, h, c int) *Image { return pix.NewImage(w, h, c) }
