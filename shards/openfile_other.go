//go:build !unix

package shards

const openNonblock = 0
