//go:build !goexperiment.swissmap && !go1.24

package main

import "unsafe"

// hmapMirror mirrors runtime.hmap of Go 1.21-1.23 (48 bytes).
type hmapMirror struct {
	count      int
	flags      uint8
	B          uint8
	noverflow  uint16
	hash0      uint32
	buckets    unsafe.Pointer
	oldbuckets unsafe.Pointer
	nevacuate  uintptr
	extra      unsafe.Pointer
}

func (h *hmapMirror) clearSeqPtr() *uint64 { return nil }
