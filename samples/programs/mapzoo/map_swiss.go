//go:build goexperiment.swissmap || go1.26

package main

import "unsafe"

// Swiss-table maps (internal/runtime/maps.Map): Go 1.24+ (the only map from
// Go 1.26). Growth replaces or splits a table at once: there is no
// incremental evacuation, so growing is always false.

const mapImplementation = "swiss"

const (
	groupSlots  = 8
	ctrlEmpty   = 0x80
	ctrlDeleted = 0xFE
	// Bound on directory entries and groups per table we read.
	maxDirLen     = 1 << 24
	maxTableGroup = 1 << 20
	// Tables listed one by one in truth.json (the rest only in totals).
	maxTablesListed = 16
)

// swissMapMirror mirrors internal/runtime/maps.Map (Go 1.24-1.27, 48 bytes;
// tombstonePossible sits in what was padding in 1.24).
type swissMapMirror struct {
	used              uint64
	seed              uintptr
	dirPtr            unsafe.Pointer
	dirLen            int
	globalDepth       uint8
	globalShift       uint8
	writing           uint8
	tombstonePossible bool
	clearSeq          uint64
}

// swissTableMirror mirrors internal/runtime/maps.table (32 bytes).
type swissTableMirror struct {
	used       uint16
	capacity   uint16
	growthLeft uint16
	localDepth uint8
	index      int
	groupsData unsafe.Pointer
	lengthMask uint64
}

// SwissHeader is internal/runtime/maps.Map as read from memory.
type SwissHeader struct {
	Impl              string `json:"impl"` // "swiss"
	Used              uint64 `json:"used"`
	DirPtr            string `json:"dirPtr"`
	DirLen            int    `json:"dirLen"`
	GlobalDepth       uint8  `json:"globalDepth"`
	GlobalShift       uint8  `json:"globalShift"`
	Writing           uint8  `json:"writing"`
	TombstonePossible *bool  `json:"tombstonePossible,omitempty"` // Go 1.25+
	ClearSeq          uint64 `json:"clearSeq"`
}

// SwissTable is one distinct table of the directory.
type SwissTable struct {
	Address    string `json:"address"`
	Used       uint16 `json:"used"`
	Capacity   uint16 `json:"capacity"`
	GrowthLeft uint16 `json:"growthLeft"`
	LocalDepth uint8  `json:"localDepth"`
	Index      int    `json:"index"`
	Groups     string `json:"groups"` // groups.data
	LengthMask uint64 `json:"lengthMask"`
	Full       int    `json:"full"`
	Deleted    int    `json:"deleted"`
}

// SwissStorage is what walking the directory, tables and groups found.
type SwissStorage struct {
	GroupSize      uintptr      `json:"group_size"` // 8 control bytes + 8 slots
	Small          bool         `json:"small"`      // dirLen == 0: one group, no table
	Tables         int          `json:"tables"`     // distinct tables (directory entries repeat)
	Groups         int          `json:"groups"`
	Capacity       int          `json:"capacity"` // slots
	Full           int          `json:"full"`
	Deleted        int          `json:"deleted"` // tombstones
	Empty          int          `json:"empty"`
	GrowthLeft     int          `json:"growth_left"`
	IndirectKeys   bool         `json:"indirect_keys"`
	IndirectElems  bool         `json:"indirect_elems"`
	SplitGroup     bool         `json:"split_group"` // GOEXPERIMENT=mapsplitgroup (1.27): keys then elems
	TableList      []SwissTable `json:"table_list,omitempty"`
	TablesUnlisted int          `json:"tables_unlisted,omitempty"`
}

func inspectMap[K comparable, V any](m map[K]V) mapInfo {
	p := mapPointer(m)
	info := mapInfo{addr: uintptr(p), consistent: true}
	if p == nil {
		return info
	}
	mm := (*swissMapMirror)(p)
	hdr := SwissHeader{
		Impl: "swiss", Used: mm.used, DirPtr: ptrString(mm.dirPtr), DirLen: mm.dirLen,
		GlobalDepth: mm.globalDepth, GlobalShift: mm.globalShift, Writing: mm.writing, ClearSeq: mm.clearSeq,
	}
	if hasTombstonePossible {
		v := mm.tombstonePossible
		hdr.TombstonePossible = &v
	}
	l := layoutOf[K, V]()
	st := SwissStorage{GroupSize: groupSize(l), IndirectKeys: l.indirectKey, IndirectElems: l.indirectElem, SplitGroup: splitGroup}
	scanGroups := func(data unsafe.Pointer, n int) (full, deleted, empty int) {
		for g := 0; g < n; g++ {
			ctrl := *(*uint64)(unsafe.Add(data, uintptr(g)*st.GroupSize))
			for j := 0; j < groupSlots; j++ {
				switch c := uint8(ctrl >> (8 * j)); {
				case c&0x80 == 0:
					full++
				case c == ctrlDeleted:
					deleted++
				case c == ctrlEmpty:
					empty++
				}
			}
		}
		return
	}
	if mm.dirLen == 0 {
		if mm.dirPtr != nil {
			st.Small, st.Groups, st.Capacity = true, 1, groupSlots
			st.Full, st.Deleted, st.Empty = scanGroups(mm.dirPtr, 1)
		}
	} else if mm.dirLen > 0 && mm.dirLen <= maxDirLen {
		seen := make(map[unsafe.Pointer]bool)
		for i := 0; i < mm.dirLen; i++ {
			tp := *(*unsafe.Pointer)(unsafe.Add(mm.dirPtr, uintptr(i)*8))
			if tp == nil || seen[tp] {
				continue
			}
			seen[tp] = true
			t := (*swissTableMirror)(tp)
			ng := int(t.lengthMask + 1)
			if ng > maxTableGroup {
				info.consistent = false
				continue
			}
			full, deleted, empty := scanGroups(t.groupsData, ng)
			st.Tables++
			st.Groups += ng
			st.Capacity += int(t.capacity)
			st.Full += full
			st.Deleted += deleted
			st.Empty += empty
			st.GrowthLeft += int(t.growthLeft)
			if full != int(t.used) || ng*groupSlots != int(t.capacity) {
				info.consistent = false
			}
			if len(st.TableList) < maxTablesListed {
				st.TableList = append(st.TableList, SwissTable{
					Address: ptrString(tp), Used: t.used, Capacity: t.capacity, GrowthLeft: t.growthLeft,
					LocalDepth: t.localDepth, Index: t.index, Groups: ptrString(t.groupsData),
					LengthMask: t.lengthMask, Full: full, Deleted: deleted,
				})
			} else {
				st.TablesUnlisted++
			}
		}
	}
	info.header, info.storage = hdr, st
	if uint64(st.Full) != mm.used || mm.used != uint64(len(m)) {
		info.consistent = false
	}
	return info
}

// groupSize follows cmd/compile/internal/reflectdata.MapGroupType.
func groupSize(l slotLayout) uintptr {
	maxAlign := uintptr(8)
	if splitGroup {
		// struct { ctrl uint64; keys [8]K; elems [8]V }
		elemsOff := alignUp(8+groupSlots*l.keySize, l.elemAlign)
		return alignUp(elemsOff+groupSlots*l.elemSize, maxAlign)
	}
	// struct { ctrl uint64; slots [8]struct{ key K; elem V } }
	slotAlign := l.keyAlign
	if l.elemAlign > slotAlign {
		slotAlign = l.elemAlign
	}
	slot := alignUp(alignUp(l.keySize, l.elemAlign)+l.elemSize, slotAlign)
	return alignUp(8+groupSlots*slot, maxAlign)
}

// mapGrowing: Swiss maps never grow incrementally.
func mapGrowing[K comparable, V any](m map[K]V) bool { return false }
