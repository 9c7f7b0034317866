//go:build !amd64 || purego || noasm

package ops

const haveConvertAsm = false

func convertRow3(d0, d1, d2 []float32, row []uint8, ms *[6]float32) int { return 0 }

func convertRow1(d []float32, row []uint8, ms *[6]float32) int { return 0 }
