package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

// The tests run the real logagent: the test binary re-executes itself as the
// agent when LOGAGENT_CHILD is set, so kill -9 and SIGTERM hit a real process.
func TestMain(m *testing.M) { testenv.MainSelf(m, "LOGAGENT_CHILD", "logagent", run) }

type agentProc struct {
	*testenv.Self
	t       *testing.T
	metrics string
}

// writeConfig writes an agent config; extra is appended YAML. Its tasks from
// etcd may name files in the temporary directory (files.allowed_paths).
func writeConfig(t *testing.T, brokers []string, dataDir, extra string) (path, metricsAddr string) {
	metricsAddr = testenv.FreeAddr(t)
	cfg := fmt.Sprintf(`kafka:
  brokers: [%s]
  linger: 5ms
  max_buffered_records: 2000
data_dir: %s
metrics:
  listen: %s
host:
  name: test-host
  ip: 127.0.0.1
files:
  allowed_paths: ["%s/**"]
  scan_frequency: 200ms
shutdown_timeout: 10s
log:
  level: debug
%s`, strings.Join(brokers, ","), dataDir, metricsAddr, os.TempDir(), extra)
	path = filepath.Join(t.TempDir(), "agent.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path, metricsAddr
}

func startProc(t *testing.T, config, metricsAddr string) *agentProc {
	t.Helper()
	p := &agentProc{Self: testenv.StartSelf(t, "LOGAGENT_CHILD", 60, "-config", config), t: t, metrics: metricsAddr}
	testenv.WaitHealthy(t, metricsAddr)
	return p
}

func (p *agentProc) kill9() { require.NoError(p.t, p.Kill()) }

// stop sends SIGTERM and expects a clean exit.
func (p *agentProc) stop() {
	p.t.Helper()
	require.NoError(p.t, p.Stop(30*time.Second), "logagent must exit 0 on SIGTERM")
}

// metric returns the sum of all series of a metric family, -1 if there is none.
func (p *agentProc) metric(name string) float64 { return testenv.Metric(p.metrics, name) }

// writeLines appends lines from to to (excluded) to path in one write.
func writeLines(t *testing.T, path string, from, to int) {
	t.Helper()
	var b bytes.Buffer
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s %08d 127.0.0.1 - - \"GET /index.html HTTP/1.1\" 200 5120\n", filepath.Base(path), i)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = f.Write(b.Bytes())
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// consume reads topic from the start until at least want records arrived
// and then none for a second (so duplicates are seen too), or until idle
// passes without a new record.
func consume(t *testing.T, brokers []string, topic string, want int, idle time.Duration) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	var recs []*kgo.Record
	for {
		wait := idle
		if len(recs) >= want {
			wait = time.Second
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		fs := cl.PollFetches(ctx)
		cancel()
		n := 0
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r); n++ })
		if n == 0 && ctx.Err() != nil {
			return recs
		}
	}
}

type doc struct {
	Message string `json:"message"`
	Log     struct {
		File   struct{ Path string }
		Offset int64
	}
}

// checkDelivery asserts every line of each file arrived, in order per file
// (a redelivered line may repeat, but never goes back before the line that
// precedes it), and returns the number of duplicates.
func checkDelivery(t *testing.T, recs []*kgo.Record, files map[string]int) int {
	t.Helper()
	seen := map[string]int{}
	last := map[string]int{}
	dups := 0
	for _, r := range recs {
		var d doc
		require.NoError(t, json.Unmarshal(r.Value, &d))
		fields := strings.Fields(d.Message)
		require.GreaterOrEqual(t, len(fields), 2, d.Message)
		n, err := strconv.Atoi(fields[1])
		require.NoError(t, err)
		file := fields[0]
		if seen[file+"/"+fields[1]] > 0 {
			dups++
		} else {
			require.Equal(t, last[file], n, "file %s: line %d arrived while expecting %d (order)", file, n, last[file])
			last[file] = n + 1
		}
		seen[file+"/"+fields[1]]++
	}
	for f, n := range files {
		require.Equal(t, n, last[f], "file %s: lines delivered", f)
	}
	return dups
}

func TestEndToEndRealKafka(t *testing.T) {
	k := testenv.StartKafka(t)
	dir := t.TempDir()
	cfg, maddr := writeConfig(t, k.Brokers(), t.TempDir(), fmt.Sprintf(`tasks:
  - path: %s/*.log
    topic: e2e
    start_position: beginning
`, dir))
	for _, f := range []string{"a.log", "b.log"} {
		writeLines(t, filepath.Join(dir, f), 0, 5000)
	}
	p := startProc(t, cfg, maddr)
	writeLines(t, filepath.Join(dir, "c.log"), 0, 5000) // appears after the start
	for _, f := range []string{"a.log", "b.log"} {
		writeLines(t, filepath.Join(dir, f), 5000, 10000)
	}
	recs := consume(t, k.Brokers(), "e2e", 25000, 20*time.Second)
	require.Zero(t, checkDelivery(t, recs, map[string]int{"a.log": 10000, "b.log": 10000, "c.log": 5000}), "duplicates")
	require.Eventually(t, func() bool { return p.metric("logagent_records_sent_total") == 25000 }, 10*time.Second, 100*time.Millisecond)
	require.Equal(t, float64(25000), p.metric("logagent_lines_read_total"))
	require.Equal(t, float64(1), p.metric("logagent_kafka_up"))
	p.stop()
}

// TestCrashKill9 kills the agent with SIGKILL again and again while it ships
// a growing file: every line arrives, in order, and duplicates are bounded by
// what can be in flight at a kill.
func TestCrashKill9(t *testing.T) {
	k := testenv.StartKafka(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	dataDir := t.TempDir()
	cfg, maddr := writeConfig(t, k.Brokers(), dataDir, fmt.Sprintf(`tasks:
  - path: %s
    topic: crash
    start_position: beginning
`, path))
	// The in-flight window of writeConfig (kafka.max_buffered_records), and
	// a linger long enough to make the ack rate measurable: a window is
	// acknowledged no sooner than linger after its first record was
	// produced, and the next one is produced only once there is room again.
	const window, linger = 2000, 100 * time.Millisecond
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.Contains(t, string(b), "max_buffered_records: 2000\n")
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(b), "linger: 5ms\n", "linger: 100ms\n", 1)), 0o644))

	const total, kills = 200000, 8
	writeLines(t, path, 0, total/kills)
	bound := 0
	for i := 1; i < kills; i++ {
		p := startProc(t, cfg, maddr)
		// Everything written so far is acknowledged and its offset saved:
		// what the kill re-sends comes from the chunk appended next.
		size := fileSize(t, path)
		require.Eventually(t, func() bool { return savedOffset(t, dataDir, path) == size }, 60*time.Second, 50*time.Millisecond,
			"kill %d: the registry does not reach the end of the file (%d bytes)", i, size)
		appended := time.Now()
		writeLines(t, path, i*total/kills, (i+1)*total/kills)
		time.Sleep(time.Duration(100+50*i) * time.Millisecond) // a few windows acknowledged, not yet saved
		p.kill9()
		// A kill re-sends what Kafka has past the saved offset: the
		// records acknowledged since the append, at most a window per
		// linger, and those in flight, at most one window.
		bound += window * (1 + int(time.Since(appended)/linger))
	}
	p := startProc(t, cfg, maddr)
	recs := consume(t, k.Brokers(), "crash", total, 20*time.Second)
	dups := checkDelivery(t, recs, map[string]int{"app.log": total})
	t.Logf("%d lines, %d kills: %d records, %d duplicates (bound %d)", total, kills-1, len(recs), dups, bound)
	require.LessOrEqual(t, dups, bound, "duplicates beyond the in-flight windows of the kills")
	p.stop()
}

// fileSize is the size of the file at path.
func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Size()
}

// savedOffset is the committed offset of the file at path in the agent's
// offset registry in dataDir, as last written to disk; -1 when absent.
func savedOffset(t *testing.T, dataDir, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "registry.json"))
	if errors.Is(err, os.ErrNotExist) {
		return -1
	}
	require.NoError(t, err)
	var reg struct {
		Files []struct {
			Path   string `json:"path"`
			Offset int64  `json:"offset"`
		} `json:"files"`
	}
	require.NoError(t, json.Unmarshal(b, &reg))
	for _, f := range reg.Files {
		if f.Path == path {
			return f.Offset
		}
	}
	return -1
}

// TestKafkaOutage stops the broker while lines keep coming: the agent reports
// Kafka down, keeps its buffer bounded, and delivers everything once Kafka is
// back.
func TestKafkaOutage(t *testing.T) {
	k := testenv.StartKafka(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	cfg, maddr := writeConfig(t, k.Brokers(), t.TempDir(), fmt.Sprintf(`tasks:
  - path: %s
    topic: outage
    start_position: beginning
`, path))
	writeLines(t, path, 0, 1000)
	p := startProc(t, cfg, maddr)
	require.Eventually(t, func() bool { return p.metric("logagent_records_sent_total") == 1000 }, 30*time.Second, 100*time.Millisecond)

	require.NoError(t, k.Stop())
	writeLines(t, path, 1000, 50000)
	require.Eventually(t, func() bool { return p.metric("logagent_kafka_up") == 0 }, 30*time.Second, 200*time.Millisecond)
	time.Sleep(2 * time.Second)
	require.LessOrEqual(t, p.metric("logagent_buffered_records"), float64(2000), "buffer bounded by max_buffered_records")
	require.Greater(t, p.metric("logagent_lag_bytes"), float64(0), "lag visible while Kafka is down")
	rss := p.metric("process_resident_memory_bytes")
	writeLines(t, path, 50000, 150000) // 100k more lines wait in the file, not in memory
	time.Sleep(3 * time.Second)
	grown := p.metric("process_resident_memory_bytes") - rss
	t.Logf("RSS during the outage: %.1f MiB, then %+.1f MiB after 100k more lines", rss/(1<<20), grown/(1<<20))
	require.Less(t, grown, float64(32<<20), "memory grows with the backlog")

	require.NoError(t, k.Start())
	require.Eventually(t, func() bool { return p.metric("logagent_kafka_up") == 1 }, 60*time.Second, 200*time.Millisecond)
	recs := consume(t, k.Brokers(), "outage", 150000, 30*time.Second)
	checkDelivery(t, recs, map[string]int{"app.log": 150000})
	require.Eventually(t, func() bool { return p.metric("logagent_lag_bytes") == 0 }, 10*time.Second, 100*time.Millisecond)
	p.stop()
}

func fakeKafka(t *testing.T) []string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// TestEtcdConfig drives the agent's tasks through its etcd key: add, remove,
// change topic, invalid JSON (rejected, old tasks keep running), and a start
// with etcd down (cached config used).
func TestEtcdConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs logagent against etcd for seconds")
	}
	brokers := fakeKafka(t)
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	key := "/logagent/127.0.0.1/collect_config"
	dataDir := t.TempDir()
	cfg, maddr := writeConfig(t, brokers, dataDir, fmt.Sprintf("etcd:\n  endpoints: [%s]\n  dial_timeout: 2s\n", strings.Join(e.Endpoints(), ",")))
	put := func(v string) {
		t.Helper()
		_, err := cli.Put(context.Background(), key, v)
		require.NoError(t, err)
	}
	task := func(path, topic string) string {
		return fmt.Sprintf(`{"path":%q,"topic":%q,"start_position":"beginning"}`, path, topic)
	}
	writeLines(t, a, 0, 10)
	writeLines(t, b, 0, 10)
	put("[" + task(a, "ta") + "]")
	p := startProc(t, cfg, maddr)
	require.Len(t, consume(t, brokers, "ta", 10, 10*time.Second), 10)
	require.Equal(t, float64(1), p.metric("logagent_tasks"))
	require.Equal(t, float64(1), p.metric("logagent_etcd_up"))

	// add
	put("[" + task(a, "ta") + "," + task(b, "tb") + "]")
	require.Len(t, consume(t, brokers, "tb", 10, 10*time.Second), 10)
	require.Eventually(t, func() bool { return p.metric("logagent_tasks") == 2 }, 5*time.Second, 50*time.Millisecond)

	// invalid JSON: rejected, both tasks keep running
	before := p.metric(`logagent_config_reloads_total`)
	put(`[{"path": "` + a + `", "topic": }]`)
	require.Eventually(t, func() bool { return p.metric("logagent_config_reloads_total") > before }, 5*time.Second, 50*time.Millisecond)
	writeLines(t, a, 10, 20)
	writeLines(t, b, 10, 20)
	require.Len(t, consume(t, brokers, "ta", 20, 10*time.Second), 20)
	require.Len(t, consume(t, brokers, "tb", 20, 10*time.Second), 20)
	logData, _ := os.ReadFile(p.LogFile)
	require.Contains(t, string(logData), key, "the rejection names the key")

	// change topic of a, remove b
	put("[" + task(a, "ta2") + "]")
	require.Eventually(t, func() bool { return p.metric("logagent_tasks") == 1 }, 5*time.Second, 50*time.Millisecond)
	writeLines(t, a, 20, 30)
	writeLines(t, b, 20, 30)
	recs := consume(t, brokers, "ta2", 10, 10*time.Second)
	require.Len(t, recs, 10)
	require.True(t, strings.HasPrefix(decode(t, recs[0]).Message, "a.log 00000020"), decode(t, recs[0]).Message)
	require.Len(t, consume(t, brokers, "tb", 21, 2*time.Second), 20, "removed task stopped")

	// registration
	resp, err := cli.Get(context.Background(), "/logagent/agents/127.0.0.1")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Contains(t, string(resp.Kvs[0].Value), `"hostname":"test-host"`)
	p.stop()
	resp, err = cli.Get(context.Background(), "/logagent/agents/127.0.0.1")
	require.NoError(t, err)
	require.Empty(t, resp.Kvs, "deregistered on SIGTERM")

	// etcd down at start: the cached config is used
	e.Stop()
	writeLines(t, a, 30, 40)
	p = startProc(t, cfg, maddr)
	require.Len(t, consume(t, brokers, "ta2", 20, 10*time.Second), 20)
	require.Equal(t, float64(0), p.metric("logagent_etcd_up"))
	logData, _ = os.ReadFile(p.LogFile)
	require.Contains(t, string(logData), "cache")
	require.NoError(t, e.Start())
	require.Eventually(t, func() bool { return p.metric("logagent_etcd_up") == 1 }, 20*time.Second, 100*time.Millisecond)
	p.stop()
}

func decode(t *testing.T, r *kgo.Record) doc {
	var d doc
	require.NoError(t, json.Unmarshal(r.Value, &d))
	return d
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{name: "valid", yaml: "kafka:\n  brokers: [127.0.0.1:9092]\ndata_dir: /tmp/x\n"},
		{name: "no brokers", yaml: "data_dir: /tmp/x\n", wantErr: "kafka.brokers"},
		{name: "unknown key", yaml: "kafka:\n  brokers: [127.0.0.1:9092]\n  brokerz: []\n", wantErr: "brokerz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "agent.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.yaml), 0o644))
			cmd := exec.Command(os.Args[0], "-check-config", "-config", path)
			cmd.Env = append(os.Environ(), "LOGAGENT_CHILD=1")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			if tt.wantErr == "" {
				require.NoError(t, err, out.String())
				require.Contains(t, out.String(), "config ok")
				return
			}
			require.Error(t, err)
			require.Contains(t, out.String(), tt.wantErr)
			require.Contains(t, out.String(), path, "the error names the file")
		})
	}
}

// TestSysmonInsideAgent runs the host sampler in the agent's process (a
// sysmon: section) against a real InfluxDB: points arrive with the agent's
// host name, and the sampler's metrics are on the agent's /metrics.
func TestSysmonInsideAgent(t *testing.T) {
	influx := testenv.StartInflux(t)
	require.NoError(t, influx.CreateDatabase("hosts"))
	cfg, maddr := writeConfig(t, fakeKafka(t), t.TempDir(), fmt.Sprintf(`sysmon:
  interval: 1s
  influx:
    url: %s
    bucket: hosts
    token: %q
`, influx.URL(), influx.Token()))
	p := startProc(t, cfg, maddr)
	require.Eventually(t, func() bool { return p.metric("sysmon_points_written_total") > 0 }, 20*time.Second, 100*time.Millisecond)
	var rows []map[string]any
	require.Eventually(t, func() bool {
		series, err := influx.Query("hosts", `SELECT usage_idle FROM cpu WHERE host = 'test-host'`)
		if err != nil || len(series) == 0 {
			return false
		}
		rows = series[0].Rows()
		return len(rows) > 0
	}, 10*time.Second, 200*time.Millisecond)
	require.Contains(t, rows[0], "usage_idle")
	require.Equal(t, float64(1), p.metric("sysmon_influx_up"))
	p.stop()
}
