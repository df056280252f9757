//go:build !go1.24

package main

import "runtime"

// resetProfileSampler makes a new runtime.MemProfileRate take effect at once.
// Before Go 1.24 each P's mcache keeps the next sampling point drawn with the
// old rate (512 KiB mean) until it takes a sample. Shrinking to one P frees
// the other mcaches (regrowing allocates fresh ones at the new rate), and one
// large allocation on P 0 forces its pending sample. Allocation with no
// pointers and never touched: it costs address space, not RSS. It shows up
// in alloc_space as main.resetProfileSampler.
func resetProfileSampler() {
	n := runtime.GOMAXPROCS(1)
	flushSample = make([]byte, 16<<20)
	flushSample = nil
	runtime.GOMAXPROCS(n)
}

var flushSample []byte
