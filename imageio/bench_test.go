package imageio

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"

	"github.com/pairflow/pairflow/pix"
	"github.com/pairflow/pairflow/shards"
)

// photoJPEG is a 400×350 4:2:0 JPEG of a smooth synthetic scene.
func photoJPEG(b *testing.B) []byte {
	return encode(b, shards.JPEG, testImage(400, 350))
}

// BenchmarkDecodeJPEG: the full decode (image/jpeg + conversion to RGB)
// with the fast YCbCr path, and with the generic color.Color path.
func BenchmarkDecodeJPEG(b *testing.B) {
	data := photoJPEG(b)
	b.Run("fast", func(b *testing.B) {
		var d Decoder
		var img pix.Image
		b.SetBytes(400 * 350 * 3)
		b.ReportAllocs()
		for range b.N {
			if err := d.Decode(&img, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		img := pix.NewImage(400, 350, 3)
		b.SetBytes(400 * 350 * 3)
		b.ReportAllocs()
		for range b.N {
			m, err := jpeg.Decode(bytes.NewReader(data))
			if err != nil {
				b.Fatal(err)
			}
			convertGeneric(img, m, 3)
		}
	})
}

// BenchmarkConvertYCbCr isolates the YCbCr→RGB conversion.
func BenchmarkConvertYCbCr(b *testing.B) {
	m, err := jpeg.Decode(bytes.NewReader(photoJPEG(b)))
	if err != nil {
		b.Fatal(err)
	}
	y := m.(*image.YCbCr)
	img := pix.NewImage(400, 350, 3)
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"fast", func() { convertYCbCr(img, y) }},
		{"reference", func() { convertYCbCrRef(img, y) }},
		{"generic", func() { convertGeneric(img, y, 3) }},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(400 * 350 * 3)
			b.ReportAllocs()
			for range b.N {
				c.f()
			}
		})
	}
}
