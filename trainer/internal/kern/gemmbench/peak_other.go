//go:build !amd64 || purego || noasm

package main

func fmaLoop(n int) {}

const flopPerIter = 192

func fmaAvailable() bool { return false }
