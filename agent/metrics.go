package agent

import (
	"maps"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the logagent's Prometheus metrics. Their names are a contract
// with the dashboards and alerts in dashboards/. Labels are bounded: topic and
// task (the task's path pattern), never a per-file path.
type Metrics struct {
	LinesRead             *prometheus.CounterVec   // task, topic
	BytesRead             *prometheus.CounterVec   // task, topic
	RecordsSent           *prometheus.CounterVec   // task, topic
	BytesSent             *prometheus.CounterVec   // task, topic
	SendErrors            *prometheus.CounterVec   // task, topic
	LinesTruncated        *prometheus.CounterVec   // task, topic
	LinesFiltered         *prometheus.CounterVec   // task, topic
	FilesTruncated        *prometheus.CounterVec   // task, topic
	ProduceLatency        *prometheus.HistogramVec // topic
	BufferedRecords       prometheus.Gauge
	BufferedBytes         prometheus.Gauge
	FilesOpen             *prometheus.GaugeVec // task, topic
	FilesWaiting          prometheus.Gauge
	HarvesterLimitReached prometheus.Counter
	LagBytes              *LagBytes // task, topic
	ConfigReloads         *prometheus.CounterVec
	Tasks                 prometheus.Gauge
	EtcdUp                prometheus.Gauge
	KafkaUp               prometheus.Gauge
	RegistryWrites        *prometheus.CounterVec // result
	FileErrors            *prometheus.CounterVec // task, topic
	TopicMissing          *prometheus.GaugeVec   // topic
}

// NewMetrics creates the agent metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	taskLabels := []string{"task", "topic"}
	m := &Metrics{
		LinesRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_lines_read_total", Help: "Lines (events, after multiline joining) read from files.",
		}, taskLabels),
		BytesRead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_bytes_read_total", Help: "Bytes read from files, newlines included.",
		}, taskLabels),
		RecordsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_records_sent_total", Help: "Records acknowledged by Kafka.",
		}, taskLabels),
		BytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_bytes_sent_total", Help: "Bytes of record values acknowledged by Kafka, as encoded (JSON envelope included) and before compression.",
		}, taskLabels),
		SendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_send_errors_total", Help: "Records Kafka failed to acknowledge; they are re-read from the last committed offset.",
		}, taskLabels),
		LinesTruncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_lines_truncated_total", Help: "Lines longer than max_line_bytes, shipped truncated and flagged.",
		}, taskLabels),
		LinesFiltered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_lines_filtered_total", Help: "Lines dropped by include_lines / exclude_lines, not shipped (a dropped multiline event counts its lines).",
		}, taskLabels),
		FilesTruncated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_files_truncated_total", Help: "Files whose size dropped below the read offset (copytruncate); read again from 0.",
		}, taskLabels),
		ProduceLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "logagent_produce_latency_seconds", Help: "Time from handing a record to the Kafka client until Kafka acknowledged it.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"topic"}),
		BufferedRecords: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logagent_buffered_records", Help: "Records buffered in the Kafka client, not yet acknowledged.",
		}),
		BufferedBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logagent_buffered_bytes", Help: "Bytes of records buffered in the Kafka client, not yet acknowledged.",
		}),
		FilesOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logagent_files_open", Help: "Files currently open for reading.",
		}, taskLabels),
		FilesWaiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logagent_files_waiting", Help: "Files with lines to read that wait for a harvester: files.max_open_files are being read.",
		}),
		HarvesterLimitReached: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logagent_harvesters_limit_reached_total", Help: "Times a file had to wait for a harvester because files.max_open_files files were being read.",
		}),
		LagBytes: &LagBytes{
			desc: prometheus.NewDesc("logagent_lag_bytes", "Bytes written to the task's files but not yet acknowledged by Kafka.", taskLabels, nil),
			lags: make(map[taskKey]func() float64),
		},
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_config_reloads_total", Help: "Collect config updates applied (ok) or rejected (error).",
		}, []string{"result"}),
		Tasks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logagent_tasks", Help: "Collect tasks currently running.",
		}),
		EtcdUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logagent_etcd_up", Help: "1 if the last etcd request or watch succeeded, 0 otherwise.",
		}),
		KafkaUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logagent_kafka_up", Help: "1 once Kafka acknowledges a record or answers a metadata request (every 5s); 0 once a record fails, or a metadata request fails with no acknowledgement since the previous one.",
		}),
		RegistryWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_registry_writes_total", Help: "Offset registry writes to data_dir by result (ok|error).",
		}, []string{"result"}),
		FileErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logagent_file_errors_total", Help: "Files that could not be opened or read (permission denied, not a regular file, ...).",
		}, taskLabels),
		TopicMissing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logagent_kafka_topic_missing", Help: "1 while Kafka says a task's topic does not exist (records to it fail and are sent again); absent otherwise.",
		}, []string{"topic"}),
	}
	for _, r := range []string{"ok", "error"} {
		m.ConfigReloads.WithLabelValues(r)
		m.RegistryWrites.WithLabelValues(r)
	}
	reg.MustRegister(m.LinesRead, m.BytesRead, m.RecordsSent, m.BytesSent, m.SendErrors, m.LinesTruncated,
		m.LinesFiltered, m.FilesTruncated, m.ProduceLatency, m.BufferedRecords, m.BufferedBytes, m.FilesOpen,
		m.FilesWaiting, m.HarvesterLimitReached, m.LagBytes, m.ConfigReloads, m.Tasks, m.EtcdUp, m.KafkaUp, m.RegistryWrites, m.FileErrors, m.TopicMissing)
	return m
}

// deleteTask drops the series of a stopped task so label cardinality follows
// the live config.
func (m *Metrics) deleteTask(task, topic string) {
	for _, v := range []*prometheus.CounterVec{m.LinesRead, m.BytesRead, m.RecordsSent, m.BytesSent, m.SendErrors, m.LinesTruncated, m.LinesFiltered, m.FilesTruncated, m.FileErrors} {
		v.DeleteLabelValues(task, topic)
	}
	m.FilesOpen.DeleteLabelValues(task, topic)
	m.LagBytes.untrack(task, topic)
}

// LagBytes is the logagent_lag_bytes gauge (labels task, topic), computed
// when it is collected: a task's lag sums its files' entries in the
// registry, and summing them every second for every task was a good part of
// an idle agent's CPU, while a scrape comes every 15 s or more. Track adds
// (or replaces) a task's series, deleteTask removes it.
type LagBytes struct {
	desc *prometheus.Desc
	mu   sync.Mutex
	lags map[taskKey]func() float64
}

type taskKey struct{ task, topic string }

// Track makes lag the value of the series of task and topic. lag is called
// at each collection, from the collecting goroutine.
func (l *LagBytes) Track(task, topic string, lag func() float64) {
	l.mu.Lock()
	l.lags[taskKey{task, topic}] = lag
	l.mu.Unlock()
}

func (l *LagBytes) untrack(task, topic string) {
	l.mu.Lock()
	delete(l.lags, taskKey{task, topic})
	l.mu.Unlock()
}

// MetricType is "gauge", for the metrics reference (internal/metricsref).
func (l *LagBytes) MetricType() string { return "gauge" }

// Describe implements prometheus.Collector.
func (l *LagBytes) Describe(ch chan<- *prometheus.Desc) { ch <- l.desc }

// Collect implements prometheus.Collector.
func (l *LagBytes) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	lags := maps.Clone(l.lags)
	l.mu.Unlock()
	for k, f := range lags { // outside mu: a lag takes the registry's lock
		ch <- prometheus.MustNewConstMetric(l.desc, prometheus.GaugeValue, f(), k.task, k.topic)
	}
}
