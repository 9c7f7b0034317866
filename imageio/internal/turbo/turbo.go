//go:build turbojpeg && cgo

// Package turbo binds the JPEG decompressor of libjpeg-turbo's TurboJPEG
// API (libturbojpeg) for imageio's turbojpeg build. It lives apart from
// imageio because a package using cgo cannot hold Go assembly.
package turbo

// #cgo LDFLAGS: -lturbojpeg
// #include <turbojpeg.h>
import "C"

import (
	"errors"
	"runtime"
	"sync"
	"unsafe"
)

// Pixel formats of Decode's output.
const (
	Gray = C.TJPF_GRAY // one byte per pixel
	RGB  = C.TJPF_RGB  // three bytes per pixel
)

// flags: libjpeg-turbo's defaults otherwise (accurate integer IDCT, "fancy"
// triangle-filter chroma upsampling: what PIL, and so torchvision, decode
// with); a warning (a truncated or damaged stream that libjpeg would pad
// with gray) is an error, and a progressive image may have at most 500
// scans (an image of millions of scans is a known denial of service).
const flags = C.TJFLAG_STOPONWARNING | C.TJFLAG_LIMITSCANS

// Header is what Header reads of a JPEG.
type Header struct {
	Width, Height int
	CMYK          bool // a CMYK or YCCK image: Decode cannot give RGB or gray
}

// handle owns one TurboJPEG decompressor. Handles are pooled; one the pool
// drops is destroyed by its cleanup.
type handle struct{ h C.tjhandle }

var handles = sync.Pool{New: func() any {
	h := C.tjInitDecompress()
	if h == nil {
		return nil
	}
	t := &handle{h: h}
	runtime.AddCleanup(t, func(h C.tjhandle) { C.tjDestroy(h) }, h)
	return t
}}

var errAlloc = errors.New("libjpeg-turbo could not allocate a decompressor")

func get() (*handle, error) {
	t, _ := handles.Get().(*handle)
	if t == nil {
		return nil, errAlloc
	}
	return t, nil
}

func (t *handle) err() error {
	return errors.New("libjpeg-turbo: " + C.GoString(C.tjGetErrorStr2(t.h)))
}

// ReadHeader reads the header of the JPEG b.
func ReadHeader(b []byte) (Header, error) {
	if len(b) == 0 {
		return Header{}, errors.New("libjpeg-turbo: empty input")
	}
	t, err := get()
	if err != nil {
		return Header{}, err
	}
	defer handles.Put(t)
	var w, h, subsamp, cs C.int
	if C.tjDecompressHeader3(t.h, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(b))), C.ulong(len(b)), &w, &h, &subsamp, &cs) != 0 {
		return Header{}, t.err()
	}
	runtime.KeepAlive(b)
	return Header{Width: int(w), Height: int(h), CMYK: cs == C.TJCS_CMYK || cs == C.TJCS_YCCK}, nil
}

// Decode decodes the JPEG b, of the size ReadHeader gave, into dst in pixel
// format pf (Gray or RGB), rows stride bytes apart: dst must hold
// (height-1)*stride + width*bytes-per-pixel bytes.
func Decode(dst []byte, b []byte, width, height, stride, pf int) error {
	bpp := 1
	if pf == RGB {
		bpp = 3
	}
	switch {
	case pf != Gray && pf != RGB:
		return errors.New("turbo: pixel format must be Gray or RGB")
	case len(b) == 0 || width <= 0 || height <= 0 || stride < width*bpp ||
		len(dst) < (height-1)*stride+width*bpp:
		return errors.New("turbo: output buffer too small for the image")
	}
	t, err := get()
	if err != nil {
		return err
	}
	defer handles.Put(t)
	if C.tjDecompress2(t.h, (*C.uchar)(unsafe.Pointer(unsafe.SliceData(b))), C.ulong(len(b)),
		(*C.uchar)(unsafe.Pointer(unsafe.SliceData(dst))), C.int(width), C.int(stride), C.int(height),
		C.int(pf), flags) != 0 {
		return t.err()
	}
	runtime.KeepAlive(b)
	runtime.KeepAlive(dst)
	return nil
}
