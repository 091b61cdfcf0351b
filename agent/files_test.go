package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/record"
)

// fakeProducer acknowledges records synchronously, fails the next failNext
// records, or holds acknowledgements while hold is set: fault injection the
// real brokers cannot give on demand.
type fakeProducer struct {
	mu       sync.Mutex
	failNext int
	hold     bool
	held     []func()
	acked    []string // messages, in ack order
	ids      []string // their record.IDHeader values
}

func (f *fakeProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r.Timestamp = time.Now()
	switch {
	case f.failNext > 0:
		f.failNext--
		promise(r, errors.New("injected failure"))
	case f.hold:
		f.held = append(f.held, func() { f.ack(r, promise) })
	default:
		f.ack(r, promise)
	}
}

func (f *fakeProducer) ack(r *kgo.Record, promise func(*kgo.Record, error)) {
	var d struct{ Message string }
	_ = json.Unmarshal(r.Value, &d)
	f.acked = append(f.acked, d.Message)
	id := ""
	for _, h := range r.Headers {
		if h.Key == record.IDHeader {
			id = string(h.Value)
		}
	}
	f.ids = append(f.ids, id)
	promise(r, nil)
}

func (f *fakeProducer) release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold = false
	for _, a := range f.held {
		a()
	}
	f.held = nil
}

func (f *fakeProducer) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.acked...)
}

func (f *fakeProducer) eventIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ids...)
}

func (f *fakeProducer) waitFor(t *testing.T, n int) []string {
	t.Helper()
	require.Eventually(t, func() bool { return len(f.messages()) >= n }, 20*time.Second, 5*time.Millisecond, "want %d acked", n)
	return f.messages()
}

func fakeConfig(t *testing.T) Config {
	cfg := testConfig(t, []string{"127.0.0.1:9"}, t.TempDir())
	cfg.Kafka.MaxBufferedRecords = 100
	return cfg
}

func TestSendFailureRereadsFromCommittedOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, 0, 100)
	fp := &fakeProducer{failNext: 3}
	ra := startAgent(t, fakeConfig(t), fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning"})
	got := fp.waitFor(t, 100)
	seen := map[string]bool{}
	for _, m := range got {
		seen[m] = true
	}
	for _, w := range wantLines(path, 0, 100) {
		require.True(t, seen[w], "%s lost after a send failure", w)
	}
	require.Equal(t, float64(3), testutil.ToFloat64(ra.m.SendErrors.WithLabelValues(path, "t")))
}

func TestBackpressureBoundsInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, 0, 5000)
	fp := &fakeProducer{hold: true}
	ra := startAgent(t, fakeConfig(t), fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning"})
	time.Sleep(500 * time.Millisecond)
	fp.mu.Lock()
	held := len(fp.held)
	fp.mu.Unlock()
	require.Equal(t, 100, held, "reading stops at max_buffered_records")
	lines := testutil.ToFloat64(ra.m.LinesRead.WithLabelValues(path, "t"))
	require.LessOrEqual(t, lines, float64(101), "no reading ahead of the buffer")
	fp.release()
	require.Len(t, fp.waitFor(t, 5000), 5000)
}

func TestDeletedFileIsReadToItsEndAndClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a deleted file to be closed")
	}
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	fp := &fakeProducer{hold: true}
	cfg := fakeConfig(t)
	cfg.Kafka.MaxBufferedRecords = 10
	ra := startAgent(t, cfg, fp, collect.Task{Path: path, Topic: "t"})
	time.Sleep(200 * time.Millisecond)
	appendLines(t, path, 0, 1000)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("last line without newline")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, os.Remove(path)) // deleted while most lines are unread
	fp.release()
	got := fp.waitFor(t, 1001)
	require.Equal(t, append(wantLines(path, 0, 1000), "last line without newline"), got)
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(ra.m.FilesOpen.WithLabelValues(path, "t")) == 0
	}, 10*time.Second, 50*time.Millisecond, "the deleted file is closed")
}

func TestStartPosition(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.log")
	appendLines(t, old, 0, 10)
	fp := &fakeProducer{}
	cfg := fakeConfig(t)
	startAgent(t, cfg, fp, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "t"})
	time.Sleep(300 * time.Millisecond)
	appendLines(t, old, 10, 12)                         // present at first start: from its end
	appendLines(t, filepath.Join(dir, "new.log"), 0, 2) // appears later: from its beginning
	got := fp.waitFor(t, 4)
	time.Sleep(300 * time.Millisecond)
	require.ElementsMatch(t, append(wantLines(old, 10, 12), wantLines(filepath.Join(dir, "new.log"), 0, 2)...), fp.messages(), "got %v", got)
}

func TestCloseInactiveAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, 0, 5)
	fp := &fakeProducer{}
	cfg := fakeConfig(t)
	cfg.Files.CloseInactive = Duration(300 * time.Millisecond)
	ra := startAgent(t, cfg, fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, 5)
	open := ra.m.FilesOpen.WithLabelValues(path, "t")
	require.Eventually(t, func() bool { return testutil.ToFloat64(open) == 0 }, 5*time.Second, 20*time.Millisecond, "closed when inactive")
	time.Sleep(300 * time.Millisecond)
	require.Zero(t, testutil.ToFloat64(open), "not reopened while unchanged")
	appendLines(t, path, 5, 10)
	require.Equal(t, wantLines(path, 0, 10), fp.waitFor(t, 10), "reopened when it grows, at its offset")
}

func TestIgnoreOlder(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.log")
	appendLines(t, old, 0, 3)
	past := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(old, past, past))
	appendLines(t, filepath.Join(dir, "fresh.log"), 0, 3)
	fp := &fakeProducer{}
	cfg := fakeConfig(t)
	cfg.Files.IgnoreOlder = Duration(time.Hour)
	startAgent(t, cfg, fp, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, 3)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, wantLines(filepath.Join(dir, "fresh.log"), 0, 3), fp.messages())
}

func TestLongLinesTruncatedAndFlagged(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	long := strings.Repeat("x", 5000)
	require.NoError(t, os.WriteFile(path, []byte("short\n"+long+"\nafter\n"), 0o644))
	fp := &fakeProducer{}
	ra := startAgent(t, fakeConfig(t), fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning", MaxLineBytes: 1000})
	require.Equal(t, []string{"short", long[:1000], "after"}, fp.waitFor(t, 3))
	require.Equal(t, float64(1), testutil.ToFloat64(ra.m.LinesTruncated.WithLabelValues(path, "t")))
}

func TestRegistryPrunesRemovedFilesAndDetectsInodeReuse(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRegistry(dir)
	require.NoError(t, err)
	path := filepath.Join(dir, "a.log")
	require.NoError(t, os.WriteFile(path, []byte("first file content\n"), 0o644))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	n, fp, err := fingerprint(f, 19)
	require.NoError(t, err)
	e := &entry{ID: fileID{Dev: 1, Ino: 2}, Task: "t"}
	e.update(path, n, fp, time.Now().Add(-2*time.Hour))
	e.begin(19)
	r.put(e)
	require.True(t, e.matches(f, 19))
	require.NoError(t, os.WriteFile(path, []byte("other file, same inode\n"), 0o644))
	require.False(t, e.matches(f, 23), "different first bytes: a new file")

	require.NoError(t, r.Save())
	r2, err := OpenRegistry(dir)
	require.NoError(t, err)
	require.NotNil(t, r2.lookup(fileID{Dev: 1, Ino: 2}))
	require.Equal(t, int64(19), r2.lookup(fileID{Dev: 1, Ino: 2}).committed())
	require.Equal(t, 1, r2.prune(time.Now(), time.Hour))
	require.Nil(t, r2.lookup(fileID{Dev: 1, Ino: 2}))
}

func TestCorruptRegistryIsAnError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "registry.json"), []byte("{not json"), 0o644))
	_, err := OpenRegistry(dir)
	require.ErrorContains(t, err, "registry.json")
	require.ErrorContains(t, err, "corrupt")
}

// TestTruncatedWhileClosed truncates a file while the agent is down, keeping
// its first bytes (so its fingerprint): it is read again from 0.
func TestTruncatedWhileClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, 0, 200)
	half := int64(len(strings.Join(wantLines(path, 0, 100), "\n")) + 1) // past the 1 KiB fingerprint
	fp := &fakeProducer{}
	cfg := fakeConfig(t)
	ra := startAgent(t, cfg, fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, 200)
	ra.stop(t)
	require.NoError(t, os.Truncate(path, half))
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("new content\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	ra = startAgent(t, cfg, fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning"})
	got := fp.waitFor(t, 301)
	require.Equal(t, append(wantLines(path, 0, 100), "new content"), got[200:])
	require.Equal(t, float64(1), testutil.ToFloat64(ra.m.FilesTruncated.WithLabelValues(path, "t")))
}

// reuseEntry creates a new file at path with content, whose inode is, for
// reg, the one of the deleted file oldID: the registry entry of the deleted
// file (its committed offset and fingerprint) moves to the new file's device
// and inode before the new file appears at path. That is what the agent
// finds when the filesystem gives a new file a freed inode; ext4 does so only
// sometimes (it skips recently deleted inodes), so the test does not wait
// for it.
func reuseEntry(t *testing.T, reg *Registry, oldID fileID, path string, content []byte) {
	t.Helper()
	old := reg.lookup(oldID)
	require.NotNil(t, old, "the deleted file %s is not in the registry", oldID)
	tmp := path + ".creating" // outside the task's path: not read yet
	require.NoError(t, os.WriteFile(tmp, content, 0o644))
	fi, err := os.Stat(tmp)
	require.NoError(t, err)
	newID, _ := statID(fi)
	e := &entry{ID: newID, Task: old.Task}
	old.mu.Lock()
	e.update(old.path, old.fpLen, old.fp, old.lastSeen)
	offset := old.acked
	old.mu.Unlock()
	e.begin(offset)
	reg.renew(e)
	reg.remove(oldID)
	reg.put(e)
	require.NoError(t, os.Rename(tmp, path))
}

// TestInodeReusedByNewFile deletes a shipped file and creates a new one that
// gets its inode, while the agent is stopped and while it runs (after it
// closed the deleted file, before the registry forgets it): the new file is
// recognised by its first bytes and read from its start, not from the old
// file's committed offset.
func TestInodeReusedByNewFile(t *testing.T) {
	tests := []struct {
		name    string
		running bool
	}{
		{name: "while stopped"},
		{name: "while running", running: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			appendLines(t, path, 0, 200) // past the 1 KiB fingerprint
			old := wantLines(path, 0, 200)
			var b strings.Builder
			var fresh []string
			for i := range 300 { // longer than the old file: not taken for a truncation
				line := fmt.Sprintf("new file, line %d", i)
				fresh = append(fresh, line)
				b.WriteString(line + "\n")
			}
			fp := &fakeProducer{}
			cfg := fakeConfig(t)
			log, logs := etcdTestLog(t)
			task := collect.Task{Path: path, Topic: "t", StartPosition: "beginning"}
			ra := startAgentLog(t, cfg, fp, log, task)
			require.Equal(t, old, fp.waitFor(t, 200))
			fi, err := os.Stat(path)
			require.NoError(t, err)
			oldID, _ := statID(fi)
			if tt.running {
				require.NoError(t, os.Remove(path))
				require.Eventually(t, func() bool {
					return testutil.ToFloat64(ra.m.FilesOpen.WithLabelValues(path, "t")) == 0
				}, 10*time.Second, 20*time.Millisecond, "the deleted file is closed (its inode freed)")
				reuseEntry(t, ra.reg, oldID, path, []byte(b.String()))
			} else {
				ra.stop(t)
				reg, err := OpenRegistry(cfg.DataDir)
				require.NoError(t, err)
				require.NoError(t, os.Remove(path))
				reuseEntry(t, reg, oldID, path, []byte(b.String()))
				require.NoError(t, reg.Save())
				ra = startAgentLog(t, cfg, fp, log, task)
			}
			got := fp.waitFor(t, 500)
			require.Equal(t, append(old, fresh...), got, "the new file from its first line, once")
			require.Contains(t, logs.String(), "inode reused by a new file; reading it from the start")
			require.Zero(t, testutil.ToFloat64(ra.m.FilesTruncated.WithLabelValues(path, "t")), "a new file, not a truncated one")
		})
	}
}
