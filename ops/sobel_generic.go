//go:build !amd64 || purego || noasm

package ops

func cfSobelRow(dst, a, b, c []uint8) { cfSobelRowRef(dst, a, b, c) }
