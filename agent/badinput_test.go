package agent

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
)

// shipped is what the bad-input tests read of a record.
type shipped struct {
	Message string
	Log     struct {
		File  struct{ Path string }
		Flags []string
	}
}

// recordingProducer acknowledges every record and keeps it decoded.
type recordingProducer struct {
	mu   sync.Mutex
	recs []shipped
}

func (p *recordingProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	var s shipped
	err := json.Unmarshal(r.Value, &s)
	p.mu.Lock()
	if err != nil { // the tests fail on it: every record must be valid JSON
		s.Message = "INVALID JSON: " + err.Error()
	}
	p.recs = append(p.recs, s)
	p.mu.Unlock()
	promise(r, nil)
}

// waitFor waits until a record of path has message msg, and returns it.
func (p *recordingProducer) waitFor(t *testing.T, path, msg string) shipped {
	t.Helper()
	var found shipped
	require.Eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, s := range p.recs {
			require.NotContains(t, s.Message, "INVALID JSON")
			if s.Log.File.Path == path && s.Message == msg {
				found = s
				return true
			}
		}
		return false
	}, time.Minute, 10*time.Millisecond, "%s: %.40q not shipped", path, msg)
	return found
}

func (p *recordingProducer) of(path string) []shipped {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []shipped
	for _, s := range p.recs {
		if s.Log.File.Path == path {
			out = append(out, s)
		}
	}
	return out
}

// Lines that are empty, 10 MiB long, invalid UTF-8, with NUL bytes or CRLF
// endings, and a binary file: each is shipped as valid JSON (flagged where
// something was changed), nothing stops, the lines after them flow.
func TestBadLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.log")
	bin := filepath.Join(dir, "binary.log")
	content := "\n" + // 0 bytes
		strings.Repeat("x", 10<<20) + "\n" + // 10 MiB
		"bad \xff\xfe utf-8\n" +
		"nul \x00 byte\n" +
		"crlf line\r\n" +
		"after the bad lines\n"
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	rnd := make([]byte, 1<<20)
	for i := range rnd {
		rnd[i] = byte(rand.N(256))
	}
	require.NoError(t, os.WriteFile(bin, append(rnd, "\nafter the binary\n"...), 0o644))

	rp := &recordingProducer{}
	ra := startAgent(t, fakeConfig(t), rp, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "t", StartPosition: "beginning"})
	rp.waitFor(t, path, "after the bad lines")
	rp.waitFor(t, bin, "after the binary")

	got := rp.of(path)
	require.Len(t, got, 6)
	require.Equal(t, "", got[0].Message, "an empty line is an empty message")
	n := len(got[1].Message)
	require.True(t, n > 800_000 && n <= 1<<20, "cut at max_line_bytes (1 MiB), then to fit Kafka's 1 MB record: %d bytes", n)
	require.Contains(t, got[1].Log.Flags, "truncated")
	require.Equal(t, `bad \xff\xfe utf-8`, got[2].Message)
	require.Contains(t, got[2].Log.Flags, "invalid_utf8")
	require.Equal(t, "nul \x00 byte", got[3].Message, "NUL kept (escaped as \\u0000 in JSON)")
	require.Equal(t, "crlf line", got[4].Message, "CRLF ending removed")
	require.Equal(t, float64(1), testutil.ToFloat64(ra.m.LinesTruncated.WithLabelValues(filepath.Join(dir, "*.log"), "t")))
	for _, s := range rp.of(bin) {
		require.LessOrEqual(t, len(s.Message), 1<<20)
	}
}

// Paths a glob matches that are not readable files: a directory, a FIFO, a
// symlink loop, a dangling symlink. Each is skipped with one log line and
// one count in logagent_file_errors_total (the dangling symlink, like a
// deleted file, is not an error); a regular file next to them flows, and
// nothing blocks (a FIFO opened for reading would wait for a writer).
func TestUnreadablePathsInGlob(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.log")
	appendLines(t, good, 0, 10)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir.log"), 0o755))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo.log"), 0o644))
	require.NoError(t, os.Symlink(filepath.Join(dir, "loop2.log"), filepath.Join(dir, "loop1.log")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "loop1.log"), filepath.Join(dir, "loop2.log")))
	require.NoError(t, os.Symlink(filepath.Join(dir, "missing"), filepath.Join(dir, "dangling.log")))

	log, logs := etcdTestLog(t)
	cfg := fakeConfig(t)
	fp := &fakeProducer{}
	ra := startAgentLog(t, cfg, fp, log, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, 10)
	time.Sleep(3 * cfg.Files.ScanFrequency.D()) // a few more scans: each problem is reported once
	appendLines(t, good, 10, 20)
	require.Equal(t, wantLines(good, 0, 20), fp.waitFor(t, 20))

	task := filepath.Join(dir, "*.log")
	require.Equal(t, float64(4), testutil.ToFloat64(ra.m.FileErrors.WithLabelValues(task, "t")), "dir, fifo, loop1, loop2")
	out := logs.String()
	for _, want := range []struct{ msg, path string }{
		{"not a regular file, skipped", "dir.log"},
		{"not a regular file, skipped", "fifo.log"},
		{"cannot stat file", "loop1.log"}, // err="stat …: too many levels of symbolic links"
		{"cannot stat file", "loop2.log"},
	} {
		n := 0
		for l := range strings.SplitSeq(out, "\n") {
			if strings.Contains(l, `msg="`+want.msg+`"`) && strings.Contains(l, " path="+filepath.Join(dir, want.path)+" ") {
				n++
			}
		}
		require.Equal(t, 1, n, "%s %s: once in the log\n%s", want.msg, want.path, out)
	}
	require.Contains(t, out, "too many levels of symbolic links")
}

// A tailed file replaced by a directory or a FIFO (renamed away, the new
// thing created under its name): the old file is read to its end, the new
// path is skipped and counted, other files keep flowing.
func TestFileReplacedByDirectoryOrFIFO(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace func(path string) error
	}{
		{"directory", func(p string) error { return os.Mkdir(p, 0o755) }},
		{"fifo", func(p string) error { return syscall.Mkfifo(p, 0o644) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, other := filepath.Join(dir, "app.log"), filepath.Join(dir, "other.log")
			appendLines(t, path, 0, 10)
			appendLines(t, other, 0, 10)
			fp := &fakeProducer{}
			task := filepath.Join(dir, "*.log")
			ra := startAgent(t, fakeConfig(t), fp, collect.Task{Path: task, Topic: "t", StartPosition: "beginning"})
			fp.waitFor(t, 20)

			w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			require.NoError(t, err)
			defer w.Close()
			require.NoError(t, os.Rename(path, path+".old"))
			require.NoError(t, tc.replace(path))
			_, err = w.WriteString("line 10 of app.log\n")
			require.NoError(t, err)
			appendLines(t, other, 10, 20)

			got := fp.waitFor(t, 31)
			require.Subset(t, got, append(wantLines(path, 0, 11), wantLines(other, 0, 20)...))
			require.Eventually(t, func() bool {
				return testutil.ToFloat64(ra.m.FileErrors.WithLabelValues(task, "t")) == 1
			}, 10*time.Second, 20*time.Millisecond, "the %s is counted once", tc.name)
		})
	}
}

// A directory on a tailed file's path replaced by a regular file while the
// file is still written through an open descriptor: stat of the path then
// fails with ENOTDIR, not ENOENT. nxadm/tail's FileWatchers call os.Exit on
// such an error (the agent uses only its tracker, see watch.go); the agent must carry on and read the file to its
// end.
func TestPathComponentReplacedByFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	require.NoError(t, os.Mkdir(sub, 0o755))
	path := filepath.Join(sub, "app.log")
	other := filepath.Join(dir, "other.log")
	appendLines(t, path, 0, 10)
	appendLines(t, other, 0, 10)
	fp := &fakeProducer{}
	startAgent(t, fakeConfig(t), fp,
		collect.Task{Path: path, Topic: "t", StartPosition: "beginning"},
		collect.Task{Path: other, Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, 20)

	w, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, os.Rename(sub, sub+".old"))
	require.NoError(t, os.WriteFile(sub, []byte("not a directory"), 0o644))
	_, err = w.WriteString("written after the replacement\n")
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // let the watcher see the write
	appendLines(t, other, 10, 20)

	got := fp.waitFor(t, 31)
	require.Contains(t, got, "written after the replacement")
	require.True(t, slices.Contains(got, "line 19 of other.log"))
}
