// growgarbage leaves map storage garbage in its heap on purpose, for
// mapscope's garbage summary (crates/gomaps/tests/garbage.rs): with the GC
// off it grows a global map from empty (every growth leaves the old
// bucket/group arrays behind) and builds a map it then drops. It records
// HeapAlloc, prints READY and waits for SIGUSR1 while gdb's gcore dumps
// it; then it runs the GC and records HeapAlloc again — the bytes the GC
// found live at the moment of the core. truth.json:
//
//	heap_alloc_at_core  HeapAlloc before the core (live + garbage)
//	heap_alloc_after_gc HeapAlloc after runtime.GC() (live only)
//	live_map            address and len of main.grown
//	dropped_map_len     entries of the dropped map
//
// Run by scripts/gen-garbage.sh.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"syscall"
	"unsafe"
)

type Item struct {
	ID   int64
	Name string
}

var (
	grown map[int64]*Item
	sink  map[string]*Item
	ms    runtime.MemStats
)

const (
	nGrown   = 100000
	nDropped = 5000
)

func main() {
	goAhead := make(chan os.Signal, 1)
	signal.Notify(goAhead, syscall.SIGUSR1)
	runtime.GC()
	debug.SetGCPercent(-1)
	grown = make(map[int64]*Item)
	for i := 0; i < nGrown; i++ {
		grown[int64(i)] = &Item{ID: int64(i)}
	}
	sink = make(map[string]*Item)
	for i := 0; i < nDropped; i++ {
		sink[fmt.Sprintf("key-%06d", i)] = &Item{ID: int64(i)}
	}
	sink = nil
	runtime.ReadMemStats(&ms)
	atCore := ms.HeapAlloc
	objectsAtCore := ms.HeapObjects
	os.Stdout.WriteString("READY\n")
	<-goAhead
	runtime.GC()
	runtime.ReadMemStats(&ms)
	truth := map[string]any{
		"go_version":            runtime.Version(),
		"heap_alloc_at_core":    atCore,
		"heap_objects_at_core":  objectsAtCore,
		"heap_alloc_after_gc":   ms.HeapAlloc,
		"heap_objects_after_gc": ms.HeapObjects,
		"live_map": map[string]any{
			"root":    "main.grown",
			"address": fmt.Sprintf("%#x", uintptr(*(*unsafe.Pointer)(unsafe.Pointer(&grown)))),
			"len":     len(grown),
		},
		"dropped_map_len": nDropped,
	}
	buf, _ := json.MarshalIndent(truth, "", "  ")
	os.WriteFile(os.Args[1], append(buf, '\n'), 0o644)
}
