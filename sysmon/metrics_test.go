package sysmon

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	NewMetrics(reg)
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	require.Empty(t, problems)
}

// TestMetricNames pins the names that dashboards and alerts use (the contract).
func TestMetricNames(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	m.SampleDuration.Observe(0.001)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName()+" "+strings.ToLower(mf.GetType().String()))
	}
	require.Equal(t, []string{
		"sysmon_buffered_points gauge",
		"sysmon_influx_up gauge",
		"sysmon_input_errors_total counter",
		"sysmon_points_dropped_total counter",
		"sysmon_points_written_total counter",
		"sysmon_sample_duration_seconds histogram",
		"sysmon_samples_total counter",
		"sysmon_write_errors_total counter",
	}, names)
}
