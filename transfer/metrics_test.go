package transfer

import (
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// The metric names are a contract (issue 4); they must also pass the
// Prometheus linter.
func TestMetricsNamesAndLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	m := NewMetrics(reg)
	m.RecordsConsumed.WithLabelValues("t")
	m.DocsIndexed.WithLabelValues("t")
	m.IndexErrors.WithLabelValues("t", "mapper_parsing_exception")
	m.DLQRecords.WithLabelValues("t")
	m.ConsumerLag.WithLabelValues("t", "0")
	m.PipelineEvents.WithLabelValues("web")
	m.PipelineErrors.WithLabelValues("web", "rename")
	m.PipelineDropped.WithLabelValues("web")
	m.PipelineDuration.WithLabelValues("web").Observe(1e-5)
	fams, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, f := range fams {
		names = append(names, f.GetName())
	}
	require.ElementsMatch(t, []string{
		"logtransfer_records_consumed_total",
		"logtransfer_docs_indexed_total",
		"logtransfer_index_errors_total",
		"logtransfer_dlq_records_total",
		"logtransfer_bulk_duration_seconds",
		"logtransfer_bulk_size_docs",
		"logtransfer_consumer_lag",
		"logtransfer_commit_errors_total",
		"logtransfer_es_up",
		"logtransfer_kafka_up",
		"logtransfer_end_to_end_seconds",
		"logtransfer_stalled_partitions",
		"logtransfer_stall_seconds",
		"logtransfer_retention_deleted_indices_total",
		"logtransfer_retention_errors_total",
		"logtransfer_pipeline_events_total",
		"logtransfer_pipeline_errors_total",
		"logtransfer_pipeline_dropped_total",
		"logtransfer_pipeline_duration_seconds",
		"logtransfer_pipeline_reloads_total",
	}, names)
	for _, c := range []prometheus.Collector{m.RecordsConsumed, m.DocsIndexed, m.IndexErrors, m.DLQRecords, m.BulkDuration,
		m.BulkSize, m.ConsumerLag, m.CommitErrors, m.ESUp, m.KafkaUp, m.EndToEnd,
		m.StalledPartitions, m.StallSeconds, m.RetentionDeleted, m.RetentionErrors,
		m.PipelineEvents, m.PipelineErrors, m.PipelineDropped, m.PipelineDuration, m.PipelineReloads} {
		problems, err := testutil.CollectAndLint(c)
		require.NoError(t, err)
		require.Empty(t, problems)
	}
}

// The cached per-topic counters count into the vector's children, from
// many goroutines at once.
func TestTopicCounters(t *testing.T) {
	tests := []struct {
		name string
		incs map[string]int // topic → increments
	}{
		{"one topic", map[string]int{"web": 1000}},
		{"several topics", map[string]int{"web": 300, "app": 7, "web.dlq": 1}},
		{"label needing escape", map[string]int{`a"b\c`: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "h"}, []string{"topic"})
			c := newTopicCounters(vec)
			var wg sync.WaitGroup
			for topic, n := range tt.incs {
				for range 4 {
					wg.Go(func() {
						for range n {
							c.get(topic).Inc()
						}
					})
				}
			}
			wg.Wait()
			for topic, n := range tt.incs {
				require.Equal(t, float64(4*n), testutil.ToFloat64(vec.WithLabelValues(topic)), topic)
				require.Same(t, c.get(topic), c.get(topic))
			}
			require.Equal(t, len(tt.incs), testutil.CollectAndCount(vec))
		})
	}
}

func BenchmarkTopicCounter(b *testing.B) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total", Help: "h"}, []string{"topic"})
	b.Run("WithLabelValues", func(b *testing.B) {
		for b.Loop() {
			vec.WithLabelValues("nginx-access").Inc()
		}
	})
	c := newTopicCounters(vec)
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			c.get("nginx-access").Inc()
		}
	})
}
