//go:build !linux

package main

import "errors"

var shmDir = ""

var errNoShm = errors.New("the shared-memory transport needs Linux")

func createRing(dir string, slots int, slotBytes, area int64) (*shmRing, error) { return nil, errNoShm }
func (r *shmRing) unlink()                                                      {}
func (r *shmRing) close()                                                       {}

// ErrShmUnavailable: the client cannot use the shared-memory transport.
var ErrShmUnavailable = errors.New("serve: shared-memory transport unavailable")

func mapRing(path string, size int64) ([]byte, error) { return nil, ErrShmUnavailable }
func unmapRing(b []byte)                              {}
