package imageio

import (
	"bytes"
	"image/jpeg"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"

	"github.com/pairflow/pairflow/pix"
)

// photoFiles reads the JPEG files of data/photos (at the repository root,
// two levels above this package) into memory, in name order; it skips tb
// when there are none.
func photoFiles(tb testing.TB) [][]byte {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Skip("cannot locate the test file")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "data", "photos")
	paths, err := filepath.Glob(filepath.Join(root, "*", "*.jpg"))
	if err != nil || len(paths) == 0 {
		tb.Skipf("no JPEG photos under %s", root)
	}
	sort.Strings(paths)
	out := make([][]byte, 0, len(paths))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

// photoSet is how many photos one benchmark iteration decodes: a fixed,
// evenly spaced subset, so that every sub-benchmark does the same work
// whatever b.N is.
const photoSet = 64

// BenchmarkJPEGPhotos decodes real photos from data/photos, the same
// photoSet of them per iteration: image/jpeg alone (to *image.YCbCr)
// versus the package's decode into an RGB pix.Image. photos/s is the
// figure to compare.
func BenchmarkJPEGPhotos(b *testing.B) {
	all := photoFiles(b)
	var photos [][]byte
	var total int64
	for i := range photoSet {
		p := all[i*len(all)/photoSet]
		photos = append(photos, p)
		total += int64(len(p))
	}
	run := func(b *testing.B, f func([]byte) error) {
		b.SetBytes(total)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			for _, p := range photos {
				if err := f(p); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(photos))/b.Elapsed().Seconds(), "photos/s")
	}
	b.Run("stdlib", func(b *testing.B) {
		run(b, func(p []byte) error {
			_, err := jpeg.Decode(bytes.NewReader(p))
			return err
		})
	})
	b.Run("imageio", func(b *testing.B) {
		d := Decoder{Channels: 3}
		var img pix.Image
		run(b, func(p []byte) error { return d.Decode(&img, p) })
	})
}

// TestPhotosMatchReference decodes every 10th photo of data/photos (when
// present) and checks the fast header read and conversion against
// image/jpeg's DecodeConfig and the per-pixel reference (see jpegMatches
// for the turbojpeg build).
func TestPhotosMatchReference(t *testing.T) {
	all := photoFiles(t)
	for i := 0; i < len(all); i += 10 {
		p := all[i]
		fast, err := fastConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		slow, err := DecodeConfig(p)
		if err != nil || fast != slow {
			t.Fatalf("photo %d: fast header %+v, DecodeConfig %+v (%v)", i, fast, slow, err)
		}
		m, err := jpeg.Decode(bytes.NewReader(p))
		if err != nil {
			t.Fatal(err)
		}
		c := fast.Channels
		want := convertRef(m, c)
		var got pix.Image
		if err := (&Decoder{IgnoreOrientation: true}).Decode(&got, p); err != nil {
			t.Fatal(err)
		}
		if !jpegMatches(&got, want) {
			t.Fatalf("photo %d: %s decode differs from the reference conversion", i, JPEGDecoder)
		}
	}
}
