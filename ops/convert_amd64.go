//go:build amd64 && !purego && !noasm

package ops

const haveConvertAsm = true

// convertRow3AVX2 converts the first n pixels (n a multiple of 8) of an RGB
// row into three planes; it is convertRow3Ref over [0, n):
//
//	d0[x] = (float32(row[3x])/255 - ms[0]) / ms[3]
//	d1[x] = (float32(row[3x+1])/255 - ms[1]) / ms[4]
//	d2[x] = (float32(row[3x+2])/255 - ms[2]) / ms[5]
//
// with one VDIVPS, VSUBPS, VDIVPS per vector, in that order. With plain
// set (mean 0, std 1) it stops after the first division, which gives the
// same bits: (q-0)/1 == q exactly.
//
//go:noescape
func convertRow3AVX2(d0, d1, d2 *float32, row *uint8, n int, ms *[6]float32, plain bool)

// convertRow1AVX2 is convertRow1Ref over [0, n), n a multiple of 8.
//
//go:noescape
func convertRow1AVX2(d *float32, row *uint8, n int, ms *[6]float32, plain bool)

// convertRow3PlainAVX2 is convertRow3AVX2 with plain set, over n pixels (n
// a multiple of 8), reading 8 bytes past the n pixels of row (the caller
// makes sure they are within cap(row)).
//
//go:noescape
func convertRow3PlainAVX2(d0, d1, d2 *float32, row *uint8, n int)

func convertRow3(d0, d1, d2 []float32, row []uint8, ms *[6]float32) int {
	n := len(d0) &^ 7
	if n == 0 {
		return 0
	}
	m := len(d0)
	_, _, _, _ = d0[m-1], d1[m-1], d2[m-1], row[3*m-1]
	done := 0
	if convertPlain(ms) {
		// The plain kernel reads 32 bytes per 24: the last block
		// without 8 more bytes in row's backing array goes to
		// convertRow3AVX2.
		done = n
		if 3*done+8 > cap(row) {
			done -= 8
		}
		if done > 0 {
			convertRow3PlainAVX2(&d0[0], &d1[0], &d2[0], &row[0], done)
		}
	}
	if done < n {
		convertRow3AVX2(&d0[done], &d1[done], &d2[done], &row[3*done], n-done, ms, convertPlain(ms))
	}
	if n < m {
		// The tail: redo the last 8 pixels, overlapping (idempotent).
		t := m - 8
		convertRow3AVX2(&d0[t], &d1[t], &d2[t], &row[3*t], 8, ms, convertPlain(ms))
	}
	return m
}

func convertRow1(d []float32, row []uint8, ms *[6]float32) int {
	n := len(d) &^ 7
	if n == 0 {
		return 0
	}
	m := len(d)
	_, _ = d[m-1], row[m-1]
	convertRow1AVX2(&d[0], &row[0], n, ms, convertPlain(ms))
	if n < m {
		t := m - 8
		convertRow1AVX2(&d[t], &row[t], 8, ms, convertPlain(ms))
	}
	return m
}

// convertPlain reports mean 0 and std 1 for every channel.
func convertPlain(ms *[6]float32) bool {
	return *ms == [6]float32{0, 0, 0, 1, 1, 1}
}
