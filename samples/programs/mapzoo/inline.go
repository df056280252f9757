package main

import "fmt"

// Maps stored inline in one heap object, the way cmd/link's loader holds its
// symbol tables: an array of two maps ([2]map[string]*Symbol, a family), a
// map in a struct-valued field, and a map in an embedded struct (a promoted
// field), next to a large non-map buffer in the same object. The holder is
// allocated before the measurements, so each structure's retained bytes are
// its own maps' and never the holder's: a tool that charges the enclosing
// object to the family is off by the buffer (512 KiB).

// Symbol is the value of the loader's symbol tables.
type Symbol struct {
	Name string
	Size int64
}

// Reporter is embedded in Loader: its map is the promoted field
// main.loader.counts (Go selector syntax; the embedded field is not named).
type Reporter struct {
	counts map[string]int
}

// SymIndex is a struct value (not a pointer) inside Loader.
type SymIndex struct {
	Version int
	byName  map[string]int32
}

// Loader holds maps inline next to big non-map data.
type Loader struct {
	Reporter
	byKind  [2]map[string]*Symbol
	index   SymIndex
	payload [512 << 10]byte
}

var loader *Loader

// Entry counts at -scale 1.
const (
	nTextSyms    = 1500
	nDataSyms    = 500
	nIndexNames  = 1000
	nReportCount = 300
)

func buildLoader(scale int) []MapTruth {
	loader = &Loader{index: SymIndex{Version: 1}}
	// Touched so the buffer's pages are in the core.
	for i := range loader.payload {
		loader.payload[i] = byte(i*13 + i>>9)
	}
	holder := func(field string) *HolderTruth {
		return &HolderTruth{Root: "main.loader", Type: fmt.Sprintf("%T", loader), Address: fmt.Sprintf("%p", loader), Field: field}
	}
	var out []MapTruth

	counts := [2]int{nTextSyms * scale, nDataSyms * scale}
	prefixes := [2]string{"text.sym.", "data.sym."}
	var memberRetained [2]int64
	membersLen := 0
	retained := measure(func() {
		for k := range loader.byKind {
			memberRetained[k] = measure(func() {
				m := make(map[string]*Symbol)
				for i := 0; i < counts[k]; i++ {
					name := key(prefixes[k], i, 6)
					m[name] = &Symbol{Name: name, Size: int64(i)}
				}
				loader.byKind[k] = m
			})
			membersLen += len(loader.byKind[k])
		}
	})
	fam := MapTruth{
		Name: "loaderByKind", Shape: "array of maps inline in a heap struct with a large non-map buffer (family)",
		Root: "main.loader.byKind", RootKind: "heap", Kind: "map-family", Type: fmt.Sprintf("%T", loader.byKind),
		Address: fmt.Sprintf("%p", &loader.byKind), Len: len(loader.byKind), RetainedBytes: retained,
		MembersTotalLen: membersLen, Holder: holder("byKind"),
	}
	for k := range loader.byKind {
		c := describeMap("loaderByKind.member", "member of an array of maps inside a heap struct",
			"main.loader.byKind[*]", "heap", loader.byKind[k], memberRetained[k])
		idx := k
		c.MemberIndex = &idx
		fam.Children = append(fam.Children, c)
	}
	fam.ChildrenListed = len(fam.Children)
	out = append(out, fam)

	retained = measure(func() {
		m := make(map[string]int32)
		for i := 0; i < nIndexNames*scale; i++ {
			m[key("index.name.", i, 6)] = int32(i)
		}
		loader.index.byName = m
	})
	t := describeMap("loaderIndex", "map in a struct-valued field of a heap struct",
		"main.loader.index.byName", "heap", loader.index.byName, retained)
	t.Holder = holder("index.byName")
	out = append(out, t)

	retained = measure(func() {
		m := make(map[string]int)
		for i := 0; i < nReportCount*scale; i++ {
			m[key("report.", i, 5)] = i
		}
		loader.counts = m
	})
	t = describeMap("loaderCounts", "map in an embedded struct of a heap struct (promoted field)",
		"main.loader.counts", "heap", loader.counts, retained)
	t.Holder = holder("Reporter.counts")
	out = append(out, t)
	return out
}
