// Command allocs allocates memory from many differently shaped call paths and
// writes the heap profile twice: as gzipped protobuf (heap.pb.gz) and as the
// legacy text format (heap.txt, what /debug/pprof/heap?debug=1 serves).
//
// It exists to give mapscope's `top` interesting profiles to be checked
// against `go tool pprof -top`: direct and mutual recursion (cum counted once
// per sample), helpers that are inlined at some call sites and not at others
// ("(inline)" and "(partial-inline)" rows), methods, closures, generic
// functions, maps, slices, strings, a goroutine, and garbage that shows in
// alloc_* but not in inuse_*.
//
// Standard library only. Usage:
//
//	allocs [-rate N] [-out DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
)

// Record is a map value with a fixed payload, so each one is a 96-byte object.
type Record struct {
	ID      int
	Name    string
	Tags    []string
	Payload [48]byte
}

// Node is one node of a binary tree built recursively.
type Node struct {
	Left, Right *Node
	Data        []byte
}

// Cache holds values behind a method, so the profile shows main.(*Cache).Put.
type Cache struct {
	entries map[int][]byte
}

// Put stores a copy of a fresh buffer of n bytes under key.
func (c *Cache) Put(key, n int) {
	c.entries[key] = make([]byte, n)
}

// retained keeps everything reachable until the profile has been written.
var retained struct {
	registry map[string]*Record
	tree     *Node
	parity   [][]byte
	buffers  [][]byte
	indirect [][]byte
	logLines []string
	banners  []string
	cache    *Cache
	chunks   [][]uint64
	closure  [][]byte
	worker   [][]byte
	big      []byte
}

// sink defeats dead-code elimination of garbage allocations.
var sink int

// newBuf is small enough to be inlined where it is called directly.
func newBuf(n int) []byte {
	return make([]byte, n)
}

// fillRegistry builds a map of pointers to records, keyed by formatted strings.
//
//go:noinline
func fillRegistry(n int) map[string]*Record {
	m := make(map[string]*Record)
	for i := 0; i < n; i++ {
		key := fmt.Sprintf("tenant-%06d/session", i)
		r := &Record{ID: i, Name: key}
		r.Tags = []string{"a" + strconv.Itoa(i), "b"}
		m[key] = r
	}
	return m
}

// buildTree recurses depth levels; every node allocates a data buffer.
//
//go:noinline
func buildTree(depth int) *Node {
	n := &Node{Data: make([]byte, 1024)}
	if depth > 0 {
		n.Left = buildTree(depth - 1)
		n.Right = buildTree(depth - 1)
	}
	return n
}

// even and odd recurse into each other; both allocate.
//
//go:noinline
func even(n int, out [][]byte) [][]byte {
	out = append(out, make([]byte, 4096))
	if n == 0 {
		return out
	}
	return odd(n-1, out)
}

//go:noinline
func odd(n int, out [][]byte) [][]byte {
	out = append(out, make([]byte, 8192))
	if n == 0 {
		return out
	}
	return even(n-1, out)
}

// collectBuffers calls newBuf directly (inlined here).
//
//go:noinline
func collectBuffers(count, size int) [][]byte {
	var out [][]byte
	for i := 0; i < count; i++ {
		out = append(out, newBuf(size))
	}
	return out
}

// bufMaker is newBuf behind a package-level function variable: calls
// through it cannot be inlined.
var bufMaker = newBuf

// collectIndirect calls newBuf through bufMaker (a real call), so newBuf is
// both inlined and called: "(partial-inline)" in pprof.
//
//go:noinline
func collectIndirect(count, size int) [][]byte {
	var out [][]byte
	for i := 0; i < count; i++ {
		out = append(out, bufMaker(size))
	}
	return out
}

// appendLog grows a slice of strings by appending.
//
//go:noinline
func appendLog(n int) []string {
	var lines []string
	for i := 0; i < n; i++ {
		lines = append(lines, strings.Repeat("x", 40)+strconv.Itoa(i))
	}
	return lines
}

// banners builds strings with strings.Builder.
//
//go:noinline
func banners(n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		var b strings.Builder
		for j := 0; j < 64; j++ {
			b.WriteString("banner-")
		}
		out = append(out, b.String())
	}
	return out
}

// makeChunks is generic; its profile name carries a type-parameter suffix.
//
//go:noinline
func makeChunks[T any](n, size int) [][]T {
	out := make([][]T, n)
	for i := range out {
		out[i] = make([]T, size)
	}
	return out
}

// churn allocates garbage: it shows in alloc_* and not in inuse_*.
//
//go:noinline
func churn(rounds int) {
	for i := 0; i < rounds; i++ {
		b := make([]byte, 64<<10)
		sink += len(b)
		s := strings.Repeat("garbage", 100)
		sink += len(s)
	}
}

// worker allocates on its own goroutine and hands the buffers back.
func worker(n int, done chan<- [][]byte) {
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, make([]byte, 32<<10))
	}
	done <- out
}

func main() {
	rate := flag.Int("rate", 0, "runtime.MemProfileRate to set first (0 keeps the default)")
	outDir := flag.String("out", ".", "directory for heap.pb.gz and heap.txt")
	flag.Parse()
	if *rate > 0 {
		runtime.MemProfileRate = *rate
	}

	retained.registry = fillRegistry(60000)
	retained.tree = buildTree(11)
	retained.parity = even(301, nil)
	retained.buffers = collectBuffers(2000, 3000)
	retained.indirect = collectIndirect(1500, 2500)
	retained.logLines = appendLog(50000)
	retained.banners = banners(8000)
	retained.cache = &Cache{entries: make(map[int][]byte)}
	for i := 0; i < 3000; i++ {
		retained.cache.Put(i, 1500)
	}
	retained.chunks = makeChunks[uint64](400, 512)
	func() {
		for i := 0; i < 200; i++ {
			retained.closure = append(retained.closure, make([]byte, 20000))
		}
	}()
	done := make(chan [][]byte)
	go worker(300, done)
	retained.worker = <-done
	retained.big = make([]byte, 3<<20)
	churn(1500)

	runtime.GC()
	if err := writeProfiles(*outDir); err != nil {
		fmt.Fprintln(os.Stderr, "allocs:", err)
		os.Exit(1)
	}
	runtime.KeepAlive(&retained)
}

func writeProfiles(dir string) error {
	// debug=0 writes the gzipped protobuf itself.
	if err := writeFile(filepath.Join(dir, "heap.pb.gz"), 0); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "heap.txt"), 1); err != nil {
		return err
	}
	return nil
}

func writeFile(path string, debug int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, debug); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
