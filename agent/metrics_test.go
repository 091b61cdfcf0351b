package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
)

// lagBytes is the value of logagent_lag_bytes{task, topic} as a scrape
// would see it, and whether the series exists.
func lagBytes(t testing.TB, m *Metrics, task, topic string) (float64, bool) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.LagBytes)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		for _, s := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["task"] == task && labels["topic"] == topic {
				return s.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

func fileSize(t testing.TB, path string) float64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return float64(fi.Size())
}

// TestLagBytesComputedOnScrape checks logagent_lag_bytes, computed when it
// is collected: the bytes of a task's files not acknowledged yet, after
// writes and after acknowledgements, per task, and the series of a removed
// task gone.
func TestLagBytesComputedOnScrape(t *testing.T) {
	dir := t.TempDir()
	held, other := filepath.Join(dir, "held.log"), filepath.Join(dir, "other.log")
	appendLines(t, held, 0, 50)
	appendLines(t, other, 0, 10)
	fp := &fakeProducer{hold: true}
	heldTask := collect.Task{Path: held, Topic: "t", StartPosition: "beginning"}
	otherTask := collect.Task{Path: other, Topic: "u", StartPosition: "beginning"}
	ra := startAgent(t, fakeConfig(t), fp, heldTask, otherTask)
	lagIs := func(task, topic string, want float64) func() bool {
		return func() bool { got, ok := lagBytes(t, ra.m, task, topic); return ok && got == want }
	}

	// Nothing acknowledged: the lag is every byte written.
	require.Eventually(t, lagIs(held, "t", fileSize(t, held)), 10*time.Second, 10*time.Millisecond, "lag of the written lines")
	require.Eventually(t, lagIs(other, "u", fileSize(t, other)), 10*time.Second, 10*time.Millisecond, "each task its own lag")

	// Acknowledged: no lag; written again while held: the new bytes.
	fp.release()
	fp.waitFor(t, 60)
	require.Eventually(t, lagIs(held, "t", 0), 10*time.Second, 10*time.Millisecond, "no lag once acknowledged")
	require.Eventually(t, lagIs(other, "u", 0), 10*time.Second, 10*time.Millisecond)
	before := fileSize(t, held)
	fp.mu.Lock()
	fp.hold = true
	fp.mu.Unlock()
	appendLines(t, held, 50, 70)
	require.Eventually(t, lagIs(held, "t", fileSize(t, held)-before), 10*time.Second, 10*time.Millisecond, "lag of the lines written since")
	fp.release()
	require.Eventually(t, lagIs(held, "t", 0), 10*time.Second, 10*time.Millisecond)

	// The removed task's series is gone; the remaining one is exposed as
	// before: same name, type, help and labels.
	tasks, err := collect.ValidateTasks([]collect.Task{otherTask})
	require.NoError(t, err)
	require.NoError(t, ra.Apply(tasks, "test"))
	_, ok := lagBytes(t, ra.m, held, "t")
	require.False(t, ok, "series of a removed task")
	want := `# HELP logagent_lag_bytes Bytes written to the task's files but not yet acknowledged by Kafka.
# TYPE logagent_lag_bytes gauge
logagent_lag_bytes{task="` + other + `",topic="u"} 0
`
	require.NoError(t, testutil.CollectAndCompare(ra.m.LagBytes, strings.NewReader(want), "logagent_lag_bytes"))
	problems, err := testutil.CollectAndLint(ra.m.LagBytes)
	require.NoError(t, err)
	require.Empty(t, problems)
}
