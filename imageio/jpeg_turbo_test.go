//go:build turbojpeg && cgo

package imageio

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"image"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/pairflow/pairflow/pix"
)

// turboGolden is one fixture's entry in testdata/turbo/goldens.json.
type turboGolden struct {
	Width, Height int
	Mode          string
	RGBSHA256     string `json:"rgb_sha256"`
}

// turboGoldens reads testdata/turbo/goldens.json (made by make.py beside it
// from PIL's decodes).
func turboGoldens(t *testing.T) map[string]turboGolden {
	t.Helper()
	b, err := os.ReadFile("testdata/turbo/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Files map[string]turboGolden }
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g.Files
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "turbo", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stdDecode decodes b with image/jpeg, the default build's decoder.
func stdDecode(t *testing.T, b []byte) image.Image {
	t.Helper()
	m, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTurboMatchesPIL: the turbojpeg build decodes each fixture (4:2:0,
// 4:2:2, 4:4:4, progressive, restart markers, gray) to the very bytes PIL's
// decode to RGB gives, i.e. what torchvision's image loaders see. CMYK is
// left to image/jpeg (TestTurboCMYKFallsBack).
func TestTurboMatchesPIL(t *testing.T) {
	for name, g := range turboGoldens(t) {
		if g.Mode == "CMYK" {
			continue
		}
		var got pix.Image
		if err := (&Decoder{Channels: 3}).Decode(&got, readFixture(t, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sum := sha256.Sum256(got.Pix)
		if got.W != g.Width || got.H != g.Height || got.C != 3 || hex.EncodeToString(sum[:]) != g.RGBSHA256 {
			t.Errorf("%s: %dx%dx%d sha256 %x, PIL gives %dx%d %s", name, got.W, got.H, got.C, sum, g.Width, g.Height, g.RGBSHA256)
		}
	}
}

// TestTurboCMYKFallsBack: a CMYK JPEG, which TurboJPEG cannot turn into
// RGB, decodes exactly as the image/jpeg build decodes it.
func TestTurboCMYKFallsBack(t *testing.T) {
	b := readFixture(t, "cmyk.jpg")
	m := stdDecode(t, b)
	var got pix.Image
	if err := (&Decoder{}).Decode(&got, b); err != nil {
		t.Fatal(err)
	}
	if want := convertRef(m, 3); got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
		t.Fatal("CMYK decode differs from image/jpeg's")
	}
}

// TestTurboChannels: gray output of a colour JPEG is its Y plane (near
// image/jpeg's); a gray JPEG decodes to one channel by default and to
// replicated RGB on request.
func TestTurboChannels(t *testing.T) {
	b := readFixture(t, "420.jpg")
	m := stdDecode(t, b)
	var got pix.Image
	if err := (&Decoder{Channels: 1}).Decode(&got, b); err != nil {
		t.Fatal(err)
	}
	if !jpegMatches(&got, convertRef(m, 1)) {
		t.Fatal("gray decode of a colour JPEG is not near image/jpeg's Y plane")
	}
	gray := readFixture(t, "gray.jpg")
	var one, three pix.Image
	if err := (&Decoder{}).Decode(&one, gray); err != nil || one.C != 1 {
		t.Fatalf("gray JPEG: C=%d, %v", one.C, err)
	}
	if err := (&Decoder{Channels: 3}).Decode(&three, gray); err != nil {
		t.Fatal(err)
	}
	for i, v := range one.Pix {
		if p := three.Pix[3*i : 3*i+3]; p[0] != v || p[1] != v || p[2] != v {
			t.Fatalf("pixel %d: RGB %v from gray %d", i, p, v)
		}
	}
}

// TestTurboCorrupt: truncated and damaged JPEGs give an ErrDecode that
// names libjpeg-turbo, never a panic or gray-padded pixels; flipped bytes
// in the entropy-coded data decode or fail cleanly.
func TestTurboCorrupt(t *testing.T) {
	for _, name := range []string{"420.jpg", "progressive.jpg", "restart.jpg"} {
		b := readFixture(t, name)
		for _, n := range []int{len(b) - 2, len(b) * 3 / 4, len(b) / 2, 700} {
			var got pix.Image
			err := (&Decoder{}).Decode(&got, b[:n])
			if !errors.Is(err, ErrDecode) || !strings.Contains(err.Error(), "libjpeg-turbo") {
				t.Errorf("%s cut to %d bytes: err %v", name, n, err)
			}
		}
		for i := len(b) / 2; i < len(b)-2; i += 37 {
			c := bytes.Clone(b)
			c[i] ^= 0x5a
			var got pix.Image
			if err := (&Decoder{}).Decode(&got, c); err != nil && !errors.Is(err, ErrDecode) {
				t.Errorf("%s byte %d flipped: %v", name, i, err)
			}
		}
	}
}

// TestTurboConcurrent: decoders in several goroutines (sharing the pool of
// TurboJPEG handles) give the same bytes as one.
func TestTurboConcurrent(t *testing.T) {
	b := readFixture(t, "progressive.jpg")
	var want pix.Image
	if err := (&Decoder{}).Decode(&want, b); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var d Decoder
			var got pix.Image
			for range 50 {
				if err := d.Decode(&got, b); err != nil || !bytes.Equal(got.Pix, want.Pix) {
					t.Errorf("concurrent decode: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}
