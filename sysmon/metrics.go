package sysmon

import "github.com/prometheus/client_golang/prometheus"

// Drop reasons, the values of the reason label of sysmon_points_dropped_total.
const (
	dropOverflow = "overflow" // the buffer was full: the oldest points made room
	dropRejected = "rejected" // InfluxDB refused them (4xx other than 413/429)
	dropShutdown = "shutdown" // still buffered when the shutdown timeout ran out
)

// inputs are the measurements, the values of the input label of sysmon_input_errors_total.
var inputs = []string{"cpu", "mem", "swap", "system", "disk", "diskio", "net", "processes"}

// Metrics are sysmon's Prometheus metrics. Their names are a contract with the dashboards
// and alerts; labels are bounded (input: the 8 measurements, reason: 3 values).
type Metrics struct {
	Samples        prometheus.Counter
	SampleDuration prometheus.Histogram
	InputErrors    *prometheus.CounterVec // input
	PointsWritten  prometheus.Counter
	WriteErrors    prometheus.Counter
	PointsDropped  *prometheus.CounterVec // reason
	BufferedPoints prometheus.Gauge
	InfluxUp       prometheus.Gauge
}

// NewMetrics creates sysmon's metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Samples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sysmon_samples_total", Help: "Host samples taken (one per interval), including samples where some input failed.",
		}),
		SampleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "sysmon_sample_duration_seconds", Help: "Wall time of one sample of every input.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms .. 4s
		}),
		InputErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sysmon_input_errors_total", Help: "Samples in which an input (measurement) failed; its points are missing from that sample.",
		}, []string{"input"}),
		PointsWritten: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sysmon_points_written_total", Help: "Points InfluxDB accepted.",
		}),
		WriteErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sysmon_write_errors_total", Help: "Write requests to InfluxDB that failed (unreachable, timeout, 5xx, 429 or rejected).",
		}),
		PointsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sysmon_points_dropped_total", Help: "Points never written, by reason: overflow (buffer full, oldest dropped), rejected (4xx from InfluxDB), shutdown (still buffered at exit).",
		}, []string{"reason"}),
		BufferedPoints: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sysmon_buffered_points", Help: "Points waiting to be written to InfluxDB, in-flight ones included.",
		}),
		InfluxUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "sysmon_influx_up", Help: "1 if the last write request to InfluxDB succeeded, 0 if it failed.",
		}),
	}
	for _, in := range inputs {
		m.InputErrors.WithLabelValues(in)
	}
	for _, r := range []string{dropOverflow, dropRejected, dropShutdown} {
		m.PointsDropped.WithLabelValues(r)
	}
	reg.MustRegister(m.Samples, m.SampleDuration, m.InputErrors, m.PointsWritten, m.WriteErrors,
		m.PointsDropped, m.BufferedPoints, m.InfluxUp)
	return m
}
