package agent

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
)

// splitID returns an event id's epoch and start offset.
func splitID(t *testing.T, id string) (string, int64) {
	t.Helper()
	i := strings.LastIndexByte(id, '-')
	require.Positive(t, i, "event id %q", id)
	off, err := strconv.ParseInt(id[i+1:], 10, 64)
	require.NoError(t, err, "event id %q", id)
	return id[:i], off
}

// TestEventIDs: every event carries "{epoch}-{start offset}", one epoch per
// file, the offsets of the lines' starts.
func TestEventIDs(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	appendLines(t, a, 0, 50)
	appendLines(t, b, 0, 50)
	fp := &fakeProducer{}
	startAgent(t, fakeConfig(t), fp, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "t", StartPosition: "beginning"})
	msgs := fp.waitFor(t, 100)
	ids := fp.eventIDs()
	epochs := map[string]bool{}
	next := map[string]int64{}
	for i, id := range ids {
		epoch, off := splitID(t, id)
		require.Len(t, epoch, 16, "96 bits, base64url")
		epochs[epoch] = true
		require.Equal(t, next[epoch], off, "event %d (%s) starts where the previous one of its file ended", i, msgs[i])
		next[epoch] = off + int64(len(msgs[i])) + 1
	}
	require.Len(t, epochs, 2, "one epoch per file")
}

// TestEventIDsSurviveACrash: lines re-sent after a crash (the registry on
// disk is older than what Kafka acknowledged) get the ids they had, so the
// index overwrites them instead of holding them twice.
func TestEventIDsSurviveACrash(t *testing.T) {
	dir := t.TempDir()
	task := collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "t", StartPosition: "beginning"}
	cfg := fakeConfig(t)
	regPath := filepath.Join(cfg.DataDir, "registry.json")

	fp := &fakeProducer{}
	snap := &snapshotProducer{fakeProducer: fp, path: regPath}
	ra := startAgent(t, cfg, snap, task)
	// A file found after the task's first scan (whose registry save would
	// cover it by chance).
	require.Eventually(t, func() bool { _, err := os.Stat(regPath); return err == nil }, 20*time.Second, 5*time.Millisecond)
	appendLines(t, filepath.Join(dir, "app.log"), 0, 100)
	fp.waitFor(t, 100)
	first := fp.eventIDs()
	ra.stop(t)

	// kill -9 before any offset was saved: the registry on disk is the one
	// there when the first line was sent.
	require.NoError(t, os.WriteFile(regPath, snap.atFirst, 0o644))
	startAgent(t, cfg, fp, task)
	fp.waitFor(t, 200)
	all := fp.eventIDs()
	require.Equal(t, first, all[100:200], "re-sent lines keep their ids")
}

// snapshotProducer copies the registry file when the first record is sent.
type snapshotProducer struct {
	*fakeProducer
	path    string
	atFirst []byte
}

func (s *snapshotProducer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if s.atFirst == nil { // Produce is called from one harvester here
		s.atFirst, _ = os.ReadFile(s.path)
	}
	s.fakeProducer.Produce(ctx, r, promise)
}

// TestEventIDsAfterTruncation: the new content of a truncated file gets a new
// epoch, so its ids never overwrite the documents of the old content.
func TestEventIDsAfterTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	appendLines(t, path, 0, 20)
	fp := &fakeProducer{}
	startAgent(t, fakeConfig(t), fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning"})
	fp.waitFor(t, 20)
	require.NoError(t, os.WriteFile(path, []byte("after truncation\n"), 0o644)) // copytruncate
	got := fp.waitFor(t, 21)
	require.Equal(t, "after truncation", got[20])
	ids := fp.eventIDs()
	before, _ := splitID(t, ids[0])
	after, off := splitID(t, ids[20])
	require.NotEqual(t, before, after)
	require.Zero(t, off)
}

// TestRegistryEpochs: epochs are saved and loaded; a registry written
// before event ids gets epochs, saved by the first persist; one save covers
// every epoch given before it.
func TestRegistryEpochs(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRegistry(dir)
	require.NoError(t, err)
	e1 := &entry{ID: fileID{Dev: 1, Ino: 1}, Task: "t"}
	e2 := &entry{ID: fileID{Dev: 1, Ino: 2}, Task: "t"}
	for _, e := range []*entry{e1, e2} {
		r.renew(e)
		r.put(e)
	}
	require.NotEqual(t, e1.currentEpoch(), e2.currentEpoch())
	require.NoError(t, r.persist(e1))
	require.GreaterOrEqual(t, r.savedSeq.Load(), e2.epochSeq.Load(), "e1's save covered e2")

	r2, err := OpenRegistry(dir)
	require.NoError(t, err)
	require.Equal(t, e2.currentEpoch(), r2.lookup(e2.ID).currentEpoch())

	old := `{"version":1,"files":[{"id":{"dev":1,"ino":3},"path":"/x.log","task":"t","offset":7,"fp_len":0,"fp":"0"}]}`
	require.NoError(t, os.WriteFile(filepath.Join(dir, "registry.json"), []byte(old), 0o644))
	r3, err := OpenRegistry(dir)
	require.NoError(t, err)
	e3 := r3.lookup(fileID{Dev: 1, Ino: 3})
	require.Len(t, e3.currentEpoch(), 16)
	require.NoError(t, r3.persist(e3))
	data, err := os.ReadFile(filepath.Join(dir, "registry.json"))
	require.NoError(t, err)
	require.Contains(t, string(data), e3.currentEpoch())
}
