package transfer

import (
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
	}, names)
	for _, c := range []prometheus.Collector{m.RecordsConsumed, m.DocsIndexed, m.IndexErrors, m.DLQRecords, m.BulkDuration,
		m.BulkSize, m.ConsumerLag, m.CommitErrors, m.ESUp, m.KafkaUp, m.EndToEnd} {
		problems, err := testutil.CollectAndLint(c)
		require.NoError(t, err)
		require.Empty(t, problems)
	}
}
