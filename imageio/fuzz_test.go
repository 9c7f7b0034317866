package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"testing"

	"github.com/pairflow/pairflow/pix"
	"github.com/pairflow/pairflow/shards"
)

func FuzzDecode(f *testing.F) {
	src := testImage(9, 7)
	for _, e := range []shards.Encoding{shards.PNG, shards.JPEG, shards.GIF, shards.BMP, shards.TIFF} {
		f.Add(encode(f, e, src))
	}
	f.Add(withExif(encode(f, shards.JPEG, src), 6, binary.BigEndian))
	for _, name := range []string{"blue-purple-pink.lossy.webp", "gopher-doc.1bpp.lossless.webp",
		"turbo/progressive.jpg", "turbo/restart.jpg", "turbo/cmyk.jpg"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Decoder{MaxPixels: 1 << 16}
		var img pix.Image
		err := d.Decode(&img, data)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrDecode) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if err := img.Validate(); err != nil || img.W*img.H > 1<<16 {
			t.Fatalf("decoded image invalid: %v (%dx%d)", err, img.W, img.H)
		}
	})
}

func FuzzOrientation(f *testing.F) {
	base := encode(f, shards.JPEG, testImage(3, 2))
	for o := 1; o <= 8; o++ {
		f.Add(withExif(base, o, binary.LittleEndian))
	}
	f.Add(withExif(base, 3, binary.BigEndian)[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		if o := Orientation(data); o < 1 || o > 8 {
			t.Fatalf("Orientation = %d", o)
		}
	})
}

// FuzzJPEGSOF: whenever jpegSOF reads a frame header, image/jpeg's
// DecodeConfig must either fail or report the same geometry.
func FuzzJPEGSOF(f *testing.F) {
	f.Add(encode(f, shards.JPEG, testImage(9, 7)))
	f.Add(withExif(encode(f, shards.JPEG, testImage(5, 3)), 6, binary.BigEndian))
	gray := image.NewGray(image.Rect(0, 0, 4, 6))
	f.Add(encode(f, shards.JPEG, gray))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, h, comps, ok := jpegSOF(data)
		if !ok {
			return
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return
		}
		gray := cfg.ColorModel == color.GrayModel
		if cfg.Width != w || cfg.Height != h || gray != (comps == 1) {
			t.Fatalf("jpegSOF = %dx%d with %d components, image/jpeg says %dx%d %T", w, h, comps, cfg.Width, cfg.Height, cfg.ColorModel)
		}
	})
}
