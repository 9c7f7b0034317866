//go:build !unix

package atomicfile

// syncUnsupported: directories cannot be fsynced outside unix (Windows
// makes renames durable without it).
func syncUnsupported(error) bool { return true }
