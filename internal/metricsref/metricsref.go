// Package metricsref lists every metric logcollect's binaries export, built
// the way the binaries build them, for the tests that check the dashboards,
// the alerts and the metrics reference (docs/metrics.md) against what really
// exists.
package metricsref

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/metrics"
	"github.com/logcollect/logcollect/sysmon"
	"github.com/logcollect/logcollect/transfer"
)

// Metric is an exported metric's type (counter, gauge, histogram, summary,
// untyped) and variable label names.
type Metric struct {
	Type   string
	Labels []string
}

// All returns the metrics of logagent, logtransfer and sysmon and those of
// the shared registry (logcollect_build_info, go_*, process_*), by name.
func All() (map[string]Metric, error) {
	out := map[string]Metric{}
	rec := &recorder{}
	agent.NewMetrics(rec)
	transfer.NewMetrics(rec)
	sysmon.NewMetrics(rec)
	for _, c := range rec.collectors {
		typ, err := collectorType(c)
		if err != nil {
			return nil, err
		}
		ch := make(chan *prometheus.Desc, 16)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			name, labels, err := descNameAndLabels(d)
			if err != nil {
				return nil, err
			}
			if _, ok := out[name]; ok {
				return nil, fmt.Errorf("%s registered twice", name)
			}
			out[name] = Metric{Type: typ, Labels: labels}
		}
	}
	mfs, err := metrics.NewRegistry(metrics.DefaultBuildInfo()).Gather()
	if err != nil {
		return nil, err
	}
	for _, mf := range mfs {
		var labels []string
		if len(mf.GetMetric()) > 0 {
			for _, lp := range mf.GetMetric()[0].GetLabel() {
				labels = append(labels, lp.GetName())
			}
		}
		out[mf.GetName()] = Metric{Type: strings.ToLower(mf.GetType().String()), Labels: labels}
	}
	return out, nil
}

// recorder is a prometheus.Registerer that keeps what is registered, so that
// vectors without series yet are seen too (a Gather would miss them).
type recorder struct{ collectors []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recorder) Unregister(prometheus.Collector) bool { return false }

// descNameAndLabels reads the name and variable labels of a Desc from its
// String form, "Desc{fqName: "x", help: "...", ..., variableLabels: {a,b}}";
// client_golang has no accessor for them.
func descNameAndLabels(d *prometheus.Desc) (string, []string, error) {
	s := d.String()
	rest, ok := strings.CutPrefix(s, "Desc{fqName: ")
	if !ok {
		return "", nil, fmt.Errorf("unexpected Desc format %q", s)
	}
	quoted, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", nil, fmt.Errorf("desc %q: %w", s, err)
	}
	name, _ := strconv.Unquote(quoted)
	i := strings.LastIndex(s, "variableLabels: {")
	if i < 0 || !strings.HasSuffix(s, "}}") {
		return "", nil, fmt.Errorf("desc %q: no variableLabels", s)
	}
	var labels []string
	if inner := s[i+len("variableLabels: {") : len(s)-2]; inner != "" {
		for _, l := range strings.Split(inner, ",") {
			labels = append(labels, strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")")) // c(...): a constrained label
		}
	}
	return name, labels, nil
}

// typedCollector is a custom collector that says its metric's type: it may
// have no series to look at (agent.LagBytes, computed on scrape).
type typedCollector interface {
	prometheus.Collector
	MetricType() string
}

func collectorType(c prometheus.Collector) (string, error) {
	switch v := c.(type) {
	case *prometheus.CounterVec:
		return "counter", nil
	case *prometheus.GaugeVec:
		return "gauge", nil
	case *prometheus.HistogramVec:
		return "histogram", nil
	case *prometheus.SummaryVec:
		return "summary", nil
	case typedCollector:
		return v.MetricType(), nil
	case prometheus.Metric:
		var m dto.Metric
		if err := v.Write(&m); err != nil {
			return "", err
		}
		switch {
		case m.Counter != nil:
			return "counter", nil
		case m.Gauge != nil:
			return "gauge", nil
		case m.Histogram != nil:
			return "histogram", nil
		case m.Summary != nil:
			return "summary", nil
		}
	}
	return "", fmt.Errorf("collector %T: unknown metric type", c)
}
