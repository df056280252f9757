package main

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"
)

// Structures whose only path from a root is one a typed root walk cannot
// follow, built only when MAPZOO_EXTRA_ROOTS=1 (the shipped samples do not
// have them): a map held by an object with a finalizer that only an
// interface value keeps alive, and a map only an unsafe.Pointer refers to.

// FinalizedHolder is an object with a finalizer; its map is reachable only
// through it.
type FinalizedHolder struct {
	Name    string
	entries map[string]int64
}

var (
	// finalizerKeepAlive holds the holder in an interface: the GC sees the
	// pointer, a walk of typed fields does not.
	finalizerKeepAlive any
	// opaqueIndex is a map header behind an unsafe.Pointer.
	opaqueIndex unsafe.Pointer
)

const (
	nFinalizerEntries = 600
	nOpaqueEntries    = 3000
)

func extraRootsEnabled() bool { return os.Getenv("MAPZOO_EXTRA_ROOTS") == "1" }

func buildExtraRoots(t *Truth, scale int) {
	var holder *FinalizedHolder
	retained := measure(func() {
		holder = &FinalizedHolder{Name: "finalized", entries: make(map[string]int64)}
		for i := 0; i < nFinalizerEntries*scale; i++ {
			holder.entries[key("fin-", i, 6)] = int64(i)
		}
		runtime.SetFinalizer(holder, func(*FinalizedHolder) {})
		finalizerKeepAlive = holder
	})
	t.Maps = append(t.Maps, describeMap("finalizerHeld",
		"map reachable only through an object with a finalizer (kept alive by an interface)",
		"finalizer(*main.FinalizedHolder).entries", "finalizer", holder.entries, retained))

	var m map[int64]string
	retained = measure(func() {
		m = make(map[int64]string)
		for i := 0; i < nOpaqueEntries*scale; i++ {
			m[int64(i)*13] = key("opaque-", i, 8)
		}
		opaqueIndex = *(*unsafe.Pointer)(unsafe.Pointer(&m))
	})
	t.Maps = append(t.Maps, describeMap("opaqueIndex",
		"map only an unsafe.Pointer refers to: no typed root reaches it",
		"(unknown)", "unknown", m, retained))
	m = nil
	fmt.Fprintf(os.Stderr, "mapzoo: extra roots built\n")
}
