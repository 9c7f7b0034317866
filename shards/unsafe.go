package shards

import "unsafe"

// unsafeString returns a string sharing b's bytes. The caller guarantees b is
// never modified afterwards.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
