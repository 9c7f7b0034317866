package ops

import (
	"fmt"

	"github.com/pairflow/pairflow/internal/cpu"
)

// ToFloat32CHW writes m into dst as channel planes of float32:
//
//	dst[c*H*W + y*W + x] = (float32(v)/255 - mean[c]) / std[c]
//
// with mean 0 and std 1 when mean and std are empty (which gives exactly
// float32(v)/255, torchvision's ToTensor). Every tier gives the bits of
// this formula computed one float32 operation at a time, as torchvision's
// ToTensor() followed by Normalize(mean, std) does in float32: the SIMD
// kernels get v/255 from a multiplication and an FMA, which equals the
// division for each of the 256 byte values (TestConvertAllBytes), and then
// subtract and divide as written. dst must hold
// exactly C·H·W values; mean and std are empty or have C entries.
func ToFloat32CHW(dst []float32, m *Image, mean, std []float32) error {
	if err := m.Validate(); err != nil {
		return err
	}
	plane := m.W * m.H
	if len(dst) != plane*m.C {
		return fmt.Errorf("%w: %d floats for a %dx%dx%d view", ErrOutput, len(dst), m.W, m.H, m.C)
	}
	var ms [6]float32
	for c := 0; c < 3; c++ {
		ms[c], ms[3+c] = 0, 1
	}
	if len(mean) != 0 || len(std) != 0 {
		if len(mean) != m.C || len(std) != m.C {
			return fmt.Errorf("%w: mean/std have %d/%d entries for %d channels", ErrOutput, len(mean), len(std), m.C)
		}
		copy(ms[:3], mean)
		copy(ms[3:], std)
	}
	fast := haveConvertAsm && tier >= cpu.AVX2
	// Without SIMD kernels, a view of many pixels reads each channel's
	// 256 possible results from a table computed with the same formula.
	var lut *[3][256]float32
	if !fast && plane >= convertLUTMin {
		lut = new([3][256]float32)
		for c := range m.C {
			for v := range 256 {
				lut[c][v] = (float32(v)/255 - ms[c]) / ms[3+c]
			}
		}
	}
	rows, w := m.H, m.W
	if m.Stride == m.W*m.C {
		// A tight image is one long row: same pixel order as the planes.
		rows, w = 1, m.W*m.H
	}
	for y := 0; y < rows; y++ {
		row := m.Pix[y*m.Stride : y*m.Stride+w*m.C]
		o := y * w
		done := 0
		if m.C == 3 {
			d0, d1, d2 := dst[o:o+w], dst[plane+o:plane+o+w], dst[2*plane+o:2*plane+o+w]
			switch {
			case lut != nil:
				convertRow3LUT(d0, d1, d2, row, lut)
				continue
			case fast:
				done = convertRow3(d0, d1, d2, row, &ms)
			}
			convertRow3Ref(d0, d1, d2, row, &ms, done)
		} else {
			d := dst[o : o+w]
			switch {
			case lut != nil:
				for x, v := range row {
					d[x] = lut[0][v]
				}
				continue
			case fast:
				done = convertRow1(d, row, &ms)
			}
			convertRow1Ref(d, row, &ms, done)
		}
	}
	return nil
}

// convertRow3Ref converts pixels [from, len(d0)) of one RGB row.
func convertRow3Ref(d0, d1, d2 []float32, row []uint8, ms *[6]float32, from int) {
	m0, m1, m2, s0, s1, s2 := ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]
	for x := from; x < len(d0); x++ {
		p := row[3*x : 3*x+3 : 3*x+3]
		d0[x] = (float32(p[0])/255 - m0) / s0
		d1[x] = (float32(p[1])/255 - m1) / s1
		d2[x] = (float32(p[2])/255 - m2) / s2
	}
}

// convertLUTMin is the view size, in pixels, from which the plain-Go path
// builds the table: below it, the 256 divisions per channel would cost more
// than the ones the table saves.
const convertLUTMin = 512

// convertRow3LUT converts one RGB row through the table.
func convertRow3LUT(d0, d1, d2 []float32, row []uint8, lut *[3][256]float32) {
	for x := range d0 {
		p := row[3*x : 3*x+3 : 3*x+3]
		d0[x], d1[x], d2[x] = lut[0][p[0]], lut[1][p[1]], lut[2][p[2]]
	}
}

// convertRow1Ref converts pixels [from, len(d)) of one gray row.
func convertRow1Ref(d []float32, row []uint8, ms *[6]float32, from int) {
	m0, s0 := ms[0], ms[3]
	for x := from; x < len(d); x++ {
		d[x] = (float32(row[x])/255 - m0) / s0
	}
}

// ToUint8HWC copies m into dst as tight HWC bytes; dst must hold exactly
// H·W·C values.
func ToUint8HWC(dst []uint8, m *Image) error {
	if err := m.Validate(); err != nil {
		return err
	}
	n := m.W * m.C
	if len(dst) != n*m.H {
		return fmt.Errorf("%w: %d bytes for a %dx%dx%d view", ErrOutput, len(dst), m.W, m.H, m.C)
	}
	for y := 0; y < m.H; y++ {
		copy(dst[y*n:y*n+n], m.Pix[y*m.Stride:])
	}
	return nil
}
