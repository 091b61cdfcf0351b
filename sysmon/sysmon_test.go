package sysmon

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
)

// runSysmon runs a Sysmon with fake host stats against url until stop is called.
func runSysmon(t *testing.T, url, bucket string, interval time.Duration) (s *Sysmon, stop func()) {
	t.Helper()
	cfg := Config{
		Interval: Duration(interval), Host: "test-host",
		Influx:          InfluxConfig{URL: url, Bucket: bucket, MaxRetryDelay: Duration(100 * time.Millisecond)},
		ShutdownTimeout: Duration(2 * time.Second),
	}
	s, err := New(cfg, &fakeStats{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return")
		}
	}
	return s, stop
}

func TestRunAlignsSamplesAndWrites(t *testing.T) {
	f := newFakeInflux(t)
	const iv = 100 * time.Millisecond
	s, stop := runSysmon(t, f.srv.URL, "db", iv)
	require.Eventually(t, func() bool { return testutil.ToFloat64(s.m.Samples) >= 3 }, 5*time.Second, 10*time.Millisecond)
	stop()

	samples := testutil.ToFloat64(s.m.Samples)
	written := testutil.ToFloat64(s.m.PointsWritten)
	accepted := f.Accepted()
	require.Equal(t, float64(len(accepted)), written, "everything sampled was written by the shutdown flush")
	require.Equal(t, 0.0, testutil.ToFloat64(s.m.BufferedPoints))
	var h dto.Metric
	require.NoError(t, s.m.SampleDuration.Write(&h))
	require.Equal(t, uint64(samples), h.GetHistogram().GetSampleCount(), "one duration per sample")

	stamps := map[int64]bool{}
	for _, line := range accepted {
		require.Contains(t, line, "host=test-host")
		ts, err := strconv.ParseInt(line[strings.LastIndexByte(line, ' ')+1:], 10, 64)
		require.NoError(t, err)
		require.Zero(t, ts%int64(iv), "timestamps are multiples of the interval: %s", line)
		stamps[ts] = true
	}
	require.Len(t, stamps, int(samples), "one timestamp per sample")
}

func TestRunKeepsSamplingWhenInfluxRejects(t *testing.T) {
	f := newFakeInflux(t)
	f.setRespond(func([]string) (int, string) { return http.StatusNotFound, `database not found: "nope"` })
	s, stop := runSysmon(t, f.srv.URL, "nope", 50*time.Millisecond)
	defer stop()
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(s.m.Samples) >= 3 && testutil.ToFloat64(s.m.WriteErrors) >= 2
	}, 5*time.Second, 10*time.Millisecond)
	require.Positive(t, dropped(s.m, dropRejected))
	require.Equal(t, 0.0, testutil.ToFloat64(s.m.InfluxUp))
	require.Zero(t, testutil.ToFloat64(s.m.PointsWritten))
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{Influx: InfluxConfig{URL: "http://h:1"}}, &fakeStats{}, nil, prometheus.NewRegistry())
	require.ErrorContains(t, err, "influx.bucket: required")
}

// TestRunWithoutInflux: without influx.url sysmon samples for its own metrics, says once
// that the samples are not stored, and has no InfluxDB metric or readiness to fail.
func TestRunWithoutInflux(t *testing.T) {
	var logs syncBuffer
	reg := prometheus.NewRegistry()
	s, err := New(Config{Interval: Duration(20 * time.Millisecond), Host: "h"}, &fakeStats{}, slog.New(slog.NewTextHandler(&logs, nil)), reg)
	require.NoError(t, err)
	require.False(t, s.Stores())
	require.ErrorContains(t, s.Ping(context.Background()), "no InfluxDB configured (influx.url is empty)")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	require.Eventually(t, func() bool { return testutil.ToFloat64(s.m.Samples) >= 3 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	require.NoError(t, <-done)

	require.Equal(t, 1, strings.Count(logs.String(), "no InfluxDB output configured (influx.url is empty): samples are taken and counted in /metrics but not stored; set influx.url"), logs.String())
	families, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	require.Contains(t, names, "sysmon_samples_total")
	require.NotContains(t, names, "sysmon_influx_up", "no InfluxDB: no InfluxDB-down alert")
}
