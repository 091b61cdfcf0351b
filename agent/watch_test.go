package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestFileWatcher(t *testing.T) {
	fw, err := newFileWatcher(testLog(t))
	require.NoError(t, err)
	defer fw.close()
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))

	// Two harvesters of one path (a renamed file and its successor) are both woken.
	c1, stop1, err := fw.watch(path)
	require.NoError(t, err)
	c2, stop2, err := fw.watch(path)
	require.NoError(t, err)
	appendLines(t, path, 0, 1)
	for _, c := range []<-chan struct{}{c1, c2} {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatal("not woken by a write")
		}
	}
	stop1()
	appendLines(t, path, 1, 2)
	select {
	case <-c2:
	case <-time.After(5 * time.Second):
		t.Fatal("the remaining watch is not woken")
	}
	stop2()
	fw.mu.Lock()
	require.Empty(t, fw.subs, "the last unwatch removes the path")
	fw.mu.Unlock()

	// Watched again after the last unwatch: nxadm/tail's tracker closed the
	// path's channel then, and must hand out a new one.
	c3, stop3, err := fw.watch(path)
	require.NoError(t, err)
	appendLines(t, path, 2, 3)
	select {
	case <-c3:
	case <-time.After(5 * time.Second):
		t.Fatal("a path watched again is not woken")
	}
	stop3()

	// A path that cannot be watched is an error, as is a nil watcher: the
	// harvester polls. Once the file exists, it can be watched.
	missing := filepath.Join(t.TempDir(), "missing")
	_, _, err = fw.watch(missing)
	require.Error(t, err)
	require.NoError(t, os.WriteFile(missing, nil, 0o644))
	c4, stop4, err := fw.watch(missing)
	require.NoError(t, err)
	appendLines(t, missing, 0, 1)
	select {
	case <-c4:
	case <-time.After(5 * time.Second):
		t.Fatal("a path that failed to be watched before is not woken")
	}
	stop4()
	_, _, err = (*fileWatcher)(nil).watch(path)
	require.Error(t, err)
}
