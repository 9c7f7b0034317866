//go:build !unix

package shards

import "os"

// mapping is unused off unix: shards are read with pread (os.File.ReadAt).
type mapping struct{}

type mapSet struct{}

func mapFile(*os.File, int64, *mapSet) (*mapping, bool) { return nil, false }

func (m *mapping) ReadAt([]byte, int64) (int, error) { panic("shards: no mapping") }

func (m *mapping) close() error { return nil }
