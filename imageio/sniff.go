package imageio

import (
	"bytes"

	"github.com/pairflow/pairflow/shards"
)

// Sniff returns the encoding of an encoded image from its first bytes:
// shards.JPEG, PNG, GIF, BMP, TIFF or WebP. ok is false if none matches.
func Sniff(b []byte) (e shards.Encoding, ok bool) {
	switch {
	case len(b) >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff:
		return shards.JPEG, true
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return shards.PNG, true
	case bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a")):
		return shards.GIF, true
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return shards.WebP, true
	case bytes.HasPrefix(b, []byte("II*\x00")) || bytes.HasPrefix(b, []byte("MM\x00*")):
		return shards.TIFF, true
	case len(b) >= 14 && b[0] == 'B' && b[1] == 'M':
		return shards.BMP, true
	}
	return 0, false
}
