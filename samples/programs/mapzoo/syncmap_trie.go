//go:build go1.26 || (go1.24 && goexperiment.synchashtriemap)

package main

import (
	"sync"
	"unsafe"
)

// sync.Map from Go 1.24: an internal/sync.HashTrieMap[any, any], a trie of
// "indirect" nodes with 16 children each, whose leaves are entry nodes
// (with an overflow chain for full hash collisions).

const syncMapImplementation = "hashtriemap"

const (
	trieChildren = 16
	maxTrieNodes = 1 << 26 // bound on nodes visited
)

type hashTrieMirror struct {
	inited   uint32
	initMu   [2]uint32
	root     unsafe.Pointer // *indirect[any, any]
	keyHash  unsafe.Pointer
	valEqual unsafe.Pointer
	seed     uintptr
}

type trieIndirectMirror struct {
	isEntry  bool
	_        [3]byte
	dead     uint32 // atomic.Bool
	mu       [2]uint32
	parent   unsafe.Pointer
	children [trieChildren]unsafe.Pointer
}

type trieEntryMirror struct {
	isEntry  bool
	overflow unsafe.Pointer
	key      any
	value    any
}

// SyncMapHeader is sync.Map's HashTrieMap as read from memory, with counts
// from walking the trie.
type SyncMapHeader struct {
	Impl          string `json:"impl"` // "hashtriemap"
	Inited        uint32 `json:"inited"`
	Root          string `json:"root"` // *indirect
	IndirectNodes int    `json:"indirect_nodes"`
	EntryNodes    int    `json:"entry_nodes"` // including overflow chains: the number of keys
	MaxDepth      int    `json:"max_depth"`   // root = 1
}

func inspectSyncMap(m *sync.Map) any {
	ht := (*hashTrieMirror)(unsafe.Pointer(m)) // sync.Map is { _ noCopy; m HashTrieMap }
	h := SyncMapHeader{Impl: syncMapImplementation, Inited: ht.inited, Root: ptrString(ht.root)}
	type item struct {
		p     unsafe.Pointer
		depth int
	}
	var stack []item
	if ht.root != nil {
		stack = append(stack, item{ht.root, 1})
	}
	visited := 0
	for len(stack) > 0 && visited < maxTrieNodes {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		visited++
		h.IndirectNodes++
		if it.depth > h.MaxDepth {
			h.MaxDepth = it.depth
		}
		ind := (*trieIndirectMirror)(it.p)
		for _, c := range ind.children {
			if c == nil {
				continue
			}
			if *(*bool)(c) {
				for e := c; e != nil && visited < maxTrieNodes; e = (*trieEntryMirror)(e).overflow {
					h.EntryNodes++
					visited++
				}
			} else {
				stack = append(stack, item{c, it.depth + 1})
			}
		}
	}
	return h
}
