//go:build !go1.24 || (!go1.26 && !goexperiment.synchashtriemap)

package main

import (
	"sync"
	"unsafe"
)

// sync.Map before Go 1.24 (and 1.24/1.25 with GOEXPERIMENT=nosynchashtriemap):
// a read-only map[any]*entry behind an atomic pointer plus a dirty map.

const syncMapImplementation = "read-dirty"

type syncMapMirror struct {
	mu     [2]uint32      // sync.Mutex
	read   unsafe.Pointer // atomic.Pointer[readOnly]
	dirty  map[any]unsafe.Pointer
	misses int
}

type readOnlyMirror struct {
	m       map[any]unsafe.Pointer // map[any]*entry
	amended bool
}

// SyncMapHeader is sync.Map's read/dirty pair as read from memory.
type SyncMapHeader struct {
	Impl     string `json:"impl"` // "read-dirty"
	Read     string `json:"read"` // *readOnly
	ReadMap  string `json:"read_map"`
	ReadLen  int    `json:"read_len"`
	Amended  bool   `json:"amended"`
	Dirty    string `json:"dirty"`
	DirtyLen int    `json:"dirty_len"`
	Misses   int    `json:"misses"`
}

func inspectSyncMap(m *sync.Map) any {
	s := (*syncMapMirror)(unsafe.Pointer(m))
	h := SyncMapHeader{Impl: syncMapImplementation, Read: ptrString(s.read),
		Dirty: ptrString(mapPointer(s.dirty)), DirtyLen: len(s.dirty), Misses: s.misses}
	if s.read != nil {
		r := (*readOnlyMirror)(s.read)
		h.ReadMap, h.ReadLen, h.Amended = ptrString(mapPointer(r.m)), len(r.m), r.amended
	}
	return h
}
