package imageio

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"

	"github.com/pairflow/pairflow/ops"
	"github.com/pairflow/pairflow/shards"
)

func FuzzDecode(f *testing.F) {
	src := testImage(9, 7)
	for _, e := range []shards.Encoding{shards.PNG, shards.JPEG, shards.GIF, shards.BMP, shards.TIFF} {
		f.Add(encode(f, e, src))
	}
	f.Add(withExif(encode(f, shards.JPEG, src), 6, binary.BigEndian))
	for _, name := range []string{"blue-purple-pink.lossy.webp", "gopher-doc.1bpp.lossless.webp"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := Decoder{MaxPixels: 1 << 16}
		var img ops.Image
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
