package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/pairflow/pairflow/pix"
	"github.com/pairflow/pairflow/shards"
)

func TestYCCMatchesStdlib(t *testing.T) {
	for y := range 256 {
		for cb := range 256 {
			for cr := range 256 {
				r, g, b := ycc(uint8(y), uint8(cb), uint8(cr))
				wr, wg, wb := color.YCbCrToRGB(uint8(y), uint8(cb), uint8(cr))
				if r != wr || g != wg || b != wb {
					t.Fatalf("ycc(%d,%d,%d) = %d,%d,%d, want %d,%d,%d", y, cb, cr, r, g, b, wr, wg, wb)
				}
			}
		}
	}
}

func fill(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// convertRef converts m pixel by pixel with the documented rule for its type.
func convertRef(m image.Image, c int) *pix.Image {
	b := m.Bounds()
	dst := pix.NewImage(b.Dx(), b.Dy(), c)
	switch m := m.(type) {
	case *image.YCbCr:
		convertYCbCrRef(dst, m)
		return dst
	case *image.NRGBA, *image.CMYK:
		for y := range b.Dy() {
			for x := range b.Dx() {
				var r, g, bl uint8
				switch m := m.(type) {
				case *image.NRGBA:
					p := m.NRGBAAt(b.Min.X+x, b.Min.Y+y)
					r, g, bl = over(p.R, p.A), over(p.G, p.A), over(p.B, p.A)
				case *image.CMYK:
					p := m.CMYKAt(b.Min.X+x, b.Min.Y+y)
					r, g, bl = color.CMYKToRGB(p.C, p.M, p.Y, p.K)
				}
				if c == 1 {
					dst.Pix[y*dst.Stride+x] = luma(r, g, bl)
				} else {
					copy(dst.Pix[y*dst.Stride+3*x:], []byte{r, g, bl})
				}
			}
		}
		return dst
	}
	convertGeneric(dst, m, c)
	return dst
}

func TestFastPathsMatchReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ratios := []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410}
	for _, size := range [][2]int{{1, 1}, {2, 3}, {17, 5}, {16, 16}, {33, 9}} {
		r := image.Rect(0, 0, size[0], size[1])
		var imgs []image.Image
		for _, ratio := range ratios {
			m := image.NewYCbCr(r, ratio)
			fill(rng, m.Y)
			fill(rng, m.Cb)
			fill(rng, m.Cr)
			imgs = append(imgs, m)
			if size[0] > 2 && size[1] > 2 { // sub-images with odd origins
				imgs = append(imgs, m.SubImage(image.Rect(1, 1, size[0], size[1])), m.SubImage(image.Rect(2, 1, size[0]-1, size[1])))
			}
		}
		g := image.NewGray(r)
		rgba := image.NewRGBA(r)
		nrgba := image.NewNRGBA(r)
		cmyk := image.NewCMYK(r)
		g16 := image.NewGray16(r)
		pal := image.NewPaletted(r, color.Palette{color.Black, color.NRGBA{200, 100, 50, 128}, color.RGBA{10, 20, 30, 255}, color.Gray16{0x1234}})
		for _, p := range [][]byte{g.Pix, rgba.Pix, nrgba.Pix, cmyk.Pix, g16.Pix} {
			fill(rng, p)
		}
		for i := 0; i < len(rgba.Pix); i += 4 { // keep premultiplied values valid
			a := rgba.Pix[i+3]
			rgba.Pix[i], rgba.Pix[i+1], rgba.Pix[i+2] = min(rgba.Pix[i], a), min(rgba.Pix[i+1], a), min(rgba.Pix[i+2], a)
		}
		for i := range pal.Pix {
			pal.Pix[i] = byte(rng.IntN(4))
		}
		imgs = append(imgs, g, rgba, nrgba, cmyk, g16, pal, image.NewRGBA64(r), image.NewNRGBA64(r))
		for _, m := range imgs {
			for _, c := range []int{1, 3} {
				want := convertRef(m, c)
				got := &pix.Image{Pix: make([]byte, 3)} // too small: must be reallocated
				convert(got, m, c)
				if got.W != want.W || got.H != want.H || !bytes.Equal(got.Pix, want.Pix) {
					t.Fatalf("%T %v c=%d: fast path differs from reference", m, m.Bounds(), c)
				}
			}
		}
	}
}

func TestConversionRules(t *testing.T) {
	cases := []struct {
		name string
		m    image.Image
		want []byte // gray, then RGB
	}{
		{"nrgba half alpha over black", &image.NRGBA{Pix: []byte{255, 100, 0, 128}, Stride: 4, Rect: image.Rect(0, 0, 1, 1)},
			[]byte{luma(128, 50, 0), 128, 50, 0}},
		{"nrgba transparent", &image.NRGBA{Pix: []byte{255, 255, 255, 0}, Stride: 4, Rect: image.Rect(0, 0, 1, 1)}, []byte{0, 0, 0, 0}},
		{"gray16 rounds", &image.Gray16{Pix: []byte{0x80, 0x80}, Stride: 2, Rect: image.Rect(0, 0, 1, 1)}, []byte{128, 128, 128, 128}},
		{"gray16 0x807f", &image.Gray16{Pix: []byte{0x80, 0x7f}, Stride: 2, Rect: image.Rect(0, 0, 1, 1)}, []byte{128, 128, 128, 128}},
		{"gray16 0x7f80", &image.Gray16{Pix: []byte{0x7f, 0x80}, Stride: 2, Rect: image.Rect(0, 0, 1, 1)}, []byte{127, 127, 127, 127}},
		{"cmyk", &image.CMYK{Pix: []byte{0, 255, 255, 0}, Stride: 4, Rect: image.Rect(0, 0, 1, 1)}, []byte{luma(255, 0, 0), 255, 0, 0}},
	}
	for _, c := range cases {
		var g, rgb pix.Image
		convert(&g, c.m, 1)
		convert(&rgb, c.m, 3)
		if got := append(bytes.Clone(g.Pix), rgb.Pix...); !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

// testImage is an asymmetric RGB test pattern.
func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 7 * 30), 255})
		}
	}
	return m
}

func encode(t testing.TB, f shards.Encoding, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	var err error
	switch f {
	case shards.PNG:
		err = png.Encode(&b, m)
	case shards.JPEG:
		err = jpeg.Encode(&b, m, &jpeg.Options{Quality: 90})
	case shards.GIF:
		err = gif.Encode(&b, m, nil)
	case shards.BMP:
		err = bmp.Encode(&b, m)
	case shards.TIFF:
		err = tiff.Encode(&b, m, &tiff.Options{Compression: tiff.Deflate})
	}
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecodeFormats(t *testing.T) {
	src := testImage(37, 23)
	for _, f := range []shards.Encoding{shards.PNG, shards.JPEG, shards.GIF, shards.BMP, shards.TIFF} {
		data := encode(t, f, src)
		if got, ok := Sniff(data); !ok || got != f {
			t.Fatalf("Sniff(%v) = %v, %v", f, got, ok)
		}
		cfg, err := DecodeConfig(data)
		if err != nil || cfg.Width != 37 || cfg.Height != 23 || cfg.Format != f {
			t.Fatalf("%v: DecodeConfig = %+v, %v", f, cfg, err)
		}
		var d Decoder
		var got pix.Image
		if err := d.Decode(&got, data); err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		// Reference: the standard decoder, then the per-pixel rule.
		m, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		want := convertRef(m, 3)
		same := bytes.Equal(got.Pix, want.Pix)
		if f == shards.JPEG {
			same = jpegMatches(&got, want)
		}
		if !same || got.W != 37 || got.H != 23 || got.C != 3 {
			t.Fatalf("%v: decoded pixels differ from the reference", f)
		}
		if f == shards.PNG || f == shards.BMP || f == shards.TIFF { // lossless
			if !bytes.Equal(got.Pix, convertRef(src, 3).Pix) {
				t.Fatalf("%v: lossless round trip differs", f)
			}
		}
		if err := Decode(&got, data, 1); err != nil || got.C != 1 || len(got.Pix) != 37*23 {
			t.Fatalf("%v gray: %v %d", f, err, got.C)
		}
	}
	// Gray PNG decodes to one channel by default.
	g := image.NewGray16(image.Rect(0, 0, 4, 3))
	var got pix.Image
	if err := Decode(&got, encode(t, shards.PNG, g), 0); err != nil || got.C != 1 {
		t.Fatalf("gray16 png: C=%d err %v", got.C, err)
	}
}

func TestDecodeWebP(t *testing.T) {
	for _, name := range []string{"blue-purple-pink.lossy.webp", "gopher-doc.1bpp.lossless.webp",
		"gopher-doc.with-alpha.lossless.webp", "yellow_rose.lossy-with-alpha.webp"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := Sniff(data); f != shards.WebP {
			t.Fatalf("%s sniffed as %v", name, f)
		}
		var got pix.Image
		if err := Decode(&got, data, 3); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if want := convertRef(m, 3); !bytes.Equal(got.Pix, want.Pix) {
			t.Fatalf("%s (%T): differs from reference", name, m)
		}
	}
}

func TestPixelBudget(t *testing.T) {
	// A PNG header claiming 20000×20000: refused from the header alone.
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	data := b.Bytes()
	binary.BigEndian.PutUint32(data[16:], 20000)
	binary.BigEndian.PutUint32(data[20:], 20000)
	putCRC := func() { // IHDR CRC
		binary.BigEndian.PutUint32(data[29:], crc32IEEE(data[12:29]))
	}
	putCRC()
	var got pix.Image
	err := Decode(&got, data, 0)
	var be *BudgetError
	if !errors.As(err, &be) || !errors.Is(err, ErrTooLarge) || be.Width != 20000 {
		t.Fatalf("bomb: %v", err)
	}
	d := Decoder{MaxPixels: 100}
	if err := d.Decode(&got, encode(t, shards.PNG, testImage(11, 10))); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("budget 100, 110 pixels: %v", err)
	}
	if err := d.DecodeRaw(&got, make([]byte, 11*10), 11, 10, 1); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("raw over budget: %v", err)
	}
	// The message names what was refused, never "encoding(0)".
	if err := d.DecodeRaw(&got, make([]byte, 11*10), 11, 10, 1); strings.Contains(err.Error(), "encoding(") || !strings.Contains(err.Error(), "raw-pixel image of 11x10") {
		t.Fatalf("raw over budget message: %v", err)
	}
	rec := &shards.Record{Key: "k", Encoding: shards.RawS2, Width: 11, Height: 10, Channels: 1, Payload: make([]byte, 110)}
	if err := d.DecodeRecord(&got, rec); !strings.Contains(err.Error(), "raw-s2 image of 11x10") {
		t.Fatalf("raw record over budget message: %v", err)
	}
	if err := Decode(&got, []byte("not an image"), 0); !errors.Is(err, ErrFormat) {
		t.Fatalf("garbage: %v", err)
	}
	if err := Decode(&got, data[:40], 0); !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrDecode) {
		t.Fatalf("truncated: %v", err)
	}
}

// withExif inserts an APP1 EXIF segment with the given orientation into a JPEG.
func withExif(j []byte, o int, order binary.ByteOrder) []byte {
	tiffb := make([]byte, 8+2+12+4)
	if order == binary.LittleEndian {
		copy(tiffb, "II")
	} else {
		copy(tiffb, "MM")
	}
	order.PutUint16(tiffb[2:], 42)
	order.PutUint32(tiffb[4:], 8)
	order.PutUint16(tiffb[8:], 1)
	e := tiffb[10:]
	order.PutUint16(e, 0x0112)
	order.PutUint16(e[2:], 3)
	order.PutUint32(e[4:], 1)
	order.PutUint16(e[8:], uint16(o))
	seg := append([]byte("Exif\x00\x00"), tiffb...)
	app1 := []byte{0xff, 0xe1, 0, 0}
	binary.BigEndian.PutUint16(app1[2:], uint16(len(seg)+2))
	out := append([]byte{}, j[:2]...)
	out = append(out, app1...)
	out = append(out, seg...)
	return append(out, j[2:]...)
}

func TestOrientation(t *testing.T) {
	const w, h = 6, 4
	base := encode(t, shards.JPEG, testImage(w, h))
	var d Decoder
	var plain pix.Image
	if err := d.Decode(&plain, base); err != nil {
		t.Fatal(err)
	}
	at := func(x, y int) []byte { return plain.Pix[(y*w+x)*3 : (y*w+x)*3+3] }
	for o := 1; o <= 8; o++ {
		for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
			data := withExif(base, o, order)
			if got := Orientation(data); got != o {
				t.Fatalf("Orientation = %d, want %d", got, o)
			}
			var got pix.Image
			if err := d.Decode(&got, data); err != nil {
				t.Fatal(err)
			}
			// Where the source's top-left, top-right and bottom-left corners land.
			ow, oh := w, h
			if o >= 5 {
				ow, oh = h, w
			}
			if got.W != ow || got.H != oh {
				t.Fatalf("o=%d: %dx%d, want %dx%d", o, got.W, got.H, ow, oh)
			}
			corner := map[int][3][2]int{ // TL, TR, BL of the source, as output coordinates
				1: {{0, 0}, {ow - 1, 0}, {0, oh - 1}},
				2: {{ow - 1, 0}, {0, 0}, {ow - 1, oh - 1}},
				3: {{ow - 1, oh - 1}, {0, oh - 1}, {ow - 1, 0}},
				4: {{0, oh - 1}, {ow - 1, oh - 1}, {0, 0}},
				5: {{0, 0}, {0, oh - 1}, {ow - 1, 0}},
				6: {{ow - 1, 0}, {ow - 1, oh - 1}, {0, 0}},
				7: {{ow - 1, oh - 1}, {ow - 1, 0}, {0, oh - 1}},
				8: {{0, oh - 1}, {0, 0}, {ow - 1, oh - 1}},
			}[o]
			src := [3][]byte{at(0, 0), at(w-1, 0), at(0, h-1)}
			for k, p := range corner {
				q := got.Pix[(p[1]*ow+p[0])*3:][:3]
				if !bytes.Equal(q, src[k]) {
					t.Fatalf("o=%d: corner %d at %v is %v, want %v", o, k, p, q, src[k])
				}
			}
		}
	}
	if got := Orientation(base); got != 1 {
		t.Fatalf("no EXIF: %d", got)
	}
	d.IgnoreOrientation = true
	var got pix.Image
	d.Decode(&got, withExif(base, 6, binary.BigEndian))
	if got.W != w {
		t.Fatal("IgnoreOrientation ignored")
	}
}

func TestDecodeRecord(t *testing.T) {
	dir := t.TempDir()
	w, err := shards.Create(dir, shards.WriterOptions{Split: "t"})
	if err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 5*4*3)
	for i := range raw {
		raw[i] = byte(i * 7)
	}
	w.Append(&shards.Record{Key: "raw", Width: 5, Height: 4, Channels: 3, Encoding: shards.RawS2, Payload: raw})
	w.Append(&shards.Record{Key: "png", Encoding: shards.PNG, Payload: encode(t, shards.PNG, testImage(5, 4))})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ds, err := shards.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	var rec shards.Record
	var img pix.Image
	var d Decoder
	ds.Record(0, &rec)
	if err := d.DecodeRecord(&img, &rec); err != nil || !bytes.Equal(img.Pix, raw) || img.C != 3 {
		t.Fatalf("raw: %v", err)
	}
	d.Channels = 1
	if err := d.DecodeRecord(&img, &rec); err != nil || img.C != 1 || img.Pix[1] != luma(raw[3], raw[4], raw[5]) {
		t.Fatalf("raw to gray: %v", err)
	}
	ds.Record(1, &rec)
	d.Channels = 3
	if err := d.DecodeRecord(&img, &rec); err != nil || img.W != 5 || !bytes.Equal(img.Pix, convertRef(testImage(5, 4), 3).Pix) {
		t.Fatalf("png: %v", err)
	}
}

func TestSniff(t *testing.T) {
	for _, c := range []struct {
		b    string
		want shards.Encoding
		ok   bool
	}{
		{"\xff\xd8\xff\xe0", shards.JPEG, true},
		{"GIF89a...", shards.GIF, true},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", shards.WebP, true},
		{"RIFF\x00\x00\x00\x00WAVE", 0, false},
		{"MM\x00*\x00\x00\x00\x08", shards.TIFF, true},
		{"BM\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", shards.BMP, true},
		{"", 0, false},
	} {
		if got, ok := Sniff([]byte(c.b)); got != c.want || ok != c.ok {
			t.Errorf("Sniff(%q) = %v, %v", c.b, got, ok)
		}
	}
}

func TestGIFSubFrame(t *testing.T) {
	// Logical screen 6×5; the first frame covers (2,1)-(5,4) only.
	pal := color.Palette{color.RGBA{0, 0, 0, 255}, color.RGBA{200, 10, 20, 255}}
	fr := image.NewPaletted(image.Rect(2, 1, 5, 4), pal)
	for i := range fr.Pix {
		fr.Pix[i] = 1
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, &gif.GIF{Image: []*image.Paletted{fr}, Delay: []int{0},
		Config: image.Config{ColorModel: pal, Width: 6, Height: 5}}); err != nil {
		t.Fatal(err)
	}
	var img pix.Image
	if err := Decode(&img, b.Bytes(), 3); err != nil {
		t.Fatal(err)
	}
	if img.W != 6 || img.H != 5 {
		t.Fatalf("size %dx%d", img.W, img.H)
	}
	px := func(x, y int) []byte { return img.Pix[(y*6+x)*3:][:3] }
	if !bytes.Equal(px(0, 0), []byte{0, 0, 0}) || !bytes.Equal(px(2, 1), []byte{200, 10, 20}) || !bytes.Equal(px(4, 3), []byte{200, 10, 20}) || !bytes.Equal(px(5, 4), []byte{0, 0, 0}) {
		t.Fatalf("frame misplaced: %v", img.Pix)
	}
}

// jpegMatches reports whether got is this build's JPEG decode of the image
// image/jpeg decoded to want (after the reference conversion): the same
// bytes when JPEGDecoder is image/jpeg. libjpeg-turbo has its own IDCT and
// upsamples chroma with a triangle filter where image/jpeg repeats samples
// (its bytes are checked against PIL's in jpeg_turbo_test.go), so there
// the test is the same geometry and a mean absolute difference of the
// luma (the plane no subsampling touches) under 1.5 levels.
func jpegMatches(got, want *pix.Image) bool {
	if got.W != want.W || got.H != want.H || got.C != want.C || len(got.Pix) != len(want.Pix) {
		return false
	}
	if JPEGDecoder == "image/jpeg" {
		return bytes.Equal(got.Pix, want.Pix)
	}
	y := func(p []uint8) int {
		if len(p) == 1 {
			return int(p[0])
		}
		return int(luma(p[0], p[1], p[2]))
	}
	var sum int
	for i := 0; i < len(got.Pix); i += got.C {
		a, b := y(got.Pix[i:i+got.C]), y(want.Pix[i:i+got.C])
		sum += max(a-b, b-a)
	}
	return 2*sum < 3*got.W*got.H
}
