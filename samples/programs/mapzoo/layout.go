package main

import "unsafe"

// Keys and values larger than this are stored indirectly (a pointer in the
// slot) by both map implementations.
const maxInlineKeyElem = 128

// slotLayout is the size and alignment of a key and a value as the map
// stores them (indirect ones become a pointer).
type slotLayout struct {
	keySize, keyAlign   uintptr
	elemSize, elemAlign uintptr
	indirectKey         bool
	indirectElem        bool
}

func layoutOf[K comparable, V any]() slotLayout {
	var k K
	var v V
	l := slotLayout{
		keySize: unsafe.Sizeof(k), keyAlign: unsafe.Alignof(k),
		elemSize: unsafe.Sizeof(v), elemAlign: unsafe.Alignof(v),
	}
	if l.keySize > maxInlineKeyElem {
		l.keySize, l.keyAlign, l.indirectKey = 8, 8, true
	}
	if l.elemSize > maxInlineKeyElem {
		l.elemSize, l.elemAlign, l.indirectElem = 8, 8, true
	}
	return l
}

func alignUp(n, a uintptr) uintptr {
	if a <= 1 {
		return n
	}
	return (n + a - 1) &^ (a - 1)
}

// mapPointer is the map header pointer a map value holds (what %p prints).
func mapPointer[K comparable, V any](m map[K]V) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&m))
}

func ptrString(p unsafe.Pointer) string { return hexAddr(uintptr(p)) }
