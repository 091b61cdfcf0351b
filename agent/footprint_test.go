package agent

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
)

// TestMaxOpenFilesShipsEveryFile: with far more files than
// files.max_open_files, every line of every file is shipped once and in
// order, the files waiting are counted, and no more than the limit are open
// at once.
func TestMaxOpenFilesShipsEveryFile(t *testing.T) {
	tests := []struct {
		name         string
		files, lines int
		max          int
	}{
		{name: "10,000 small files, 256 open", files: 10_000, lines: 2, max: 256},
		{name: "200 files, 1 open", files: 200, lines: 20, max: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && tt.files > 1000 {
				t.Skip("10,000 files: not in -short")
			}
			if raceEnabled && tt.files > 1000 {
				tt.files = 2000 // the race detector makes each file ~10 times slower
			}
			brokers := newFakeKafka(t)
			dir := t.TempDir()
			var paths []string
			for i := range tt.files {
				p := filepath.Join(dir, fmt.Sprintf("app-%05d.log", i))
				appendLines(t, p, 0, tt.lines)
				paths = append(paths, p)
			}
			cfg := testConfig(t, brokers, t.TempDir())
			cfg.Files.MaxOpenFiles = tt.max
			cfg.Files.ScanFrequency = Duration(time.Second)
			ra := startAgent(t, cfg, nil, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "many", StartPosition: "beginning"})

			task := filepath.Join(dir, "*.log")
			open := ra.m.FilesOpen.WithLabelValues(task, "many")
			peak := 0.0
			want := tt.files * tt.lines
			deadline := time.Now().Add(3 * time.Minute)
			for testutil.ToFloat64(ra.m.RecordsSent.WithLabelValues(task, "many")) < float64(want) {
				require.True(t, time.Now().Before(deadline), "%v of %d lines shipped", testutil.ToFloat64(ra.m.RecordsSent.WithLabelValues(task, "many")), want)
				peak = max(peak, testutil.ToFloat64(open))
				time.Sleep(10 * time.Millisecond)
			}
			require.LessOrEqual(t, peak, float64(tt.max), "open files above max_open_files")
			require.Positive(t, testutil.ToFloat64(ra.m.HarvesterLimitReached), "the limit was reached and counted")

			recs := consumeN(t, brokers, "many", want, time.Minute)
			require.Len(t, recs, want, "every line once")
			byFile := messagesByFile(t, recs)
			for _, p := range paths {
				require.Equal(t, wantLines(p, 0, tt.lines), byFile[p], "file %s: every line once, in order", p)
			}
			require.Eventually(t, func() bool { return testutil.ToFloat64(ra.m.FilesWaiting) == 0 }, 30*time.Second, 10*time.Millisecond)
		})
	}
}

// TestIdleFilesHoldNoReadBuffer: files read to their end and still open hold
// no read buffer: buffers are lent per read pass, not per open file.
func TestIdleFilesHoldNoReadBuffer(t *testing.T) {
	const files, lines = 50, 100
	dir := t.TempDir()
	for i := range files {
		appendLines(t, filepath.Join(dir, fmt.Sprintf("app-%02d.log", i)), 0, lines)
	}
	fp := &fakeProducer{}
	task := filepath.Join(dir, "*.log")
	ra := startAgent(t, fakeConfig(t), fp, collect.Task{Path: task, Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, files*lines)
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(ra.m.FilesOpen.WithLabelValues(task, "t")) == files && readBuffersInUse.Load() == 0
	}, 30*time.Second, 10*time.Millisecond, "files open: %v, read buffers in use: %d",
		testutil.ToFloat64(ra.m.FilesOpen.WithLabelValues(task, "t")), readBuffersInUse.Load())

	// A file that grows again is read with a buffer, then gives it back.
	appendLines(t, filepath.Join(dir, "app-07.log"), lines, lines+10)
	fp.waitFor(t, files*lines+10)
	require.Eventually(t, func() bool { return readBuffersInUse.Load() == 0 }, 30*time.Second, 10*time.Millisecond)
}

// stacksChildEnv, set, makes TestIdleFileStacks measure in this process.
const stacksChildEnv = "LOGCOLLECT_TEST_STACKS_CHILD"

// TestIdleFileStacks: an open file that is not being read costs two
// goroutines with the least stack the runtime gives (2 KiB): its harvester,
// which only waits (its work runs on the read slots' workers), and
// nxadm/tail's pump. Their stacks are most of the memory per open file
// (issue 21: 8.9 KiB). A deeper call or an allocation on the harvester's
// waiting chain (harvester.run, readSlots.run, harvester.wait) grows its
// stack to 4 KiB for good, as it did before; this test then fails.
//
// It measures in a process of its own (this test binary again): in the
// suite's process, the stacks that earlier tests' goroutines freed are
// reused by this one's, and the goroutines still ending move the count.
func TestIdleFileStacks(t *testing.T) {
	if os.Getenv(stacksChildEnv) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestIdleFileStacks$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), stacksChildEnv+"=1")
		out, err := cmd.CombinedOutput()
		t.Logf("measured in its own process:\n%s", out)
		require.NoError(t, err, "the measuring process failed")
		return
	}
	const base, more, lines = 10, 600, 10
	dir := t.TempDir()
	add := func(from, to int) {
		for i := from; i < to; i++ {
			appendLines(t, filepath.Join(dir, fmt.Sprintf("app-%03d.log", i)), 0, lines)
		}
	}
	fp := &fakeProducer{}
	task := filepath.Join(dir, "*.log")
	cfg := fakeConfig(t)
	cfg.Files.ScanFrequency = Duration(100 * time.Millisecond)
	ra := startAgent(t, cfg, fp, collect.Task{Path: task, Topic: "t", StartPosition: "beginning"})
	idle := func(files int) (stacks uint64, goroutines int) {
		t.Helper()
		fp.waitFor(t, files*lines)
		require.Eventually(t, func() bool {
			return testutil.ToFloat64(ra.m.FilesOpen.WithLabelValues(task, "t")) == float64(files) && readBuffersInUse.Load() == 0
		}, 30*time.Second, 10*time.Millisecond)
		time.Sleep(200 * time.Millisecond) // the last passes' workers end
		runtime.GC()                       // shrinks the stacks that may shrink
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.StackInuse, runtime.NumGoroutine()
	}
	add(0, base)
	s0, g0 := idle(base)
	add(base, base+more)
	s1, g1 := idle(base + more)

	least := 2048.0 // a goroutine's least stack
	if raceEnabled {
		least = 4096 // the race detector doubles the stack guard
	}
	perFile := float64(s1-s0) / more
	t.Logf("%d idle open files more: %.2f goroutines and %.0f bytes of stack each", more, float64(g1-g0)/more, perFile)
	require.InDelta(t, 2, float64(g1-g0)/more, 0.05, "goroutines per open file: its harvester and its pump")
	require.LessOrEqual(t, perFile, 2.5*least, "stack bytes per idle open file: two goroutines of %.0f bytes", least)
}

// TestStreamedLinesReadInFewPasses: lines appended one write each, as an
// application logs, are read in passes at least passGap apart
// (kafka.linger/2) instead of one pass per write (an inotify wake each), and
// every line is shipped once, in order.
func TestStreamedLinesReadInFewPasses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	cfg := fakeConfig(t)
	cfg.Kafka.Linger = Duration(10 * time.Millisecond) // passGap 5 ms
	fp := &fakeProducer{}
	task := collect.Task{Path: path, Topic: "t", StartPosition: "beginning"}
	ra := startAgent(t, cfg, fp, task)
	require.Eventually(t, func() bool { return testutil.ToFloat64(ra.m.FilesOpen.WithLabelValues(path, "t")) == 1 },
		30*time.Second, 5*time.Millisecond, "harvester started")

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	const lines = 2000
	passes, start := readPassCount.Load(), time.Now()
	for i := range lines {
		_, err := fmt.Fprintf(f, "line %d of %s\n", i, filepath.Base(path))
		require.NoError(t, err)
		if i%20 == 19 {
			time.Sleep(time.Millisecond)
		}
	}
	writing := time.Since(start)
	require.Equal(t, wantLines(path, 0, lines), fp.waitFor(t, lines))
	n := readPassCount.Load() - passes
	// One pass per passGap while the writes came, and a few at the edges;
	// without the gap, about one per sleep of the writer (100).
	require.LessOrEqual(t, n, uint64(writing/(5*time.Millisecond))+5, "read passes for %d writes in %s", lines, writing)
	t.Logf("%d writes in %s read in %d passes", lines, writing, n)
}
