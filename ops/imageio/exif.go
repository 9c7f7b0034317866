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
