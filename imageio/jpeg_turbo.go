//go:build turbojpeg && cgo

package imageio

import (
	"fmt"

	"github.com/pairflow/pairflow/imageio/internal/turbo"
	"github.com/pairflow/pairflow/pix"
)

// JPEGDecoder names the JPEG decoder this build uses: with the turbojpeg
// build tag (and cgo), libjpeg-turbo through its TurboJPEG API.
const JPEGDecoder = "libjpeg-turbo"

// decodeJPEG decodes the JPEG b, whose frame header gave cfg, into dst
// with c channels. It reports false, with no error, for the colour spaces
// TurboJPEG cannot turn into RGB or gray (CMYK and YCCK): those go to
// image/jpeg.
func decodeJPEG(dst *pix.Image, b []byte, cfg Config, c int) (bool, error) {
	h, err := turbo.ReadHeader(b)
	if err != nil {
		return true, fmt.Errorf("%w: %v: %v", ErrDecode, cfg.Format, err)
	}
	if h.CMYK {
		return false, nil
	}
	if h.Width != cfg.Width || h.Height != cfg.Height {
		return true, fmt.Errorf("%w: %v: libjpeg-turbo reads %dx%d, the frame header says %dx%d",
			ErrDecode, cfg.Format, h.Width, h.Height, cfg.Width, cfg.Height)
	}
	pf := turbo.RGB
	if c == 1 {
		pf = turbo.Gray // a YCbCr image's Y plane, as on image/jpeg's path
	}
	dst.Reshape(cfg.Width, cfg.Height, c)
	if err := turbo.Decode(dst.Pix, b, dst.W, dst.H, dst.Stride, pf); err != nil {
		return true, fmt.Errorf("%w: %v: %v", ErrDecode, cfg.Format, err)
	}
	return true, nil
}
