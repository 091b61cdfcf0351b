package dashboards

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/metricsref"
)

// exportedMetrics returns every metric the binaries export (metricsref.All)
// and Prometheus's own per-target `up`.
func exportedMetrics(t *testing.T) map[string]metricsref.Metric {
	t.Helper()
	out, err := metricsref.All()
	require.NoError(t, err)
	out["up"] = metricsref.Metric{Type: "gauge"} // written by Prometheus for every target
	return out
}

// targetLabels are added by Prometheus to every series it scrapes.
var targetLabels = []string{"job", "instance"}

// checkMetricUse says whether a metric named in a query exists: as is (not a
// histogram or summary, whose base name has no series), or as the _bucket
// series of a histogram or the _sum/_count series of a histogram or summary.
// Every label the selector matches on must exist on the metric.
func checkMetricUse(exported map[string]metricsref.Metric, u MetricUse) error {
	name, labels := u.Metric, slices.Clone(targetLabels)
	m, ok := exported[name]
	if ok && (m.Type == "histogram" || m.Type == "summary") {
		return fmt.Errorf("%s: %s is a %s; query %s_bucket, _sum or _count", u.Where, name, m.Type, name)
	}
	if !ok {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			base, cut := strings.CutSuffix(name, suffix)
			if !cut {
				continue
			}
			bm, found := exported[base]
			switch {
			case !found:
			case bm.Type == "histogram" || (bm.Type == "summary" && suffix != "_bucket"):
				m, ok = bm, true
				if suffix == "_bucket" {
					labels = append(labels, "le")
				}
			}
		}
	}
	if !ok {
		return fmt.Errorf("%s: metric %s is not exported by logagent, logtransfer or sysmon", u.Where, name)
	}
	labels = append(labels, m.Labels...)
	for _, l := range u.Labels {
		if !slices.Contains(labels, l) {
			return fmt.Errorf("%s: %s has no label %q (it has %v)", u.Where, name, l, labels)
		}
	}
	return nil
}

// TestExportedMetricsRead guards the reading itself: if client_golang changed
// its Desc format or a package stopped registering, every name check below
// would pass or fail for the wrong reason.
func TestExportedMetricsRead(t *testing.T) {
	exported := exportedMetrics(t)
	tests := []struct {
		name   string
		typ    string
		labels []string
	}{
		{"logagent_lines_read_total", "counter", []string{"task", "topic"}},
		{"logagent_produce_latency_seconds", "histogram", []string{"topic"}},
		{"logagent_buffered_bytes", "gauge", nil},
		{"logtransfer_index_errors_total", "counter", []string{"topic", "reason"}},
		{"logtransfer_end_to_end_seconds", "histogram", nil},
		{"sysmon_points_dropped_total", "counter", []string{"reason"}},
		{"logcollect_build_info", "gauge", []string{"goversion", "revision", "version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, ok := exported[tt.name]
			require.True(t, ok)
			require.Equal(t, tt.typ, m.Type)
			require.ElementsMatch(t, tt.labels, m.Labels)
		})
	}
}

// TestMetricNamesExist: every metric named in a pipeline dashboard query, a
// dashboard variable query or an alert rule is one the binaries export, with
// the labels the selector matches on. This is what keeps a renamed metric or
// a typo from shipping an empty panel or an alert that can never fire.
func TestMetricNamesExist(t *testing.T) {
	exported := exportedMetrics(t)
	uses, err := UsedMetrics()
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(uses), 50)
	seen := map[string]bool{}
	for _, u := range uses {
		require.NoError(t, checkMetricUse(exported, u))
		seen[u.Metric] = true
	}
	// Alerts and panels both refer to the metrics that matter most.
	for _, m := range []string{"up", "logagent_lag_bytes", "logtransfer_consumer_lag", "logtransfer_docs_indexed_total", "sysmon_influx_up"} {
		require.True(t, seen[m], "%s is used nowhere", m)
	}
}

// TestCheckMetricUseCatchesMistakes shows the check fails on the mistakes it
// exists for.
func TestCheckMetricUseCatchesMistakes(t *testing.T) {
	exported := exportedMetrics(t)
	tests := []struct {
		name    string
		expr    string
		wantErr string
	}{
		{"ok counter", `rate(logagent_lines_read_total{task="x"}[1m])`, ""},
		{"ok histogram bucket with le", `histogram_quantile(0.9, sum by (le) (rate(logtransfer_bulk_duration_seconds_bucket{le!=""}[1m])))`, ""},
		{"ok histogram count", `rate(logagent_produce_latency_seconds_count[1m])`, ""},
		{"ok name list", `{__name__=~"logagent_tasks|sysmon_influx_up"}`, ""},
		{"missing _total", `rate(logagent_lines_read[1m])`, "metric logagent_lines_read is not exported"},
		{"typo", `logtransfer_consumer_lags`, "metric logtransfer_consumer_lags is not exported"},
		{"bare histogram", `logtransfer_bulk_duration_seconds`, "is a histogram"},
		{"bucket of a gauge", `logagent_lag_bytes_bucket`, "metric logagent_lag_bytes_bucket is not exported"},
		{"label the metric lacks", `logagent_buffered_records{topic="app_log"}`, `has no label "topic"`},
		{"le on a counter", `logagent_send_errors_total{le="1"}`, `has no label "le"`},
		{"one bad name in a list", `{__name__=~"logagent_tasks|logagent_task"}`, "metric logagent_task is not exported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uses, err := PromQLMetrics(tt.name, tt.expr)
			require.NoError(t, err)
			require.NotEmpty(t, uses)
			var firstErr error
			for _, u := range uses {
				if err := checkMetricUse(exported, u); err != nil && firstErr == nil {
					firstErr = err
				}
			}
			if tt.wantErr == "" {
				require.NoError(t, firstErr)
			} else {
				require.ErrorContains(t, firstErr, tt.wantErr)
			}
		})
	}
}

func TestPromQLMetricsRejects(t *testing.T) {
	tests := []struct{ name, expr, wantErr string }{
		{"syntax error", `rate(x[5m]`, "unclosed left parenthesis"},
		{"unexpanded variable", `rate(x[$__rate_interval])`, "unexpected character in duration expression"},
		{"name regex that is not a list", `{__name__=~"logagent_.*"}`, "only a |-list of plain metric names"},
		{"negative name matcher", `{__name__!="x", job="a"}`, "cannot be checked"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := PromQLMetrics("w", tt.expr)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

// TestTopicFilterWhereThereIsATopic: a pipeline selector on a metric with a
// topic label filters by $topic, so picking a topic narrows every panel that
// can be narrowed.
func TestTopicFilterWhereThereIsATopic(t *testing.T) {
	exported := exportedMetrics(t)
	data, err := Files.ReadFile(PipelineFile)
	require.NoError(t, err)
	qs, err := Queries(data)
	require.NoError(t, err)
	for _, q := range qs {
		expr, err := q.Expand(PipelineVars)
		require.NoError(t, err)
		uses, err := PromQLMetrics(q.String(), expr)
		require.NoError(t, err)
		for _, u := range uses {
			base := strings.TrimSuffix(u.Metric, "_bucket")
			if slices.Contains(exported[base].Labels, "topic") {
				require.Contains(t, u.Labels, "topic", "%s: %s has a topic label but ignores $topic", q, u.Metric)
			}
		}
	}
}
