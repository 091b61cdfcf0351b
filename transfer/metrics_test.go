package transfer

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/transfer/transfertest"
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

// TestEndToEndSecondsValues: logtransfer_end_to_end_seconds observes, for
// each indexed document, the time from its @timestamp (or, without one, the
// record's Kafka timestamp) to its indexing: records read a known time ago
// land in the buckets of that delay, not only in the sample count.
func TestEndToEndSecondsValues(t *testing.T) {
	brokers := startKfake(t, 3)
	es := transfertest.NewES(t)
	const n = 100
	const readAgo, producedAgo = 45 * time.Second, 100 * time.Second
	start := time.Now()
	// n agent records read readAgo, and n non-JSON records (no @timestamp:
	// the Kafka timestamp counts) produced producedAgo.
	produceAgentRecords(t, brokers, "e2e", 0, n, func(_ int, v []byte) []byte {
		ts := start.Add(-readAgo).UTC().Format(time.RFC3339Nano)
		return regexp.MustCompile(`"@timestamp":"[^"]*"`).ReplaceAll(v, []byte(`"@timestamp":"`+ts+`"`))
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Topic: "e2e", Value: fmt.Appendf(nil, "raw line %d", i), Timestamp: start.Add(-producedAgo)})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())

	r := startTransfer(t, testConfig(brokers, es.URL(), "e2e"))
	waitCount(t, es, 2*n, 30*time.Second)
	elapsed := time.Since(start) // each observation is its delay plus at most this

	h := histogram(t, r.reg, "logtransfer_end_to_end_seconds")
	require.EqualValues(t, 2*n, h.GetSampleCount())
	low := n*readAgo.Seconds() + n*producedAgo.Seconds()
	require.GreaterOrEqual(t, h.GetSampleSum(), low, "observations shorter than the known delays")
	require.LessOrEqual(t, h.GetSampleSum(), low+2*n*elapsed.Seconds(), "observations longer than the delays and the test")
	below := func(le float64) uint64 { // observations <= le
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() >= le {
				require.Equal(t, le, b.GetUpperBound(), "no bucket at %v", le)
				return b.GetCumulativeCount()
			}
		}
		t.Fatalf("no bucket at %v", le)
		return 0
	}
	// Buckets 0.01·2^k s: 40.96 < 45 s, 45 s + elapsed <= 81.92 < 100 s, 100 s + elapsed
	// <= 163.84.
	require.Less(t, elapsed, 36*time.Second, "the buckets below assume a test shorter than 36 s")
	require.Zero(t, below(40.96), "a record read 45 s ago observed under 41 s")
	require.EqualValues(t, n, below(81.92), "the records read 45 s ago, and only them")
	require.EqualValues(t, 2*n, below(163.84), "the records produced 100 s ago")
}

// histogram returns the histogram family name of reg.
func histogram(t *testing.T, reg prometheus.Gatherer, name string) *dto.Histogram {
	t.Helper()
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		if f.GetName() == name {
			require.Len(t, f.Metric, 1)
			return f.Metric[0].GetHistogram()
		}
	}
	t.Fatalf("no %s", name)
	return nil
}
