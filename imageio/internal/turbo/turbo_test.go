//go:build turbojpeg && cgo

package turbo

import (
	"os"
	"testing"
)

// TestArguments: Decode refuses a pixel format it does not know and a
// buffer too small for the image before libjpeg-turbo sees them, and both
// calls refuse empty input.
func TestArguments(t *testing.T) {
	b, err := os.ReadFile("../../testdata/turbo/420.jpg")
	if err != nil {
		t.Fatal(err)
	}
	h, err := ReadHeader(b)
	if err != nil || h.Width != 67 || h.Height != 45 || h.CMYK {
		t.Fatalf("ReadHeader = %+v, %v", h, err)
	}
	dst := make([]byte, 3*h.Width*h.Height)
	if err := Decode(dst, b, h.Width, h.Height, 3*h.Width, RGB); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name          string
		n, stride, pf int
	}{
		{"pixel format", len(dst), 3 * h.Width, 99},
		{"short buffer", len(dst) - 1, 3 * h.Width, RGB},
		{"short stride", len(dst), 3*h.Width - 1, RGB},
	} {
		if err := Decode(dst[:c.n], b, h.Width, h.Height, c.stride, c.pf); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if _, err := ReadHeader(nil); err == nil {
		t.Error("ReadHeader(nil): no error")
	}
	if err := Decode(dst, nil, h.Width, h.Height, 3*h.Width, RGB); err == nil {
		t.Error("Decode(nil): no error")
	}
}
