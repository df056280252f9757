//go:build !goexperiment.swissmap && !go1.26

package main

import "unsafe"

// The classic hash map (runtime.hmap + buckets): Go 1.21-1.23, and 1.24/1.25
// built with GOEXPERIMENT=noswissmap. Go 1.26 removed it.

const mapImplementation = "classic"

const (
	bucketCnt      = 8
	tophashEmpty   = 0 // emptyRest
	tophashDeleted = 1 // emptyOne
	minTopHash     = 5 // tophash >= 5: a live entry; 2..4: evacuated
	sameSizeGrow   = 8 // hmap.flags bit
	// Bound on overflow chains we follow: a real chain is short.
	maxChain = 1 << 20
)

// ClassicHeader is runtime.hmap as read from memory.
type ClassicHeader struct {
	Impl       string  `json:"impl"` // "classic"
	Count      int     `json:"count"`
	Flags      uint8   `json:"flags"`
	B          uint8   `json:"B"`
	NOverflow  uint16  `json:"noverflow"`
	Hash0      uint32  `json:"hash0"`
	Buckets    string  `json:"buckets"`
	OldBuckets string  `json:"oldbuckets"`
	NEvacuate  uint64  `json:"nevacuate"`
	ClearSeq   *uint64 `json:"clearSeq,omitempty"` // Go 1.24/1.25 noswissmap only
	Extra      string  `json:"extra"`
}

// ClassicStorage is what walking the bucket arrays found.
type ClassicStorage struct {
	BucketSize          uintptr `json:"bucket_size"` // bytes per bucket (8 tophash, 8 keys, 8 elems, overflow ptr)
	Buckets             int     `json:"buckets"`     // 2^B
	OverflowBuckets     int     `json:"overflow_buckets"`
	OldBuckets          int     `json:"old_buckets"` // 0 unless growing
	OldOverflowBuckets  int     `json:"old_overflow_buckets"`
	EvacuatedOldBuckets int     `json:"evacuated_old_buckets"`
	LiveSlots           int     `json:"live_slots"`  // tophash >= minTopHash, new and old arrays
	EmptySlots          int     `json:"empty_slots"` // tophash 0 or 1, new and not-yet-evacuated old
	IndirectKeys        bool    `json:"indirect_keys"`
	IndirectElems       bool    `json:"indirect_elems"`
}

func inspectMap[K comparable, V any](m map[K]V) mapInfo {
	p := mapPointer(m)
	info := mapInfo{addr: uintptr(p), consistent: true}
	if p == nil {
		return info
	}
	h := (*hmapMirror)(p)
	hdr := ClassicHeader{
		Impl: "classic", Count: h.count, Flags: h.flags, B: h.B, NOverflow: h.noverflow, Hash0: h.hash0,
		Buckets: ptrString(h.buckets), OldBuckets: ptrString(h.oldbuckets), NEvacuate: uint64(h.nevacuate),
		ClearSeq: h.clearSeqPtr(), Extra: ptrString(h.extra),
	}
	l := layoutOf[K, V]()
	keysOff := uintptr(bucketCnt)
	elemsOff := alignUp(keysOff+bucketCnt*l.keySize, l.elemAlign)
	overflowOff := alignUp(elemsOff+bucketCnt*l.elemSize, 8)
	st := ClassicStorage{
		BucketSize: overflowOff + 8, Buckets: 1 << h.B,
		IndirectKeys: l.indirectKey, IndirectElems: l.indirectElem,
	}
	walk := func(array unsafe.Pointer, n int, old bool) {
		for i := 0; i < n; i++ {
			b := unsafe.Add(array, uintptr(i)*st.BucketSize)
			if old {
				if th := *(*uint8)(b); th > tophashDeleted && th < minTopHash {
					st.EvacuatedOldBuckets++
				}
			}
			for steps := 0; b != nil && steps < maxChain; steps++ {
				if steps > 0 {
					if old {
						st.OldOverflowBuckets++
					} else {
						st.OverflowBuckets++
					}
				}
				for j := uintptr(0); j < bucketCnt; j++ {
					th := *(*uint8)(unsafe.Add(b, j))
					switch {
					case th >= minTopHash:
						st.LiveSlots++
					case th <= tophashDeleted:
						st.EmptySlots++
					}
				}
				b = *(*unsafe.Pointer)(unsafe.Add(b, overflowOff))
			}
		}
	}
	if h.buckets != nil {
		walk(h.buckets, st.Buckets, false)
	}
	if h.oldbuckets != nil {
		st.OldBuckets = st.Buckets / 2
		if h.flags&sameSizeGrow != 0 {
			st.OldBuckets = st.Buckets
		}
		walk(h.oldbuckets, st.OldBuckets, true)
		info.growing = true
	}
	info.header, info.storage = hdr, st
	info.consistent = st.LiveSlots == h.count
	return info
}

// mapGrowing reports whether an incremental evacuation is in progress.
func mapGrowing[K comparable, V any](m map[K]V) bool {
	p := mapPointer(m)
	return p != nil && (*hmapMirror)(p).oldbuckets != nil
}
