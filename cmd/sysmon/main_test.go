package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// The end-to-end tests run the real sysmon: the test binary re-executes itself as sysmon
// when SYSMON_CHILD is set, so SIGTERM hits a real process.
func TestMain(m *testing.M) { testenv.MainSelf(m, "SYSMON_CHILD", "sysmon", run) }

// captureStdout runs f and returns what it printed.
func captureStdout(t *testing.T, f func() error) (string, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	defer func() { os.Stdout = old }()
	ferr := f()
	w.Close()
	out, _ := io.ReadAll(r)
	return string(out), ferr
}

func TestVersion(t *testing.T) {
	out, err := captureStdout(t, func() error { return run([]string{"-version"}) })
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(out, "sysmon "), out)
}

func TestCheckConfig(t *testing.T) {
	sample := filepath.Join("..", "..", "sysmon", "testdata", "sysmon.yaml")
	t.Setenv("INFLUX_URL", "")
	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr string
	}{
		{name: "sample", args: []string{"-config", sample},
			want: `config ok: influx http://127.0.0.1:8086 bucket "telegraf/autogen", interval 10s, max_buffered_points 100000, metrics 127.0.0.1:9103`},
		{name: "flags override the file", args: []string{"-config", sample, "-influx.bucket", "db2", "-interval", "1m", "-metrics.listen", ":0"},
			want: `config ok: influx http://127.0.0.1:8086 bucket "db2", interval 1m0s, max_buffered_points 100000, metrics :0`},
		{name: "flags alone", args: []string{"-influx.url", "http://influx:8086", "-influx.bucket", "telegraf"},
			want: `config ok: influx http://influx:8086 bucket "telegraf", interval 10s`},
		{name: "nothing: sample without storing", args: nil,
			want: "config ok: no influx.url: samples are not stored, interval 10s, metrics 127.0.0.1:9103"},
		{name: "url without bucket", args: []string{"-influx.url", "http://influx:8086"}, wantErr: "config: influx.bucket: required"},
		{name: "bad flag value names the field", args: []string{"-config", sample, "-log.level", "loud"},
			wantErr: `log.level "loud": must be debug, info, warn or error`},
		{name: "bad interval flag", args: []string{"-config", sample, "-interval", "10"}, wantErr: "-interval: time: missing unit"},
		{name: "missing file", args: []string{"-config", "/nonexistent.yaml"}, wantErr: "read config: open /nonexistent.yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := captureStdout(t, func() error { return run(append(tt.args, "-check-config")) })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Contains(t, out, tt.want)
		})
	}
}

type sysmonProc struct {
	*testenv.Self
	t       *testing.T
	metrics string
}

// startSysmon writes a config for influxURL/bucket (extra is appended YAML) and starts
// sysmon with it.
func startSysmon(t *testing.T, influxURL, bucket, extra string) *sysmonProc {
	t.Helper()
	metricsAddr := testenv.FreeAddr(t)
	cfg := fmt.Sprintf(`interval: 1s
host: e2e-host
influx:
  url: %s
  bucket: %s
  max_retry_delay: 30s
net:
  interfaces: ["*"]
disk:
  ignore_fs: []
metrics:
  listen: %s
log:
  level: debug
%s`, influxURL, bucket, metricsAddr, extra)
	path := filepath.Join(t.TempDir(), "sysmon.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))

	p := &sysmonProc{Self: testenv.StartSelf(t, "SYSMON_CHILD", 0, "-config", path), t: t, metrics: metricsAddr}
	testenv.WaitHealthy(t, metricsAddr)
	return p
}

// stop sends SIGTERM and expects exit status 0.
func (p *sysmonProc) stop() {
	p.t.Helper()
	require.NoError(p.t, p.Stop(30*time.Second), "sysmon must exit 0 on SIGTERM")
}

// scrape returns the metric families of /metrics.
func (p *sysmonProc) scrape() map[string]float64 {
	p.t.Helper()
	m, err := testenv.Scrape(p.metrics)
	require.NoError(p.t, err)
	return m
}

func countProcesses(t *testing.T, i *testenv.Influx, db string) int {
	t.Helper()
	series, err := i.Query(db, `SELECT count(total) FROM processes WHERE host='e2e-host'`)
	require.NoError(t, err)
	if len(series) == 0 {
		return 0
	}
	n, err := strconv.Atoi(fmt.Sprint(series[0].Rows()[0]["count"]))
	require.NoError(t, err)
	return n
}

func TestEndToEnd(t *testing.T) {
	i := testenv.StartInflux(t)
	require.NoError(t, i.CreateDatabase("telegraf"))
	p := startSysmon(t, i.URL(), "telegraf/autogen", "")

	require.Eventually(t, func() bool { return p.scrape()["sysmon_points_written_total"] > 0 }, 15*time.Second, 100*time.Millisecond)
	m := p.scrape()
	for _, name := range []string{"sysmon_samples_total", "sysmon_sample_duration_seconds", "sysmon_points_written_total",
		"sysmon_write_errors_total", "sysmon_points_dropped_total", "sysmon_buffered_points", "sysmon_influx_up",
		"sysmon_input_errors_total", "logcollect_build_info", "process_resident_memory_bytes"} {
		require.Contains(t, m, name)
	}
	require.Equal(t, 1.0, m["sysmon_influx_up"])

	resp, err := http.Get("http://" + p.metrics + "/readyz")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "ready: InfluxDB answers /ping")

	p.stop()
	require.Contains(t, p.Log(), "sysmon stopped")
	require.Positive(t, countProcesses(t, i, "telegraf"))
}

// TestWithoutInflux: without influx.url sysmon samples, serves its own metrics, says once
// at startup that nothing is stored, is ready without an influx check and stops cleanly.
func TestWithoutInflux(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sysmon for seconds")
	}
	p := startSysmon(t, `""`, `""`, "")
	require.Eventually(t, func() bool { return p.scrape()["sysmon_samples_total"] >= 2 }, 15*time.Second, 100*time.Millisecond)
	m := p.scrape()
	require.NotContains(t, m, "sysmon_influx_up")
	require.Zero(t, m["sysmon_points_written_total"])

	resp, err := http.Get("http://" + p.metrics + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NotContains(t, string(body), "influx")

	p.stop()
	log := p.Log()
	require.Equal(t, 1, strings.Count(log, "no InfluxDB output configured (influx.url is empty)"), log)
	require.Contains(t, log, "set influx.url (or -influx.url) to store them")
	require.Contains(t, log, "sysmon stopped")
}

// TestSIGTERMFlushes: points buffered during an outage are written by the shutdown flush
// when SIGTERM comes while the writer waits out its retry backoff.
func TestSIGTERMFlushes(t *testing.T) {
	if testing.Short() {
		t.Skip("an 8 s outage")
	}
	i := testenv.StartInflux(t)
	require.NoError(t, i.CreateDatabase("telegraf"))
	require.NoError(t, i.Stop())
	p := startSysmon(t, i.URL(), "telegraf", "shutdown_timeout: 20s\n")

	// Down for 8 s: failed writes back off 1 s, 2 s, 4 s, 8 s.
	time.Sleep(8 * time.Second)
	m := p.scrape()
	require.Zero(t, m["sysmon_points_written_total"])
	require.Positive(t, m["sysmon_buffered_points"])
	require.Zero(t, m["sysmon_influx_up"])

	resp, err := http.Get("http://" + p.metrics + "/readyz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(body), "influx: ")

	require.NoError(t, i.Start())
	samples := m["sysmon_samples_total"]
	p.stop() // the writer is in its backoff: only the shutdown flush can write now

	require.Contains(t, p.Log(), "flushing buffered points")
	require.NotContains(t, p.Log(), "shutdown timeout")
	require.GreaterOrEqual(t, float64(countProcesses(t, i, "telegraf")), samples, "every sample of the outage was written")
}

func TestSIGTERMWithInfluxDown(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sysmon for seconds")
	}
	p := startSysmon(t, "http://"+testenv.FreeAddr(t), "telegraf", "shutdown_timeout: 1s\n")
	require.Eventually(t, func() bool { return p.scrape()["sysmon_buffered_points"] > 0 }, 15*time.Second, 100*time.Millisecond)
	start := time.Now()
	p.stop()
	require.Less(t, time.Since(start), 10*time.Second)
	require.Contains(t, p.Log(), "shutdown timeout: buffered points were not written")
}
