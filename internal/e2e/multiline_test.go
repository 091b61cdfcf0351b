package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

// TestMultilineAgentToKafka runs the built logagent with a multiline task (a line starting
// with a date starts an event, every other line continues it) against the real Kafka broker:
// complete events are shipped whole; the last event of a file, with no next event to end it,
// is flushed after multiline.timeout; and an event pending when its file is rotated (renamed,
// a new file created at the path) is shipped whole from the rotated file, and not joined
// with the new file's lines. Every event arrives once, in order per file.
func TestMultilineAgentToKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("builds logagent and starts Kafka")
	}
	bins := testenv.BuildBinaries(t, "logagent")
	kafka := testenv.StartKafka(t)
	const topic, timeout = "multiline", 2 * time.Second
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	addr := testenv.FreeAddr(t)
	config := filepath.Join(dir, "logagent.yaml")
	require.NoError(t, os.WriteFile(config, fmt.Appendf(nil, `kafka:
  brokers: [%s]
  linger: 5ms
host:
  name: e2e-agent
  ip: 127.0.0.1
data_dir: %s
files:
  scan_frequency: 200ms
tasks:
  - path: %s
    topic: %s
    start_position: beginning
    multiline:
      pattern: '^\d{4}-\d{2}-\d{2} '
      negate: true
      match: after
      timeout: %s
metrics:
  listen: %s
`, strings.Join(kafka.Brokers(), ","), filepath.Join(dir, "agent-data"), path, topic, timeout, addr), 0o644))
	agent := testenv.StartBinary(t, 60, bins["logagent"], "-config", config)
	testenv.WaitHealthy(t, addr)

	// event n: its first line and n%4 continuation lines.
	event := func(n int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "2026-12-07 12:00:%02d ERROR request %d failed\n", n%60, n)
		for k := range n % 4 {
			fmt.Fprintf(&b, "\tat frame %d of event %d\n", k, n)
		}
		return b.String()
	}
	appendTo := func(p, s string) {
		t.Helper()
		f, err := os.OpenFile(p, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		_, err = f.WriteString(s)
		require.NoError(t, err)
		require.NoError(t, f.Close())
	}
	var want []string // the events, as shipped: lines joined with "\n"
	write := func(p string, from, to int) {
		t.Helper()
		var b strings.Builder
		for n := from; n < to; n++ {
			b.WriteString(event(n))
			want = append(want, strings.TrimSuffix(event(n), "\n"))
		}
		appendTo(p, b.String())
	}

	// Complete events, and a last one that only the timeout ends.
	write(path, 0, 10)
	written := time.Now()
	recs := testenv.ReadTopic(t, kafka.Brokers(), topic, 10, 30*time.Second)
	require.Equal(t, want, messages(t, recs), "events 0-9, the last one flushed by the timeout")
	require.GreaterOrEqual(t, time.Since(written), timeout, "event 9 was shipped before multiline.timeout passed")

	// Event 10 pending (its continuation lines written, no next event yet) when the file is
	// rotated; the new file starts with event 11.
	write(path, 10, 14)
	require.NoError(t, os.Rename(path, path+".1"))
	write(path, 14, 20)
	recs = testenv.ReadTopic(t, kafka.Brokers(), topic, 20, 30*time.Second)
	got := messages(t, recs)
	require.Len(t, got, 20, "events: one record each, none lost, split or joined across files")
	// Records are keyed by the file's identity (device and inode): the rotated file and the
	// new one are two keys, both read at the path app.log.
	var files []string
	byFile := map[string][]string{}
	for _, r := range recs {
		var d struct {
			Message string
			Log     struct {
				File  struct{ Path string }
				Flags []string
			}
		}
		require.NoError(t, json.Unmarshal(r.Value, &d))
		require.Equal(t, path, d.Log.File.Path)
		require.Equal(t, strings.Contains(d.Message, "\n"), slices.Contains(d.Log.Flags, "multiline"), "the multiline flag of %q", d.Message)
		if _, ok := byFile[string(r.Key)]; !ok {
			files = append(files, string(r.Key))
		}
		byFile[string(r.Key)] = append(byFile[string(r.Key)], d.Message)
	}
	require.Len(t, files, 2, "record keys: one per file")
	require.Equal(t, want[:14], byFile[files[0]], "the first file's events, in order, ending with the one pending at the rotation")
	require.Equal(t, want[14:], byFile[files[1]], "the new file's events, in order")
	require.NoError(t, agent.Stop(30*time.Second))
}

// messages returns the records' message fields.
func messages(t *testing.T, recs []*kgo.Record) []string {
	t.Helper()
	var out []string
	for _, r := range recs {
		var d struct{ Message string }
		require.NoError(t, json.Unmarshal(r.Value, &d), "%s", r.Value)
		out = append(out, d.Message)
	}
	return out
}
