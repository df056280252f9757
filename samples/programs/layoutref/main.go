// Command layoutref is the reference program of mapscope's runtime layout
// tables (scripts/gen-layout-tables.sh): it links the parts of the runtime
// whose layouts mapscope reads — maps, sync.Map, goroutines, finalizers,
// the heap profiler, signals — so that their types are in its DWARF.
// It is built, never run, by the generator. Standard library only; builds
// with Go 1.21 through 1.27.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"sync"
	"syscall"
)

type item struct {
	name string
	next *item
}

var (
	byName = map[string]*item{}
	byID   = map[int64][]byte{}
	shared sync.Map
)

func main() {
	runtime.MemProfileRate = 4096
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			it := &item{name: fmt.Sprint("item", i)}
			runtime.SetFinalizer(it, func(*item) {})
			byID[int64(i)] = make([]byte, 64)
			shared.Store(i, it)
		}(i)
	}
	wg.Wait()
	for k, v := range byID {
		byName[fmt.Sprint(k)] = &item{name: string(v[:1])}
	}
	shared.Range(func(k, v any) bool { return true })
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR1)
	if len(os.Args) > 1 {
		_ = pprof.WriteHeapProfile(os.Stdout)
	}
	fmt.Println(len(byName), len(byID))
}
