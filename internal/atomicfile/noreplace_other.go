//go:build !linux

package atomicfile

// useRenameat2 has no effect off Linux.
var useRenameat2 = false

func renameNoReplace(old, new string) error { return linkNoReplace(old, new) }
