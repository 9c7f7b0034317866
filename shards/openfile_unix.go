//go:build unix

package shards

import "syscall"

const openNonblock = syscall.O_NONBLOCK
