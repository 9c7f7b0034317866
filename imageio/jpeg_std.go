//go:build !turbojpeg || !cgo

package imageio

import "github.com/pairflow/pairflow/pix"

// JPEGDecoder names the JPEG decoder this build uses: Go's image/jpeg
// (build with -tags turbojpeg, cgo and libturbojpeg for libjpeg-turbo).
const JPEGDecoder = "image/jpeg"

// decodeJPEG is the hook of the turbojpeg build; here every JPEG goes to
// image/jpeg.
func decodeJPEG(*pix.Image, []byte, Config, int) (bool, error) { return false, nil }
