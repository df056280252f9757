package main

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// The value types. They live in package main so %T prints main.Session etc.

// Session is a pointed-to struct value with string fields.
type Session struct {
	ID         int64
	User       string
	Token      string
	RemoteAddr string
	Created    time.Time
	Hits       int64
}

// Job is the value of the map that is filled and then mostly emptied.
type Job struct {
	ID       int64
	Owner    string
	Attempts int
	Deadline int64
}

// Registry is a heap object whose pointer field holds a map.
type Registry struct {
	Name      string
	Region    string
	endpoints map[string]*Endpoint
	Created   time.Time
}

// Endpoint is a registry entry.
type Endpoint struct {
	Name    string
	URL     string
	Weight  int
	Healthy bool
	Labels  []string
}

// Blob is 248 bytes: more than 128, so both map implementations store it
// indirectly (a pointer in the slot, the value in its own allocation).
type Blob struct {
	Header   [4]uint64
	Data     [24]uint64
	Checksum uint64
	Owner    string
}

// FlowKey is a multi-field struct key (56 bytes, with a string).
type FlowKey struct {
	Src, Dst         [16]byte
	SrcPort, DstPort uint16
	Proto            uint8
	Tenant           string
}

// FlowStat is FlowKey's value.
type FlowStat struct {
	Packets, Bytes uint64
	LastSeen       int64
}

// Token is the value stored in the sync.Map.
type Token struct {
	User    string
	Expires time.Time
	Scopes  []string
}

// The roots. Every map below is reachable from exactly one of these (or from
// the stack of main.stackOnlyWorker).
var (
	sessionsByID  map[int64]*Session
	tenantConfigs map[string]map[string]int
	pendingJobs   map[int64]*Job
	registry      *Registry
	blobCache     map[string]Blob
	eventsByTime  map[time.Time]int64
	flowStats     map[FlowKey]FlowStat
	tokenCache    sync.Map
	smallMaps     []map[string]int
	growingIndex  map[uint64]uint64
	noiseBuffer   []byte
	blockForever  chan struct{}
)

// Entry counts at -scale 1 (each is multiplied by the scale).
const (
	nSessions        = 3000
	nTenants         = 40
	nTenantKeys      = 200
	nJobsInserted    = 20000
	nJobsKept        = 100
	nEndpoints       = 800
	nBlobs           = 1000
	nEvents          = 5000
	nFlows           = 3000
	nTokens          = 1500
	nSmallMaps       = 2000
	nGrowingAtLeast  = 4000
	nStackEntries    = 2000
	nChildrenMeasure = 8 // family members measured and listed one by one
)

var baseTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func buildAll(t *Truth, scale, noiseMB int) {
	t.Maps = append(t.Maps, buildSessions(scale))
	t.Maps = append(t.Maps, buildTenantConfigs(scale))
	t.Maps = append(t.Maps, buildPendingJobs(scale))
	t.Maps = append(t.Maps, buildRegistry(scale))
	t.Maps = append(t.Maps, buildBlobCache(scale))
	t.Maps = append(t.Maps, buildEventsByTime(scale))
	t.Maps = append(t.Maps, buildFlowStats(scale))
	t.Maps = append(t.Maps, buildTokenCache(scale))
	t.Maps = append(t.Maps, buildSmallMaps(scale))
	t.Maps = append(t.Maps, buildGrowingIndex(scale))
	t.Maps = append(t.Maps, buildLoader(scale)...)
	m, g := buildStackOnly(scale)
	t.Maps = append(t.Maps, m)
	t.Goroutines = append(t.Goroutines, g)
	t.Others = append(t.Others, buildNoise(noiseMB))
	if extraRootsEnabled() {
		buildExtraRoots(t, scale)
	}
}

func buildSessions(scale int) MapTruth {
	n := nSessions * scale
	retained := measure(func() {
		sessionsByID = make(map[int64]*Session)
		for i := 0; i < n; i++ {
			id := int64(1_000_000 + 7*i)
			sessionsByID[id] = &Session{
				ID: id, User: key("user-", i, 6), Token: hexToken(uint64(i), 32),
				RemoteAddr: ipPort(uint64(i)), Created: baseTime.Add(time.Duration(i) * time.Second),
			}
		}
	})
	return describeMap("sessions", "map of pointers to structs with string fields",
		"main.sessionsByID", "global", sessionsByID, retained)
}

func buildTenantConfigs(scale int) MapTruth {
	n := nTenants * scale
	// Members measured one by one are remembered in stack arrays: their
	// truth records are made after the family's own measurement, so that
	// they do not count as retained by the family.
	var measured [nChildrenMeasure]map[string]int
	var measuredRetained [nChildrenMeasure]int64
	membersLen := 0
	retained := measure(func() {
		// Sized up front: the outer map never grows, so the bytes measured
		// around one member belong to that member.
		tenantConfigs = make(map[string]map[string]int, n)
		for i := 0; i < n; i++ {
			build := func() map[string]int {
				inner := make(map[string]int)
				for j := 0; j < nTenantKeys; j++ {
					inner[key("feature.flag."+strconv.Itoa(i)+".", j, 6)] = i*nTenantKeys + j
				}
				return inner
			}
			var inner map[string]int
			if i < nChildrenMeasure {
				measuredRetained[i] = measure(func() { inner = build() })
				measured[i] = inner
			} else {
				inner = build()
			}
			tenantConfigs[key("tenant-", i, 4)] = inner
			membersLen += len(inner)
		}
	})
	t := describeMap("tenantConfigs", "map of maps (family)", "main.tenantConfigs", "global", tenantConfigs, retained)
	t.Kind = "map-family"
	t.MembersTotalLen = membersLen
	for i := 0; i < nChildrenMeasure && i < n; i++ {
		c := describeMap("tenantConfigs.member", "member of a map of maps",
			"main.tenantConfigs[*]", "heap", measured[i], measuredRetained[i])
		c.MemberKey = key("tenant-", i, 4)
		t.Children = append(t.Children, c)
	}
	t.ChildrenListed = len(t.Children)
	return t
}

func buildPendingJobs(scale int) MapTruth {
	n, keep := nJobsInserted*scale, nJobsKept*scale
	every := n / keep
	retained := measure(func() {
		pendingJobs = make(map[int64]*Job)
		for i := 0; i < n; i++ {
			pendingJobs[int64(i)] = &Job{ID: int64(i), Owner: key("owner-", i%97, 3), Deadline: int64(i) * 1000}
		}
		for i := 0; i < n; i++ {
			if i%every != 0 {
				delete(pendingJobs, int64(i))
			}
		}
	})
	t := describeMap("pendingJobs", "filled then mostly deleted: never shrinks (tombstones in Swiss tables)",
		"main.pendingJobs", "global", pendingJobs, retained)
	t.Inserted, t.Deleted = n, n-len(pendingJobs)
	return t
}

func buildRegistry(scale int) MapTruth {
	n := nEndpoints * scale
	// The holder exists before the measurement: only the map is measured.
	registry = &Registry{Name: "edge-registry", Region: "eu-west-1", Created: baseTime}
	retained := measure(func() {
		eps := make(map[string]*Endpoint)
		tiers := []string{"gold", "silver", "bronze"}
		for i := 0; i < n; i++ {
			name := key("svc-", i, 5)
			eps[name] = &Endpoint{
				Name: name, URL: "https://" + name + ".internal.example:8443/v1",
				Weight: i % 10, Healthy: i%13 != 0, Labels: []string{"zone-a", tiers[i%3]},
			}
		}
		registry.endpoints = eps
	})
	t := describeMap("registryEndpoints", "map reached only through a pointer field of a heap struct",
		"main.registry.endpoints", "heap", registry.endpoints, retained)
	t.Holder = &HolderTruth{Root: "main.registry", Type: fmt.Sprintf("%T", registry), Address: fmt.Sprintf("%p", registry), Field: "endpoints"}
	return t
}

func buildBlobCache(scale int) MapTruth {
	n := nBlobs * scale
	retained := measure(func() {
		blobCache = make(map[string]Blob)
		for i := 0; i < n; i++ {
			var b Blob
			s := uint64(i)*0x9E3779B97F4A7C15 + 1
			for j := range b.Data {
				s = xorshift(s)
				b.Data[j] = s
			}
			b.Header = [4]uint64{uint64(i), 248, 1, 0}
			b.Checksum = s
			b.Owner = "team-storage"
			blobCache["blob/sha256/"+hexToken(uint64(i)+77, 16)] = b
		}
	})
	return describeMap("blobCache", "big values (248 B > 128 B: stored indirectly)",
		"main.blobCache", "global", blobCache, retained)
}

func buildEventsByTime(scale int) MapTruth {
	n := nEvents * scale
	retained := measure(func() {
		eventsByTime = make(map[time.Time]int64)
		for i := 0; i < n; i++ {
			eventsByTime[baseTime.Add(time.Duration(i)*1500*time.Millisecond)] = int64(i)
		}
	})
	return describeMap("eventsByTime", "time.Time keys (24 B, with a *Location)",
		"main.eventsByTime", "global", eventsByTime, retained)
}

func buildFlowStats(scale int) MapTruth {
	n := nFlows * scale
	retained := measure(func() {
		tenants := []string{key("tenant-a-", 1, 4), key("tenant-b-", 2, 4), key("tenant-c-", 3, 4), key("tenant-d-", 4, 4)}
		flowStats = make(map[FlowKey]FlowStat)
		s := uint64(12345)
		for i := 0; i < n; i++ {
			var k FlowKey
			for j := 0; j < 16; j += 8 {
				s = xorshift(s)
				putUint64(k.Src[j:], s)
				s = xorshift(s)
				putUint64(k.Dst[j:], s)
			}
			k.SrcPort, k.DstPort = uint16(1024+i%50000), 443
			k.Proto = 6
			k.Tenant = tenants[i%len(tenants)]
			flowStats[k] = FlowStat{Packets: uint64(i), Bytes: uint64(i) * 1400, LastSeen: int64(i)}
		}
	})
	return describeMap("flowStats", "multi-field struct keys (56 B, with a string)",
		"main.flowStats", "global", flowStats, retained)
}

func buildTokenCache(scale int) MapTruth {
	n := nTokens * scale
	count := 0
	retained := measure(func() {
		for i := 0; i < n; i++ {
			tokenCache.Store("tok_"+hexToken(uint64(i)+999, 24), &Token{
				User: key("user-", i, 6), Expires: baseTime.Add(time.Hour),
				Scopes: []string{"read", "write"},
			})
		}
		// Range inside the measurement: before Go 1.24 it promotes the dirty
		// map to the read map, which allocates the readOnly it keeps.
		tokenCache.Range(func(_, _ any) bool { count++; return true })
	})
	typ := fmt.Sprintf("%T", &tokenCache)[1:] // "sync.Map" (no copy of the lock)
	return MapTruth{
		Name: "tokenCache", Shape: "sync.Map (" + syncMapImplementation + ")",
		Root: "main.tokenCache", RootKind: "global", Kind: "sync.Map", Type: typ,
		Address: fmt.Sprintf("%p", &tokenCache), Len: count, RetainedBytes: retained,
		Header: inspectSyncMap(&tokenCache),
	}
}

func buildSmallMaps(scale int) MapTruth {
	n := nSmallMaps * scale
	var measuredRetained [nChildrenMeasure]int64
	membersLen := 0
	retained := measure(func() {
		smallMaps = make([]map[string]int, n)
		for i := 0; i < n; i++ {
			build := func() map[string]int {
				return map[string]int{"requests": i, "errors": i % 7, "retries": i % 3}
			}
			if i < nChildrenMeasure {
				measuredRetained[i] = measure(func() { smallMaps[i] = build() })
			} else {
				smallMaps[i] = build()
			}
			membersLen += len(smallMaps[i])
		}
	})
	t := MapTruth{
		Name: "smallMaps", Shape: "slice of many small maps (family)",
		Root: "main.smallMaps", RootKind: "global", Kind: "map-family", Type: fmt.Sprintf("%T", smallMaps),
		Address: fmt.Sprintf("%p", smallMaps), Len: len(smallMaps), RetainedBytes: retained,
		MembersTotalLen: membersLen,
	}
	for i := 0; i < nChildrenMeasure && i < n; i++ {
		c := describeMap("smallMaps.member", "member of a slice of small maps",
			"main.smallMaps[*]", "heap", smallMaps[i], measuredRetained[i])
		idx := i
		c.MemberIndex = &idx
		t.Children = append(t.Children, c)
	}
	t.ChildrenListed = len(t.Children)
	return t
}

func buildGrowingIndex(scale int) MapTruth {
	target := nGrowingAtLeast * scale
	limit := 8*target + 1<<16
	inserted := 0
	retained := measure(func() {
		growingIndex = make(map[uint64]uint64)
		s := uint64(0xC0FFEE)
		// Insert at least target entries, then (classic maps) keep going
		// until an insert starts a grow, and stop right there: oldbuckets
		// stays non-nil because only inserts and deletes evacuate.
		for inserted < limit {
			s = xorshift(s)
			growingIndex[s] = uint64(inserted)
			inserted++
			if inserted >= target && (mapImplementation == "swiss" || mapGrowing(growingIndex)) {
				break
			}
		}
	})
	t := describeMap("growingIndex", "map caught mid-growth (classic: oldbuckets != nil; Swiss maps do not grow incrementally)",
		"main.growingIndex", "global", growingIndex, retained)
	t.Inserted = inserted
	if mapImplementation == "classic" && !t.Growing {
		fmt.Printf("mapzoo: warning: growingIndex did not start growing within %d inserts\n", limit)
	}
	return t
}

// workerReport is sent by stackOnlyWorker once its map is built. It holds no
// pointers, so nothing of the map escapes through it.
type workerReport struct {
	goid int64
	addr uintptr
	len  int
}

// stackOnlyWorker builds a map that only its own stack frame refers to, hands
// over what main needs to know, and blocks forever with the map still live.
//
//go:noinline
func stackOnlyWorker(n int, report chan<- workerReport, inspect <-chan chan MapTruth, block <-chan struct{}) {
	m := make(map[string]int64)
	for i := 0; i < n; i++ {
		m[key("stack-order-", i, 8)] = int64(i)
	}
	goid := currentGoroutineID()
	report <- workerReport{goid: goid, addr: uintptr(mapPointer(m)), len: len(m)}
	reply := <-inspect
	reply <- describeMap("stackOnly", "map referenced only from a goroutine's stack frame",
		"goroutine "+strconv.FormatInt(goid, 10)+" main.stackOnlyWorker.m", "goroutine", m, 0)
	<-block
	runtime.KeepAlive(m)
}

func buildStackOnly(scale int) (MapTruth, GoroutineTruth) {
	n := nStackEntries * scale
	report := make(chan workerReport)
	inspect := make(chan chan MapTruth)
	reply := make(chan MapTruth)
	blockForever = make(chan struct{})
	// Let a goroutine exit first so the worker reuses its g (and stack)
	// instead of allocating a new g on the heap inside the measurement.
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	var r workerReport
	retained := measure(func() {
		go stackOnlyWorker(n, report, inspect, blockForever)
		r = <-report
	})
	inspect <- reply
	t := <-reply
	t.RetainedBytes = retained
	if t.Address != hexAddr(r.addr) || t.Len != r.len {
		fatalf("stackOnlyWorker reported %#x len %d, inspection says %s len %d", r.addr, r.len, t.Address, t.Len)
	}
	goid := r.goid
	t.Goroutine, t.Function, t.Local = &goid, "main.stackOnlyWorker", "m"
	g := GoroutineTruth{
		ID: goid, Function: "main.stackOnlyWorker",
		Role: "holds main.stackOnlyWorker.m, a map no global or heap object points to", WaitsOn: "chan receive",
	}
	return t, g
}

func buildNoise(noiseMB int) ObjectTruth {
	retained := measure(func() {
		noiseBuffer = make([]byte, noiseMB<<20)
		// Touched so the pages are resident and in the core; a short period
		// keeps the compressed core small.
		for i := range noiseBuffer {
			noiseBuffer[i] = byte(i*7 + i>>12)
		}
	})
	return ObjectTruth{
		Name: "noiseBuffer", Root: "main.noiseBuffer", RootKind: "global",
		Type: fmt.Sprintf("%T", noiseBuffer), Address: fmt.Sprintf("%p", noiseBuffer),
		Len: len(noiseBuffer), RetainedBytes: retained,
	}
}

// key returns prefix followed by i zero-padded to width digits, as one heap
// allocation.
func key(prefix string, i, width int) string {
	var buf [64]byte
	b := append(buf[:0], prefix...)
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(i), 10)
	for k := len(d); k < width; k++ {
		b = append(b, '0')
	}
	b = append(b, d...)
	return string(b)
}

func xorshift(s uint64) uint64 {
	s ^= s << 13
	s ^= s >> 7
	s ^= s << 17
	return s
}

func hexToken(seed uint64, n int) string {
	const hexdigits = "0123456789abcdef"
	var buf [64]byte
	s := seed*0x9E3779B97F4A7C15 + 0xDEADBEEF
	for i := 0; i < n && i < len(buf); i++ {
		if i%16 == 0 {
			s = xorshift(s)
		}
		buf[i] = hexdigits[(s>>(4*(i%16)))&15]
	}
	return string(buf[:n])
}

func ipPort(i uint64) string {
	var buf [32]byte
	b := append(buf[:0], "10."...)
	b = strconv.AppendUint(b, (i>>16)&255, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, (i>>8)&255, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, i&255, 10)
	b = append(b, ':')
	b = strconv.AppendUint(b, 1024+i%60000, 10)
	return string(b)
}

func putUint64(b []byte, v uint64) {
	for i := 0; i < 8 && i < len(b); i++ {
		b[i] = byte(v >> (8 * i))
	}
}
