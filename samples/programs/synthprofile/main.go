// Command synthprofile writes synth.pb.gz, a hand-built pprof profile whose
// shape exercises the corners of `go tool pprof -top`: values at every unit
// boundary (bytes, counts, nanoseconds), ties in flat and cum, negative
// values, recursion, inlined frames, drop_frames pruning, a function
// without a name, locations without lines (with and without a mapping
// file), a zero-valued sample, comments, time and duration.
//
// pprof's output on this file is the truth mapscope's `top` is tested
// against; this program only writes the input. Standard library only; the
// protobuf encoding is done by hand.
//
// Usage: synthprofile OUT.pb.gz
package main

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
)

type buf struct{ bytes.Buffer }

func (b *buf) varint(v uint64) {
	for v >= 0x80 {
		b.WriteByte(byte(v) | 0x80)
		v >>= 7
	}
	b.WriteByte(byte(v))
}
func (b *buf) tag(field, wire int) { b.varint(uint64(field<<3 | wire)) }
func (b *buf) int(field int, v int64) {
	if v != 0 {
		b.tag(field, 0)
		b.varint(uint64(v))
	}
}
func (b *buf) uint(field int, v uint64) {
	if v != 0 {
		b.tag(field, 0)
		b.varint(v)
	}
}
func (b *buf) bytesField(field int, p []byte) {
	b.tag(field, 2)
	b.varint(uint64(len(p)))
	b.Write(p)
}
func (b *buf) msg(field int, f func(*buf)) {
	var m buf
	f(&m)
	b.bytesField(field, m.Bytes())
}

type strtab struct {
	list  []string
	index map[string]int64
}

func (s *strtab) id(v string) int64 {
	if i, ok := s.index[v]; ok {
		return i
	}
	s.index[v] = int64(len(s.list))
	s.list = append(s.list, v)
	return s.index[v]
}

type frame struct {
	fn   string // "" for a function without name
	line int64
}

type location struct {
	id      uint64
	mapping uint64
	addr    uint64
	lines   []frame // innermost first
}

type sample struct {
	locs   []uint64 // leaf first
	values [3]int64 // objects, space, delay
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: synthprofile OUT.pb.gz")
		os.Exit(2)
	}
	st := &strtab{index: map[string]int64{}}
	st.id("")

	// Locations 1..N: one per function, plus special ones.
	var locs []location
	funcs := map[string]uint64{}
	var funcOrder []string
	fid := func(name string) uint64 {
		if id, ok := funcs[name]; ok {
			return id
		}
		funcs[name] = uint64(len(funcOrder) + 1)
		funcOrder = append(funcOrder, name)
		return funcs[name]
	}
	addLoc := func(mapping uint64, lines ...frame) uint64 {
		id := uint64(len(locs) + 1)
		locs = append(locs, location{id: id, mapping: mapping, addr: 0x401000 + id*16, lines: lines})
		for _, l := range lines {
			fid(l.fn)
		}
		return id
	}
	loc := map[string]uint64{}
	named := func(name string) uint64 {
		if id, ok := loc[name]; ok {
			return id
		}
		loc[name] = addLoc(1, frame{name, 10})
		return loc[name]
	}

	root := named("main.main")
	var samples []sample
	// Values at unit boundaries; each its own leaf function.
	byteValues := []int64{1, 7, 1000, 1023, 1024, 1025, 1100, 1536, 5000, 10239, 10240,
		524298, 1048575, 1048576, 1179648, 1572864, 1610612736, 5000000000000, 2000000000000000}
	for i, v := range byteValues {
		leaf := named(fmt.Sprintf("main.bytes%02d", i))
		samples = append(samples, sample{[]uint64{leaf, root}, [3]int64{int64(i + 1), v, v * 3}})
	}
	// Ties: equal flat (names decide), equal flat and cum.
	for _, n := range []string{"main.tieB", "main.tieA", "main.tieC"} {
		samples = append(samples, sample{[]uint64{named(n), root}, [3]int64{3, 4096, 4096}})
	}
	mid := named("main.middle")
	samples = append(samples, sample{[]uint64{named("main.tieA"), mid, root}, [3]int64{1, 4096, 1}})
	// Negative values (as in diff profiles).
	samples = append(samples, sample{[]uint64{named("main.negative"), root}, [3]int64{-2, -2048, -5}})
	// Recursion: a -> b -> a -> b.
	a, b := named("main.recA"), named("main.recB")
	samples = append(samples, sample{[]uint64{a, b, a, b, root}, [3]int64{5, 81920, 10}})
	// Inlining: helper inlined into caller (one location, two lines), and
	// called normally from elsewhere; self-inlining of main.recA.
	inl := addLoc(1, frame{"main.helper", 5}, frame{"main.caller", 20})
	samples = append(samples, sample{[]uint64{inl, root}, [3]int64{4, 65536, 7}})
	samples = append(samples, sample{[]uint64{named("main.helper"), named("main.other"), root}, [3]int64{2, 32768, 3}})
	inl2 := addLoc(1, frame{"main.onlyInlined", 7}, frame{"main.caller", 21})
	samples = append(samples, sample{[]uint64{inl2, root}, [3]int64{1, 16384, 1}})
	// drop_frames: leaf allocator frames are pruned (mid-stack ones too).
	alloc := named("alloc.Malloc")
	samples = append(samples, sample{[]uint64{alloc, named("main.usesAlloc"), root}, [3]int64{6, 12288, 2}})
	samples = append(samples, sample{[]uint64{alloc, named("alloc.Inner")}, [3]int64{1, 999, 1}})
	// A function without a name, a location without lines in a mapped
	// library, a location without lines and without mapping.
	samples = append(samples, sample{[]uint64{addLoc(1, frame{"", 0}), root}, [3]int64{1, 3000, 1}})
	samples = append(samples, sample{[]uint64{addLoc(2), root}, [3]int64{1, 3001, 1}})
	samples = append(samples, sample{[]uint64{addLoc(0), root}, [3]int64{1, 3002, 1}})
	// A zero sample and a sample without locations.
	samples = append(samples, sample{[]uint64{named("main.zero"), root}, [3]int64{0, 0, 0}})
	samples = append(samples, sample{nil, [3]int64{1, 512, 1}})

	var p buf
	types := [][2]string{{"objects", "count"}, {"space", "bytes"}, {"delay", "nanoseconds"}}
	for _, t := range types {
		t := t
		p.msg(1, func(m *buf) { m.int(1, st.id(t[0])); m.int(2, st.id(t[1])) })
	}
	for _, s := range samples {
		s := s
		p.msg(2, func(m *buf) {
			var ids, vals buf
			for _, l := range s.locs {
				ids.varint(l)
			}
			for _, v := range s.values {
				vals.varint(uint64(v))
			}
			if len(s.locs) > 0 {
				m.bytesField(1, ids.Bytes())
			}
			m.bytesField(2, vals.Bytes())
			m.msg(3, func(l *buf) { l.int(1, st.id("bytes")); l.int(3, s.values[1]) })
		})
	}
	p.msg(3, func(m *buf) {
		m.uint(1, 1)
		m.uint(2, 0x400000)
		m.uint(3, 0x500000)
		m.int(5, st.id("/opt/app/bin/synth"))
		m.int(6, st.id("0123456789abcdef0123456789abcdef01234567"))
		m.uint(7, 1)
		m.uint(8, 1)
		m.uint(9, 1)
		m.uint(10, 1)
	})
	p.msg(3, func(m *buf) {
		m.uint(1, 2)
		m.uint(2, 0x7f0000000000)
		m.uint(3, 0x7f0000100000)
		m.int(5, st.id("/usr/lib/x86_64-linux-gnu/libfoo.so.1"))
	})
	for _, l := range locs {
		l := l
		p.msg(4, func(m *buf) {
			m.uint(1, l.id)
			m.uint(2, l.mapping)
			m.uint(3, l.addr)
			for _, f := range l.lines {
				f := f
				m.msg(4, func(ln *buf) { ln.uint(1, funcs[f.fn]); ln.int(2, f.line) })
			}
		})
	}
	for i, name := range funcOrder {
		i, name := i, name
		p.msg(5, func(m *buf) {
			m.uint(1, uint64(i+1))
			m.int(2, st.id(name))
			m.int(3, st.id(name))
			m.int(4, st.id("/src/synth/main.go"))
			m.int(5, int64(100+i))
		})
	}
	dropFrames := st.id(`alloc\..*`)
	keepFrames := st.id(`alloc\.Keep`)
	comment1 := st.id("synthetic profile for mapscope tests")
	comment2 := st.id("# comments starting with # are hidden by pprof")
	periodType, periodUnit := st.id("space"), st.id("bytes")
	for _, s := range st.list {
		p.bytesField(6, []byte(s))
	}
	p.int(7, dropFrames)
	p.int(8, keepFrames)
	p.int(9, 1700000000123456789)
	p.int(10, 30_000_000_000)
	p.msg(11, func(m *buf) { m.int(1, periodType); m.int(2, periodUnit) })
	p.int(12, 524288)
	p.int(13, comment1)
	p.int(13, comment2)

	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(p.Bytes())
	zw.Close()
	if err := os.WriteFile(os.Args[1], out.Bytes(), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
