package transfer

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are logtransfer's metrics; the names are a contract (issue 4).
type Metrics struct {
	RecordsConsumed *prometheus.CounterVec // topic
	DocsIndexed     *prometheus.CounterVec // topic
	IndexErrors     *prometheus.CounterVec // topic, reason
	DLQRecords      *prometheus.CounterVec // topic
	TopicMissing    *prometheus.GaugeVec   // topic (a DLQ topic)
	BulkDuration    prometheus.Histogram   // seconds per bulk request
	BulkSize        prometheus.Histogram   // documents per bulk request
	ConsumerLag     *prometheus.GaugeVec   // topic, partition
	CommitErrors    prometheus.Counter     //
	ESUp            prometheus.Gauge       // 1 when the last request to Elasticsearch succeeded
	KafkaUp         prometheus.Gauge       // 1 when the last lag refresh succeeded
	EndToEnd        prometheus.Histogram   // index time minus the read time (@timestamp as the agent sent it)

	// Stalls (stall.go): partitions whose records wait for a retry, and
	// the longest wait, by reason (a closed set, every value exported).
	StalledPartitions *prometheus.GaugeVec // reason
	StallSeconds      *prometheus.GaugeVec // reason

	// Retention (retention.go).
	RetentionDeleted prometheus.Counter // indices deleted
	RetentionErrors  prometheus.Counter // failed listings and deletions

	// The pipelines' metrics; their pipeline and processor labels come from
	// the configuration, and the series of a pipeline (or step) a reload
	// removes are deleted.
	PipelineEvents   *prometheus.CounterVec   // pipeline
	PipelineErrors   *prometheus.CounterVec   // pipeline, processor
	PipelineDropped  *prometheus.CounterVec   // pipeline
	PipelineDuration *prometheus.HistogramVec // pipeline
	PipelineReloads  *prometheus.CounterVec   // source, result
}

// NewMetrics builds the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		RecordsConsumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_records_consumed_total",
			Help: "Records fetched from Kafka.",
		}, []string{"topic"}),
		DocsIndexed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_docs_indexed_total",
			Help: "Documents Elasticsearch accepted.",
		}, []string{"topic"}),
		IndexErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_index_errors_total",
			Help: "Failed document index attempts, by Elasticsearch error type (connection for a failed request).",
		}, []string{"topic", "reason"}),
		DLQRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_dlq_records_total",
			Help: "Records Elasticsearch rejected for good, sent to the dead-letter topic.",
		}, []string{"topic"}),
		BulkDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logtransfer_bulk_duration_seconds",
			Help:    "Duration of bulk requests.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}),
		BulkSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logtransfer_bulk_size_docs",
			Help:    "Documents per bulk request.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9),
		}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logtransfer_consumer_lag",
			Help: "Records between the group's committed offset and the high watermark, refreshed every 10s.",
		}, []string{"topic", "partition"}),
		CommitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_commit_errors_total",
			Help: "Failed offset commits.",
		}),
		ESUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logtransfer_es_up",
			Help: "1 when the last request to Elasticsearch succeeded, else 0.",
		}),
		KafkaUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logtransfer_kafka_up",
			Help: "1 when the last request to Kafka succeeded, else 0.",
		}),
		EndToEnd: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "logtransfer_end_to_end_seconds",
			Help:    "Time from a record's @timestamp (the agent's read time, also for documents whose pipeline sets @timestamp from the line) to its indexing.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16),
		}),
		StalledPartitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logtransfer_stalled_partitions",
			Help: "Partitions whose records wait for a retry (nothing after them is committed), by reason: es_5xx, es_rejected, index_blocked, disk_watermark, es_unavailable, dlq_unavailable.",
		}, []string{"reason"}),
		StallSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logtransfer_stall_seconds",
			Help: "How long the longest-stalled partition of each reason has been waiting for a retry to succeed (0 when none), refreshed every 10s and on each change.",
		}, []string{"reason"}),
		RetentionDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_retention_deleted_indices_total",
			Help: "Indices retention deleted because all their documents are older than retention.max_age.",
		}),
		RetentionErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_retention_errors_total",
			Help: "Failed retention requests: listing the indices, or deleting one (it is tried again next retention.interval).",
		}),
		PipelineEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_pipeline_events_total",
			Help: "Records a pipeline ran on.",
		}, []string{"pipeline"}),
		PipelineErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_pipeline_errors_total",
			Help: "Events a pipeline failed on, by the step that failed (its tag or type; encode when the result is not valid JSON); they are indexed as they came in, flagged.",
		}, []string{"pipeline", "processor"}),
		PipelineDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_pipeline_dropped_total",
			Help: "Events a pipeline dropped on purpose (a drop step): not indexed, their offsets committed.",
		}, []string{"pipeline"}),
		PipelineDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "logtransfer_pipeline_duration_seconds",
			Help:    "Time to build a document through a pipeline: decode the record, run the steps, encode.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 2.5, 12),
		}, []string{"pipeline"}),
		PipelineReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_pipeline_reloads_total",
			Help: "Pipeline sets read on SIGHUP (source file) or from the etcd key (source etcd): applied (ok) or rejected (error, the running set stays).",
		}, []string{"source", "result"}),
		TopicMissing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logtransfer_kafka_topic_missing",
			Help: "1 while Kafka says a dead-letter topic does not exist (its records wait and are sent again); absent otherwise.",
		}, []string{"topic"}),
	}
	for _, source := range []string{reloadFile, reloadEtcd} {
		for _, result := range []string{"ok", "error"} {
			m.PipelineReloads.WithLabelValues(source, result)
		}
	}
	for _, r := range stallReasons {
		m.StalledPartitions.WithLabelValues(r)
		m.StallSeconds.WithLabelValues(r)
	}
	reg.MustRegister(m.RecordsConsumed, m.DocsIndexed, m.IndexErrors, m.DLQRecords, m.BulkDuration,
		m.BulkSize, m.ConsumerLag, m.CommitErrors, m.ESUp, m.KafkaUp, m.EndToEnd,
		m.StalledPartitions, m.StallSeconds, m.RetentionDeleted, m.RetentionErrors,
		m.PipelineEvents, m.PipelineErrors, m.PipelineDropped, m.PipelineDuration, m.PipelineReloads, m.TopicMissing)
	return m
}

// topicCounters caches the per-topic children of a counter vector, so that
// the per-record paths (poll loop, bulk responses) do not hash label values
// for every record. Topics are few and never deleted. Safe for concurrent
// use.
type topicCounters struct {
	vec *prometheus.CounterVec
	m   sync.Map // topic → prometheus.Counter
}

func newTopicCounters(vec *prometheus.CounterVec) *topicCounters { return &topicCounters{vec: vec} }

// get returns topic's counter.
func (c *topicCounters) get(topic string) prometheus.Counter {
	if v, ok := c.m.Load(topic); ok {
		return v.(prometheus.Counter)
	}
	v, _ := c.m.LoadOrStore(topic, c.vec.WithLabelValues(topic))
	return v.(prometheus.Counter)
}
