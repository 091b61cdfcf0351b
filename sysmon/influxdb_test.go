package sysmon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// Tests against a real InfluxDB 1.8 (internal/testenv), written through its v2-compatible
// API by the real gopsutil collector. Their names contain "Influx".

// telegrafFields are Telegraf's field names per measurement: required ones, and optional
// ones (present only in some samples or on some machines).
var telegrafFields = map[string]struct{ required, optional []string }{
	"cpu": {required: []string{"usage_guest", "usage_guest_nice", "usage_idle", "usage_iowait", "usage_irq", "usage_nice",
		"usage_softirq", "usage_steal", "usage_system", "usage_user"}},
	"mem": {required: []string{"active", "available", "available_percent", "buffered", "cached", "commit_limit", "committed_as",
		"dirty", "free", "high_free", "high_total", "huge_page_size", "huge_pages_free", "huge_pages_total", "inactive",
		"low_free", "low_total", "mapped", "page_tables", "shared", "slab", "sreclaimable", "sunreclaim", "swap_cached",
		"swap_free", "swap_total", "total", "used", "used_percent", "vmalloc_chunk", "vmalloc_total", "vmalloc_used",
		"write_back", "write_back_tmp"}},
	"swap": {required: []string{"free", "in", "out", "total", "used", "used_percent"}},
	"system": {required: []string{"boot_time", "load1", "load15", "load5", "n_cpus", "n_physical_cpus", "uptime", "uptime_format"},
		optional: []string{"n_unique_users", "n_users"}},
	"disk": {required: []string{"free", "inodes_free", "inodes_total", "inodes_used", "inodes_used_percent", "total", "used", "used_percent"}},
	"diskio": {required: []string{"io_time", "iops_in_progress", "merged_reads", "merged_writes", "read_bytes", "read_time", "reads",
		"weighted_io_time", "write_bytes", "write_time", "writes"},
		optional: []string{"io_await", "io_svctm", "io_util"}},
	"net": {required: []string{"bytes_recv", "bytes_sent", "drop_in", "drop_out", "err_in", "err_out", "packets_recv", "packets_sent", "speed"}},
	"processes": {required: []string{"blocked", "dead", "idle", "paging", "running", "sleeping", "stopped", "total", "total_threads", "unknown", "zombies"},
		optional: []string{"parked"}},
}

// telegrafTags are the tags per measurement besides host.
var telegrafTags = map[string][]string{
	"cpu": {"cpu"}, "mem": nil, "swap": nil, "system": nil, "disk": {"device", "fstype", "mode", "path"},
	"diskio": {"name"}, "net": {"interface"}, "processes": nil,
}

// countField is a field every point of the measurement has, to count its points.
var countField = map[string]string{
	"cpu": "usage_idle", "mem": "total", "swap": "total", "system": "load1", "disk": "total",
	"diskio": "reads", "net": "bytes_sent", "processes": "total",
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type realSysmon struct {
	*Sysmon
	log  *syncBuffer
	stop func()
}

// startRealSysmon runs sysmon with the real gopsutil stats, configured so that every
// measurement is present on any Linux machine (loopback included, every file system type).
func startRealSysmon(t *testing.T, url, bucket, token string, edit func(*Config)) *realSysmon {
	t.Helper()
	cfg := Config{
		Interval: Duration(500 * time.Millisecond),
		Host:     "sysmon-test",
		Influx: InfluxConfig{URL: url, Bucket: bucket, Token: token,
			Timeout: Duration(2 * time.Second), MaxRetryDelay: Duration(time.Second)},
		CPU:             CPUConfig{PerCPU: true},
		Disk:            DiskConfig{IgnoreFS: []string{}},
		DiskIO:          DiskIOConfig{IgnoreDevices: []string{}},
		Net:             NetConfig{Interfaces: []string{"*"}},
		ShutdownTimeout: Duration(10 * time.Second),
	}
	if edit != nil {
		edit(&cfg)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s, err := New(cfg, nil, log, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	rs := &realSysmon{Sysmon: s, log: logs}
	var once sync.Once
	rs.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(30 * time.Second):
				t.Error("Run did not return")
			}
			if t.Failed() {
				t.Logf("sysmon log:\n%s", logs.String())
			}
		})
	}
	t.Cleanup(rs.stop)
	return rs
}

func (s *realSysmon) metric(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// querier runs InfluxQL: testenv.Influx (1.8) and testenv.Influx2 (2.x, through the
// bucket's virtual database mapping).
type querier interface {
	Query(db, influxql string) ([]testenv.Series, error)
}

// countPoints returns the points stored per measurement for host sysmon-test.
func countPoints(t *testing.T, i querier, db string) (map[string]int, int) {
	t.Helper()
	return countHostPoints(t, i, db, "sysmon-test")
}

// countHostPoints returns the points stored per measurement for host.
func countHostPoints(t *testing.T, i querier, db, host string) (map[string]int, int) {
	t.Helper()
	counts := map[string]int{}
	total := 0
	for m, f := range countField {
		series, err := i.Query(db, fmt.Sprintf(`SELECT count(%q) FROM %q WHERE host='%s'`, f, m, host))
		require.NoError(t, err)
		if len(series) == 0 {
			continue
		}
		n, err := strconv.Atoi(fmt.Sprint(series[0].Rows()[0]["count"]))
		require.NoError(t, err)
		counts[m] = n
		total += n
	}
	return counts, total
}

func TestInfluxRealSamples(t *testing.T) {
	i := testenv.StartInflux(t)
	require.NoError(t, i.CreateDatabase("telegraf"))
	s := startRealSysmon(t, i.URL(), "telegraf/autogen", "", nil)
	checkRealSamples(t, s, i, "telegraf")
}

// TestInflux2RealSamples is TestInfluxRealSamples against InfluxDB 2.x: org, bucket and
// API token.
func TestInflux2RealSamples(t *testing.T) {
	i := testenv.StartInflux2(t)
	s := startRealSysmon(t, i.URL(), testenv.Influx2Bucket, i.Token(), func(c *Config) { c.Influx.Org = testenv.Influx2Org })
	checkRealSamples(t, s, i, testenv.Influx2Bucket)
}

// checkRealSamples lets s take a few samples, stops it and checks what i stored in db: every
// measurement with Telegraf's field names, types and tags, and every point written.
func checkRealSamples(t *testing.T, s *realSysmon, i querier, db string) {
	t.Helper()
	require.Eventually(t, func() bool { return s.metric(s.m.PointsWritten) > 0 && s.metric(s.m.Samples) >= 3 },
		15*time.Second, 50*time.Millisecond)
	s.stop()
	require.Zero(t, testutil.ToFloat64(s.m.InputErrors.WithLabelValues("disk"))+testutil.ToFloat64(s.m.InputErrors.WithLabelValues("cpu")))

	counts, total := countPoints(t, i, db)
	t.Logf("points per measurement after %v samples: %v", s.metric(s.m.Samples), counts)
	require.Equal(t, s.metric(s.m.PointsWritten), float64(total), "sysmon_points_written_total matches the database")
	require.Equal(t, s.metric(s.m.Samples), float64(counts["processes"]), "one processes point per sample")

	for m, want := range telegrafFields {
		t.Run(m, func(t *testing.T) {
			series, err := i.Query(db, fmt.Sprintf(`SHOW FIELD KEYS FROM %q`, m))
			require.NoError(t, err)
			require.Len(t, series, 1, "measurement %s present", m)
			types := map[string]string{}
			for _, row := range series[0].Rows() {
				types[fmt.Sprint(row["fieldKey"])] = fmt.Sprint(row["fieldType"])
			}
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range types {
					if !yield(k) {
						return
					}
				}
			})
			for _, f := range want.required {
				require.Contains(t, keys, f)
			}
			for _, k := range keys {
				require.True(t, slices.Contains(want.required, k) || slices.Contains(want.optional, k), "unexpected field %s.%s", m, k)
			}
			for k, typ := range types {
				switch {
				case k == "uptime_format":
					require.Equal(t, "string", typ, k)
				case slices.Contains([]string{"load1", "load5", "load15", "io_await", "io_svctm", "io_util"}, k) ||
					bytes.Contains([]byte(k), []byte("percent")) || bytes.HasPrefix([]byte(k), []byte("usage_")):
					require.Equal(t, "float", typ, k)
				default:
					require.Equal(t, "integer", typ, "%s.%s is an integer in Telegraf", m, k)
				}
			}

			series, err = i.Query(db, fmt.Sprintf(`SHOW TAG KEYS FROM %q`, m))
			require.NoError(t, err)
			var tags []string
			for _, row := range series[0].Rows() {
				tags = append(tags, fmt.Sprint(row["tagKey"]))
			}
			wantTags := append([]string{"host"}, telegrafTags[m]...)
			sort.Strings(wantTags)
			require.Equal(t, wantTags, tags)

			// The query a Telegraf dashboard runs.
			series, err = i.Query(db, fmt.Sprintf(`SELECT * FROM %q WHERE host='sysmon-test' AND time > now() - 1h`, m))
			require.NoError(t, err)
			require.NotEmpty(t, series)
			require.NotEmpty(t, series[0].Values)
		})
	}

	series, err := i.Query(db, `SELECT mean(usage_idle) FROM cpu WHERE host='sysmon-test' AND cpu='cpu-total'`)
	require.NoError(t, err)
	idle, err := strconv.ParseFloat(fmt.Sprint(series[0].Rows()[0]["mean"]), 64)
	require.NoError(t, err)
	require.True(t, idle >= 0 && idle <= 100, "usage_idle %v is a percentage", idle)
}

// sampleTimes returns the times of host's processes points (one per sample), oldest first.
func sampleTimes(t *testing.T, i *testenv.Influx, db, host string) []time.Time {
	t.Helper()
	series, err := i.Query(db, fmt.Sprintf(`SELECT total FROM processes WHERE host='%s'`, host))
	require.NoError(t, err)
	require.Len(t, series, 1)
	var times []time.Time
	for _, row := range series[0].Rows() {
		ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(row["time"]))
		require.NoError(t, err)
		times = append(times, ts)
	}
	return times
}

// TestInfluxOutage stops InfluxDB for 30 s (the outage) while two sysmons sample
// every 200 ms: one with the default 100k buffer, which must deliver every point once
// InfluxDB is back, and one with a 400-point buffer, which must drop the oldest points and
// count every one of them. Runs about 40 s.
func TestInfluxOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 30 s outage")
	}
	const (
		interval = 200 * time.Millisecond
		outage   = 30 * time.Second
		small    = 400
		maxSkip  = time.Second // a loaded machine may make the sampler skip a few intervals
	)
	i := testenv.StartInflux(t)
	require.NoError(t, i.CreateDatabase("telegraf"))
	fast := func(c *Config) { c.Interval = Duration(interval) }
	s := startRealSysmon(t, i.URL(), "telegraf", "", fast)
	sm := startRealSysmon(t, i.URL(), "telegraf", "", func(c *Config) {
		fast(c)
		c.Host = "sysmon-small"
		c.Influx.MaxBufferedPoints = small
	})
	for _, x := range []*realSysmon{s, sm} {
		require.Eventually(t, func() bool { return x.metric(x.m.PointsWritten) > 0 && x.metric(x.m.InfluxUp) == 1 },
			15*time.Second, 20*time.Millisecond)
	}

	start := time.Now()
	require.NoError(t, i.Stop())
	stopped := time.Now()
	samplesAtStop, writtenAtStop := s.metric(s.m.Samples), s.metric(s.m.PointsWritten)
	// Halfway through, the outage shows in the metrics.
	time.Sleep(outage / 2)
	require.Zero(t, s.metric(s.m.InfluxUp), "influx_up is 0 while InfluxDB is down")
	require.Positive(t, s.metric(s.m.WriteErrors))
	require.Positive(t, s.metric(s.m.BufferedPoints))
	require.Equal(t, writtenAtStop, s.metric(s.m.PointsWritten), "nothing written while down")
	time.Sleep(outage - time.Since(stopped))
	down := time.Since(stopped)

	samplesDuring := s.metric(s.m.Samples) - samplesAtStop
	require.GreaterOrEqual(t, samplesDuring, 0.9*float64(outage/interval), "sampling goes on during the outage")
	buffered, errs := s.metric(s.m.BufferedPoints), s.metric(s.m.WriteErrors)
	require.Eventually(t, func() bool { // a sample may land between the two reads: read again
		return float64(s.writer.addedPoints())-writtenAtStop == s.metric(s.m.BufferedPoints)
	}, 2*time.Second, time.Millisecond, "every point since the stop is buffered")
	require.Zero(t, s.metric(s.m.InfluxUp))
	require.Equal(t, float64(small), sm.metric(sm.m.BufferedPoints), "the small buffer is full")
	require.Positive(t, dropped(sm.m, dropOverflow))
	t.Logf("after %s down: %v samples, %v points buffered, %v write errors; small buffer: %v dropped",
		down.Round(time.Millisecond), samplesDuring, buffered, errs, dropped(sm.m, dropOverflow))

	require.NoError(t, i.Start())
	restarted := time.Now()
	for _, x := range []*realSysmon{s, sm} {
		require.Eventually(t, func() bool { return x.metric(x.m.InfluxUp) == 1 && x.metric(x.m.BufferedPoints) < 100 },
			15*time.Second, 20*time.Millisecond, "the buffer drains after InfluxDB returns")
	}
	t.Logf("drained %s after the restart", time.Since(restarted).Round(time.Millisecond))
	s.stop()
	sm.stop()
	t.Logf("outage test: %s from the stop to the end", time.Since(start).Round(time.Millisecond))

	// Counters: every point added is written, dropped (small buffer only) or still buffered (none).
	for _, x := range []*realSysmon{s, sm} {
		require.Zero(t, x.metric(x.m.BufferedPoints))
		require.Equal(t, 1.0, x.metric(x.m.InfluxUp))
		require.Zero(t, dropped(x.m, dropRejected))
		require.Zero(t, dropped(x.m, dropShutdown))
		require.Equal(t, float64(x.writer.addedPoints()), x.metric(x.m.PointsWritten)+dropped(x.m, dropOverflow),
			"added = written + dropped")
	}
	require.Zero(t, dropped(s.m, dropOverflow))
	require.GreaterOrEqual(t, s.metric(s.m.WriteErrors), errs)

	// The default buffer: every point in the database once, every sample with its time.
	counts, total := countPoints(t, i, "telegraf")
	require.Equal(t, s.metric(s.m.PointsWritten), float64(total), "every point written, none twice: %v", counts)
	require.Equal(t, s.metric(s.m.Samples), float64(counts["processes"]), "no sample lost")
	// Every sample taken is in the database (above); on a loaded machine the sampler may skip
	// an interval it overran ("sampling fell behind"), so a short gap is allowed, no more.
	times := sampleTimes(t, i, "telegraf", "sysmon-test")
	inOutage := 0
	for k, ts := range times {
		require.Zero(t, ts.UnixNano()%int64(interval), "aligned")
		if k > 0 {
			require.LessOrEqual(t, ts.Sub(times[k-1]), maxSkip, "no gap in the samples at %s", ts)
		}
		if ts.After(stopped) && ts.Before(stopped.Add(outage)) {
			inOutage++
		}
	}
	require.GreaterOrEqual(t, float64(inOutage), 0.9*float64(outage/interval), "the outage's samples are stored")

	// The small buffer: what it wrote is in the database; the oldest outage points were
	// dropped, so its samples have one gap, and the newest samples all arrived.
	_, smallTotal := countHostPoints(t, i, "telegraf", "sysmon-small")
	require.Equal(t, sm.metric(sm.m.PointsWritten), float64(smallTotal))
	times = sampleTimes(t, i, "telegraf", "sysmon-small")
	var gaps []time.Duration
	for k := 1; k < len(times); k++ {
		if d := times[k].Sub(times[k-1]); d > maxSkip {
			gaps = append(gaps, d)
		}
	}
	require.Len(t, gaps, 1, "one gap: the oldest points of the outage")
	require.Greater(t, gaps[0], outage/2)
	t.Logf("small buffer: %v written, %v dropped (overflow), gap %s", smallTotal, dropped(sm.m, dropOverflow), gaps[0])
}

func TestInfluxOverflow(t *testing.T) {
	i := testenv.StartInflux(t)
	require.NoError(t, i.CreateDatabase("telegraf"))
	require.NoError(t, i.Stop())
	s := startRealSysmon(t, i.URL(), "telegraf", "", func(c *Config) {
		c.Influx.MaxBufferedPoints = 20
		c.Influx.MaxRetryDelay = Duration(200 * time.Millisecond)
	})
	require.Eventually(t, func() bool { return dropped(s.m, dropOverflow) >= 40 }, 20*time.Second, 20*time.Millisecond)
	require.LessOrEqual(t, s.metric(s.m.BufferedPoints), 20.0)

	require.NoError(t, i.Start())
	require.Eventually(t, func() bool { return s.metric(s.m.InfluxUp) == 1 }, 15*time.Second, 20*time.Millisecond)
	s.stop()
	_, total := countPoints(t, i, "telegraf")
	require.Equal(t, s.metric(s.m.PointsWritten), float64(total))
	require.Positive(t, total)
	require.Contains(t, s.log.String(), "buffer full: dropping the oldest points")
	t.Logf("written %d, dropped (overflow) %v", total, dropped(s.m, dropOverflow))
}

func TestInfluxWrongDatabase(t *testing.T) {
	i := testenv.StartInflux(t)
	s := startRealSysmon(t, i.URL(), "missing", "", nil) // never created
	require.Eventually(t, func() bool { return s.metric(s.m.WriteErrors) >= 2 && s.metric(s.m.Samples) >= 4 },
		15*time.Second, 50*time.Millisecond, "sampling goes on")
	s.stop()
	require.Zero(t, s.metric(s.m.PointsWritten))
	require.Positive(t, dropped(s.m, dropRejected))
	require.Zero(t, s.metric(s.m.InfluxUp))
	require.Contains(t, s.log.String(), `database not found: \"missing\"`)
	require.Contains(t, s.log.String(), `check influx.bucket`)
}

func TestInfluxWrongToken(t *testing.T) {
	i := testenv.StartInfluxWithAuth(t, "admin", "s3cret")
	require.NoError(t, i.CreateDatabase("telegraf"))
	s := startRealSysmon(t, i.URL(), "telegraf", "admin:wrong", nil)
	require.Eventually(t, func() bool { return s.metric(s.m.WriteErrors) >= 2 && s.metric(s.m.Samples) >= 4 },
		15*time.Second, 50*time.Millisecond, "sampling goes on")
	s.stop()
	require.Zero(t, s.metric(s.m.PointsWritten))
	require.Positive(t, dropped(s.m, dropRejected))
	require.Contains(t, s.log.String(), "HTTP 401")
	require.Contains(t, s.log.String(), "check influx.token")

	good := startRealSysmon(t, i.URL(), "telegraf", i.Token(), nil)
	require.Eventually(t, func() bool { return good.metric(good.m.PointsWritten) > 0 }, 15*time.Second, 50*time.Millisecond)
}

// TestInflux2Rejects checks InfluxDB 2.x's refusals: a wrong token (401) and a missing bucket
// (404) are dropped, counted and logged with a hint, and sampling goes on.
func TestInflux2Rejects(t *testing.T) {
	i := testenv.StartInflux2(t)
	for _, tc := range []struct {
		name, bucket, token string
		logs                []string
	}{
		{"wrong token", testenv.Influx2Bucket, "wrong", []string{"HTTP 401", "check influx.token"}},
		{"missing bucket", "missing", i.Token(), []string{"HTTP 404", "check influx.bucket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startRealSysmon(t, i.URL(), tc.bucket, tc.token, func(c *Config) { c.Influx.Org = testenv.Influx2Org })
			require.Eventually(t, func() bool { return s.metric(s.m.WriteErrors) >= 2 && s.metric(s.m.Samples) >= 4 },
				15*time.Second, 50*time.Millisecond, "sampling goes on")
			s.stop()
			require.Zero(t, s.metric(s.m.PointsWritten))
			require.Positive(t, dropped(s.m, dropRejected))
			require.Zero(t, s.metric(s.m.InfluxUp))
			for _, l := range tc.logs {
				require.Contains(t, s.log.String(), l)
			}
		})
	}
}
