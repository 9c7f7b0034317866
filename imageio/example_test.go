package imageio_test

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"

	"github.com/pairflow/pairflow/imageio"
	"github.com/pairflow/pairflow/pix"
)

func ExampleDecoder_Decode() {
	// A 2×1 PNG with a half-transparent red pixel and an opaque gray one.
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	m.SetNRGBA(0, 0, color.NRGBA{R: 255, A: 128})
	m.SetNRGBA(1, 0, color.NRGBA{R: 90, G: 90, B: 90, A: 255})
	var buf bytes.Buffer
	png.Encode(&buf, m)

	d := imageio.Decoder{Channels: 3} // reuse d and img across images
	var img pix.Image
	if err := d.Decode(&img, buf.Bytes()); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.W, img.H, img.C, img.Pix) // alpha composited over black
	// Output: 2 1 3 [128 0 0 90 90 90]
}

func ExampleSniff() {
	f, ok := imageio.Sniff([]byte("\x89PNG\r\n\x1a\n...."))
	fmt.Println(f, ok)
	// Output: png true
}
