// Package profile starts and stops the CPU profile, and writes the heap
// profile, of the benchmark commands that profile a daemon's code path
// (bench/agentprof, bench/transferprof).
package profile

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
)

// CPU starts a CPU profile written to path; stop ends it and closes the file.
func CPU(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// Heap writes a heap profile to path after a GC, so that it shows what is
// live, and the runtime's memory figures (what the heap profile does not
// show: goroutine stacks, memory not yet returned to the system) to
// path + ".txt".
func Heap(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	const kib = 1 << 10
	text := fmt.Sprintf("goroutines %d\nheap in use %d KiB (objects %d)\nstacks in use %d KiB\n"+
		"heap idle %d KiB, released to the system %d KiB\nother runtime memory %d KiB\nsys (all mapped) %d KiB\nGC cycles %d\n",
		runtime.NumGoroutine(), m.HeapInuse/kib, m.HeapObjects, m.StackInuse/kib,
		m.HeapIdle/kib, m.HeapReleased/kib, (m.MSpanInuse+m.MCacheInuse+m.BuckHashSys+m.GCSys+m.OtherSys)/kib, m.Sys/kib, m.NumGC)
	if rss, err := rssSplit(); err == nil {
		text += rss
	}
	return os.WriteFile(path+".txt", []byte(text), 0o644)
}

// rssSplit reads the process's resident memory by kind from
// /proc/self/status: anonymous pages (heap, stacks, runtime) and file pages,
// most of them the binary's own, mapped and touched.
func rssSplit() (string, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", err
	}
	var s strings.Builder
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(line, ":")
		switch k {
		case "VmRSS", "RssAnon", "RssFile", "RssShmem":
			fmt.Fprintf(&s, "%s %s\n", k, strings.TrimSpace(v))
		}
	}
	return s.String(), nil
}
