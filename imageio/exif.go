package imageio

import "encoding/binary"

// Bounds on the JPEG marker walk in Orientation.
const maxJPEGSegments = 64

// Orientation returns the EXIF orientation (1..8) stored in a JPEG file's APP1
// segment, or 1 when there is none or it is malformed. It walks at most 64
// marker segments before the first scan and reads nothing outside b.
func Orientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return 1
	}
	i := 2
	for seg := 0; seg < maxJPEGSegments; seg++ {
		for i < len(b) && b[i] == 0xff && i+1 < len(b) && b[i+1] == 0xff {
			i++ // fill bytes
		}
		if i+4 > len(b) || b[i] != 0xff {
			return 1
		}
		marker := b[i+1]
		switch {
		case marker == 0xda || marker == 0xd9: // start of scan, end of image
			return 1
		case marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7): // no length
			i += 2
			continue
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 1
		}
		payload := b[i+4 : i+2+n]
		if marker == 0xe1 && len(payload) >= 6 && string(payload[:6]) == "Exif\x00\x00" {
			if o := tiffOrientation(payload[6:]); o != 0 {
				return o
			}
		}
		i += 2 + n
	}
	return 1
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF-structured EXIF
// block; it returns 0 when absent or invalid.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := bo.Uint32(t[4:])
	if off < 8 || uint64(off)+2 > uint64(len(t)) {
		return 0
	}
	count := int(bo.Uint16(t[off:]))
	entries := t[off+2:]
	count = min(count, len(entries)/12)
	for k := range count {
		e := entries[12*k : 12*k+12]
		if bo.Uint16(e) != 0x0112 {
			continue
		}
		// Type SHORT (3), count 1: the value sits in the first two bytes
		// of the value field.
		if bo.Uint16(e[2:]) != 3 || bo.Uint32(e[4:]) != 1 {
			return 0
		}
		if v := int(bo.Uint16(e[8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}

// jpegSOF reads the frame header of a baseline, extended or progressive
// JPEG (SOF0, SOF1, SOF2) from b without decoding anything: its width,
// height and component count. ok is false when the marker walk does not
// reach such a header within 64 segments, or the header is implausible;
// the caller then asks image/jpeg, which explains what is wrong.
func jpegSOF(b []byte) (w, h, comps int, ok bool) {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return 0, 0, 0, false
	}
	i := 2
	for seg := 0; seg < maxJPEGSegments; seg++ {
		for i+1 < len(b) && b[i] == 0xff && b[i+1] == 0xff {
			i++ // fill bytes
		}
		if i+4 > len(b) || b[i] != 0xff {
			return 0, 0, 0, false
		}
		marker := b[i+1]
		switch {
		case marker == 0xda || marker == 0xd9: // scan or end before a frame
			return 0, 0, 0, false
		case marker >= 0xd0 && marker <= 0xd7: // RSTn: no length
			i += 2
			continue
		case marker < 0xc0: // stuffed zero, TEM or reserved: image/jpeg's business
			return 0, 0, 0, false
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return 0, 0, 0, false
		}
		p := b[i+4 : i+2+n]
		switch marker {
		case 0xc0, 0xc1, 0xc2:
			if len(p) < 6 || p[0] != 8 {
				return 0, 0, 0, false
			}
			h, w, comps = int(binary.BigEndian.Uint16(p[1:])), int(binary.BigEndian.Uint16(p[3:])), int(p[5])
			if w == 0 || h == 0 || (comps != 1 && comps != 3 && comps != 4) || len(p) < 6+3*comps {
				return 0, 0, 0, false
			}
			return w, h, comps, true
		case 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf: // unsupported frames
			return 0, 0, 0, false
		}
		i += 2 + n
	}
	return 0, 0, 0, false
}
