// Command mapzoo is mapscope's sample program: it builds every map shape the
// product is about (see shapes.go), records the ground truth about each map in
// truth.json, writes its own heap profile, and then dies the way a production
// incident is captured: SIGABRT under GOTRACEBACK=crash (kernel core), or it
// waits to be dumped by gdb's gcore.
//
// It owns nothing in mapscope itself; mapscope's tests compare their numbers
// against the files this program writes. Standard library only; builds with
// Go 1.21 through 1.27.
//
// Usage:
//
//	mapzoo [-rate N] [-scale N] [-noise-mb N] [-mode abort|wait|exit] [-out DIR]
//
// Protocol with scripts/gen-samples.sh: after writing heap.pb.gz, heap.txt and
// truth.json into -out, mapzoo prints "READY" on stdout. In abort mode it then
// waits for SIGUSR1 (so the script can copy /proc/PID/maps and smaps of the
// live process first) and sends itself SIGABRT. In wait mode it sleeps until
// killed (the script runs gcore). In exit mode it exits 0.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const defaultMemProfileRate = 512 * 1024

func main() {
	// First statement: set the sampling rate before the program allocates
	// anything, so every allocation below is sampled at this rate.
	// rateFromArgs does not allocate on the success path.
	runtime.MemProfileRate = rateFromArgs(os.Args)
	if runtime.MemProfileRate != defaultMemProfileRate {
		resetProfileSampler()
	}

	rate := flag.Int("rate", defaultMemProfileRate, "runtime.MemProfileRate (applied before any allocation)")
	scale := flag.Int("scale", 1, "multiply every entry count by N (benchmarks use large N)")
	noiseMB := flag.Int("noise-mb", 2, "size of the non-map noise buffer in MiB")
	mode := flag.String("mode", "abort", "after READY: abort (SIGABRT self after SIGUSR1), wait (sleep for gcore), exit")
	outDir := flag.String("out", ".", "directory for heap.pb.gz, heap.txt and truth.json")
	timeout := flag.Duration("timeout", 10*time.Minute, "abort/wait modes: exit with status 3 if nothing happens for this long")
	flag.Parse()
	if *rate != runtime.MemProfileRate {
		fatalf("internal: -rate parsed as %d but applied %d", *rate, runtime.MemProfileRate)
	}
	if *scale < 1 {
		fatalf("-scale must be >= 1, got %d", *scale)
	}
	if *mode != "abort" && *mode != "wait" && *mode != "exit" {
		fatalf("-mode must be abort, wait or exit, got %q", *mode)
	}

	// Set up before the maps exist so that its goroutine and channel are part
	// of the baseline, not of any map's retained bytes.
	goAhead := make(chan os.Signal, 1)
	signal.Notify(goAhead, syscall.SIGUSR1)
	giveUp := time.NewTimer(*timeout)

	truth := &Truth{
		Schema:            1,
		Program:           "mapzoo",
		GoVersion:         runtime.Version(),
		GOOS:              runtime.GOOS,
		GOARCH:            runtime.GOARCH,
		GoExperiment:      buildSetting("GOEXPERIMENT"),
		MapImplementation: mapImplementation,
		SyncMapImpl:       syncMapImplementation,
		MemProfileRate:    runtime.MemProfileRate,
		Scale:             *scale,
		NoiseMB:           *noiseMB,
		Mode:              *mode,
		Pid:               os.Getpid(),
		RetainedMethod:    retainedMethod,
		RootConvention:    rootConvention,
	}
	if exe, err := os.Executable(); err == nil {
		truth.Executable = exe
	}
	truth.Goroutines = append(truth.Goroutines, GoroutineTruth{
		ID: currentGoroutineID(), Function: "main.main", Role: "main goroutine; sends SIGABRT to the process",
	})

	buildAll(truth, *scale, *noiseMB)

	// Heap profiles, as /debug/pprof/heap would serve them right now.
	gc()
	writeFile(*outDir, "heap.pb.gz", func(f *os.File) error { return pprof.WriteHeapProfile(f) })
	writeFile(*outDir, "heap.txt", func(f *os.File) error { return pprof.Lookup("heap").WriteTo(f, 1) })

	// Runtime statistics as close to the crash as possible: nothing but the
	// truth.json encoding (garbage, collected by the gc() below) happens
	// between here and the signal. encoding/json keeps per-type encoders in
	// a process-wide cache, so encode once first: the cache then exists
	// before HeapAlloc is read instead of appearing after it.
	if _, err := json.MarshalIndent(truth, "", "  "); err != nil {
		fatalf("encoding truth: %v", err)
	}
	gc()
	runtime.ReadMemStats(&msFinal)
	truth.MemStats = memStatsTruth(&msFinal)
	truth.CapturedAt = time.Now().UTC().Format(time.RFC3339Nano)
	buf, err := json.MarshalIndent(truth, "", "  ")
	if err != nil {
		fatalf("encoding truth: %v", err)
	}
	writeFile(*outDir, "truth.json", func(f *os.File) error { _, err := f.Write(append(buf, '\n')); return err })
	buf = nil
	gc()

	os.Stdout.WriteString("READY\n")

	switch *mode {
	case "exit":
		return
	case "wait":
		<-giveUp.C
		runtime.KeepAlive(truth)
		os.Exit(3)
	case "abort":
		select {
		case <-goAhead:
		case <-giveUp.C:
			os.Exit(3)
		}
		// truth was live when msFinal was read: keep it so, or the final
		// gc() above would have made the core's heap smaller than recorded.
		runtime.KeepAlive(truth)
		// GOTRACEBACK=crash: the runtime prints every goroutine on stderr
		// and re-raises SIGABRT with the default action, which dumps core.
		syscall.Kill(os.Getpid(), syscall.SIGABRT)
		for {
			// Not select{}: a goroutine blocked forever could trip the
			// deadlock detector before the signal lands.
			time.Sleep(time.Hour)
		}
	}
}

// msFinal is a global so that ReadMemStats never allocates it on the heap.
var msFinal runtime.MemStats

// rateFromArgs finds -rate N / -rate=N (one or two dashes) without allocating.
func rateFromArgs(args []string) int {
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			break
		}
		if len(a) > 1 && a[0] == '-' && a[1] == '-' {
			a = a[1:]
		}
		var v string
		switch {
		case a == "-rate" && i+1 < len(args):
			v = args[i+1]
		case len(a) > 6 && a[:6] == "-rate=":
			v = a[6:]
		default:
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fatalf("-rate wants a non-negative integer, got %q", v)
		}
		return n
	}
	return defaultMemProfileRate
}

func buildSetting(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// writeFile writes name in dir through a temporary file and a rename, so a
// reader never sees a half-written file.
func writeFile(dir, name string, write func(*os.File) error) {
	final := filepath.Join(dir, name)
	tmp := final + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		fatalf("%v", err)
	}
	if err := write(f); err != nil {
		fatalf("writing %s: %v", tmp, err)
	}
	if err := f.Close(); err != nil {
		fatalf("closing %s: %v", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mapzoo: "+format+"\n", args...)
	os.Exit(2)
}

// currentGoroutineID parses "goroutine N [" from the calling goroutine's own
// traceback header; the runtime offers no other public way.
func currentGoroutineID() int64 {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	s := string(buf[:n])
	s = strings.TrimPrefix(s, "goroutine ")
	if i := strings.IndexByte(s, ' '); i > 0 {
		if id, err := strconv.ParseInt(s[:i], 10, 64); err == nil {
			return id
		}
	}
	return -1
}
