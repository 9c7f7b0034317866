//go:build !amd64 || purego || noasm

package imageio

// yccRow2 is yccRow2Ref where there is no assembly.
func yccRow2(o, y, cb, cr []uint8) { yccRow2Ref(o, y, cb, cr) }
