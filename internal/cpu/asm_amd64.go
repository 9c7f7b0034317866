//go:build amd64 && !purego && !noasm

package cpu

const asmEnabled = true
