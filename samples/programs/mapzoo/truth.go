package main

import (
	"fmt"
	"os"
	"runtime"
)

// retainedMethod is copied into truth.json so that a reader of the file knows
// exactly what retained_bytes means.
const retainedMethod = "HeapAlloc delta: runtime.GC() twice (the second GC also empties sync.Pool victim caches), " +
	"ReadMemStats, build the structure and store it in its root, runtime.GC() twice, ReadMemStats; " +
	"retained_bytes = HeapAlloc(after) - HeapAlloc(before). Structures are built one at a time; " +
	"temporaries are garbage by the second measurement; anything the structure's root already existed " +
	"with (e.g. the *Registry that holds registry.endpoints) was allocated before the first measurement. " +
	"Family members listed under children were measured the same way around each member alone."

// rootConvention documents how the root strings are spelled; they match the
// `root` field of `mapscope maps --format json`.
const rootConvention = "Go syntax from a root: a package-level variable is main.name; a map reached " +
	"through pointer fields of heap objects is main.var.field (pointers dereferenced implicitly, " +
	"as Go selectors do); a member of a family is parent[*] with the member's key or index in " +
	"member_key/member_index; a map held only by a goroutine stack frame is " +
	"\"goroutine N pkg.func.local\" where N is the goroutine id (goid) of the holder."

// Truth is truth.json.
type Truth struct {
	Schema            int              `json:"schema"`
	Program           string           `json:"program"`
	GoVersion         string           `json:"go_version"`
	GOOS              string           `json:"goos"`
	GOARCH            string           `json:"goarch"`
	GoExperiment      string           `json:"goexperiment"`
	MapImplementation string           `json:"map_implementation"`
	SyncMapImpl       string           `json:"sync_map_implementation"`
	MemProfileRate    int              `json:"mem_profile_rate"`
	Scale             int              `json:"scale"`
	NoiseMB           int              `json:"noise_mb"`
	Mode              string           `json:"mode"`
	Pid               int              `json:"pid"`
	Executable        string           `json:"executable"`
	CapturedAt        string           `json:"captured_at"`
	RetainedMethod    string           `json:"retained_method"`
	RootConvention    string           `json:"root_convention"`
	Goroutines        []GoroutineTruth `json:"goroutines"`
	Maps              []MapTruth       `json:"maps"`
	Others            []ObjectTruth    `json:"others"`
	MemStats          MemStatsTruth    `json:"memstats"`
}

// GoroutineTruth is a goroutine the program created on purpose.
type GoroutineTruth struct {
	ID       int64  `json:"id"`
	Function string `json:"function"`
	Role     string `json:"role"`
	WaitsOn  string `json:"waits_on,omitempty"`
}

// MapTruth is one map, sync.Map or family of maps.
type MapTruth struct {
	Name          string `json:"name"`  // short stable id for tests, e.g. "sessions"
	Shape         string `json:"shape"` // what this structure demonstrates
	Root          string `json:"root"`
	RootKind      string `json:"root_kind"` // global | heap | goroutine
	Kind          string `json:"kind"`      // map | sync.Map | map-family
	Type          string `json:"type"`      // fmt %T
	Address       string `json:"address"`   // fmt %p of the map (for sync.Map: of the sync.Map value)
	Len           int    `json:"len"`       // len(m); families: members; sync.Map: entries seen by Range
	RetainedBytes int64  `json:"retained_bytes"`
	Growing       bool   `json:"growing"`
	// Inserted and Deleted describe the map's history where it matters
	// (the filled-then-deleted map).
	Inserted int `json:"inserted,omitempty"`
	Deleted  int `json:"deleted,omitempty"`
	// Header holds the map header fields read with unsafe (ClassicHeader or
	// SwissHeader); Storage what walking the buckets/groups found.
	Header  any `json:"header,omitempty"`
	Storage any `json:"storage,omitempty"`
	// Families.
	MembersTotalLen int        `json:"members_total_len,omitempty"`
	ChildrenListed  int        `json:"children_listed,omitempty"`
	Children        []MapTruth `json:"children,omitempty"`
	MemberKey       string     `json:"member_key,omitempty"`
	MemberIndex     *int       `json:"member_index,omitempty"`
	// Maps held in a field of a heap object: that object.
	Holder *HolderTruth `json:"holder,omitempty"`
	// Goroutine roots.
	Goroutine *int64 `json:"goroutine,omitempty"`
	Function  string `json:"function,omitempty"`
	Local     string `json:"local,omitempty"`
}

// HolderTruth is the heap object whose field holds a map.
type HolderTruth struct {
	Root    string `json:"root"`
	Type    string `json:"type"`
	Address string `json:"address"`
	Field   string `json:"field"`
}

// ObjectTruth is a non-map structure (noise).
type ObjectTruth struct {
	Name          string `json:"name"`
	Root          string `json:"root"`
	RootKind      string `json:"root_kind"`
	Type          string `json:"type"`
	Address       string `json:"address"` // address of the backing array
	Len           int    `json:"len"`
	RetainedBytes int64  `json:"retained_bytes"`
}

// MemStatsTruth: runtime.MemStats fields under their Go names, taken after
// runtime.GC() just before truth.json was written.
type MemStatsTruth struct {
	Alloc, TotalAlloc, Sys, Mallocs, Frees                             uint64
	HeapAlloc, HeapSys, HeapIdle, HeapInuse, HeapReleased, HeapObjects uint64
	StackInuse, StackSys, MSpanInuse, MSpanSys, MCacheInuse, MCacheSys uint64
	BuckHashSys, GCSys, OtherSys, NextGC                               uint64
	NumGC, NumForcedGC                                                 uint32
	BySize                                                             []BySizeTruth
}

// BySizeTruth is one size class of MemStats.BySize (classes with no
// allocations are left out).
type BySizeTruth struct {
	Size    uint32
	Mallocs uint64
	Frees   uint64
}

func memStatsTruth(m *runtime.MemStats) MemStatsTruth {
	t := MemStatsTruth{
		Alloc: m.Alloc, TotalAlloc: m.TotalAlloc, Sys: m.Sys, Mallocs: m.Mallocs, Frees: m.Frees,
		HeapAlloc: m.HeapAlloc, HeapSys: m.HeapSys, HeapIdle: m.HeapIdle, HeapInuse: m.HeapInuse,
		HeapReleased: m.HeapReleased, HeapObjects: m.HeapObjects,
		StackInuse: m.StackInuse, StackSys: m.StackSys, MSpanInuse: m.MSpanInuse, MSpanSys: m.MSpanSys,
		MCacheInuse: m.MCacheInuse, MCacheSys: m.MCacheSys,
		BuckHashSys: m.BuckHashSys, GCSys: m.GCSys, OtherSys: m.OtherSys, NextGC: m.NextGC,
		NumGC: m.NumGC, NumForcedGC: m.NumForcedGC,
	}
	for _, c := range m.BySize {
		if c.Mallocs != 0 || c.Frees != 0 {
			t.BySize = append(t.BySize, BySizeTruth{Size: c.Size, Mallocs: c.Mallocs, Frees: c.Frees})
		}
	}
	return t
}

// msScratch is a global so that ReadMemStats never needs a heap-allocated
// MemStats inside a measurement.
var msScratch runtime.MemStats

// gc collects twice: the first GC moves sync.Pool contents to the victim
// cache, the second drops them, so pooled temporaries (fmt, json) never
// count as retained.
func gc() {
	runtime.GC()
	runtime.GC()
}

// measure returns the HeapAlloc delta across build (see retainedMethod).
// Measurements nest: a family measures its first members one by one inside
// its own measurement.
func measure(build func()) int64 {
	gc()
	runtime.ReadMemStats(&msScratch)
	before := msScratch.HeapAlloc
	build()
	gc()
	runtime.ReadMemStats(&msScratch)
	return int64(msScratch.HeapAlloc) - int64(before)
}

func hexAddr(p uintptr) string { return fmt.Sprintf("%#x", p) }

// describeMap fills the fields every map entry has, and checks that %p
// agrees with the header pointer the inspector read.
func describeMap[K comparable, V any](name, shape, root, rootKind string, m map[K]V, retained int64) MapTruth {
	t := MapTruth{
		Name: name, Shape: shape, Root: root, RootKind: rootKind, Kind: "map",
		Type: fmt.Sprintf("%T", m), Address: fmt.Sprintf("%p", m), Len: len(m),
		RetainedBytes: retained,
	}
	info := inspectMap(m)
	if got := hexAddr(info.addr); got != t.Address {
		fatalf("%s: %%p says %s but the map header pointer is %s", root, t.Address, got)
	}
	t.Header, t.Storage, t.Growing = info.header, info.storage, info.growing
	if !info.consistent {
		fmt.Fprintf(os.Stderr, "mapzoo: warning: %s: walking the storage does not agree with the header (%+v)\n", root, info.storage)
	}
	return t
}

// mapInfo is what the implementation-specific inspector found.
type mapInfo struct {
	addr       uintptr
	header     any
	storage    any
	growing    bool
	consistent bool // live slots counted from control bytes / tophash == len
}
