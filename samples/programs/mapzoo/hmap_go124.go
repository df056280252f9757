//go:build !goexperiment.swissmap && go1.24 && !go1.26

package main

import "unsafe"

// hmapMirror mirrors runtime.hmap of Go 1.24/1.25 built with
// GOEXPERIMENT=noswissmap (56 bytes: clearSeq was added).
type hmapMirror struct {
	count      int
	flags      uint8
	B          uint8
	noverflow  uint16
	hash0      uint32
	buckets    unsafe.Pointer
	oldbuckets unsafe.Pointer
	nevacuate  uintptr
	clearSeq   uint64
	extra      unsafe.Pointer
}

func (h *hmapMirror) clearSeqPtr() *uint64 { v := h.clearSeq; return &v }
