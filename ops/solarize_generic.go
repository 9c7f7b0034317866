//go:build !amd64 || purego || noasm

package ops

func cfSolarizeRow(p []uint8, th uint8) { cfSolarizeRef(p, th) }
