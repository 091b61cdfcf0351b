package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A directory on a tailed file's path replaced by a regular file while the
// file is still written through an open descriptor: stat of the path then
// fails with ENOTDIR, not ENOENT. nxadm/tail's watcher called os.Exit on such
// an error; the agent must carry on and read the file to its end.
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
		Task{Path: path, Topic: "t", StartPosition: "beginning"},
		Task{Path: other, Topic: "t", StartPosition: "beginning"})
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
	require.Contains(t, got, "line 19 of other.log")
}
