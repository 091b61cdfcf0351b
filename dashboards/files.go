package dashboards

import (
	"bytes"
	"embed"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// Files holds the checked-in artefacts, so that tests anywhere in the module
// (the live pipeline test in particular) use exactly what ships, without
// locating the repository on disk:
//
//	grafana/logcollect-pipeline.json   PipelineFile
//	grafana/hosts.json                 HostsFile
//	prometheus/alerts.yml              AlertsFile
//	prometheus/alerts_test.yml         promtool unit tests of the rules
//	kibana/logcollect.ndjson           KibanaFile
//
//go:embed grafana/*.json prometheus/*.yml kibana/*.ndjson
var Files embed.FS

// Paths of the other artefacts in Files (and in this directory).
const (
	AlertsFile     = "prometheus/alerts.yml"
	AlertTestsFile = "prometheus/alerts_test.yml"
	KibanaFile     = "kibana/logcollect.ndjson"
)

// ScrapeJobs are the Prometheus scrape job names the alert rules expect
// (`up{job="..."}`); deploy/prometheus/prometheus.yml uses the same.
var ScrapeJobs = []string{"logagent", "logtransfer", "sysmon"}

// Names of the alerts a live test can provoke by stopping a server. Their
// expressions turn true within a scrape or two of the fault, so the alert
// shows as "pending" in Prometheus's /api/v1/alerts well before its `for:`
// makes it fire.
const (
	// Elasticsearch stopped: logtransfer_es_up drops to 0 at the transfer's
	// next ping (every 10 s), with a backlog in Kafka.
	AlertTransferStalled = "LogtransferStalled"
	// Elasticsearch stopped while records arrive: bulk requests fail and
	// logtransfer_index_errors_total{reason="connection"} grows.
	AlertIndexErrors = "LogtransferIndexErrors"
	// Elasticsearch stopped: logtransfer_es_up == 0.
	AlertElasticsearchUnreachable = "LogtransferElasticsearchUnreachable"
)

// AllQueries returns the queries of both embedded dashboards: the pipeline
// dashboard's (Prometheus) first, then the hosts dashboard's (InfluxDB).
func AllQueries() ([]Query, error) {
	var all []Query
	for _, name := range []string{PipelineFile, HostsFile} {
		data, err := Files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		qs, err := Queries(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, qs...)
	}
	return all, nil
}

// AlertRule is one alerting rule of alerts.yml.
type AlertRule struct {
	Group       string            `yaml:"-"`
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// AlertRules parses the embedded alerts.yml.
func AlertRules() ([]AlertRule, error) {
	data, err := Files.ReadFile(AlertsFile)
	if err != nil {
		return nil, err
	}
	return ParseAlertRules(data)
}

// ParseAlertRules reads a Prometheus rule file and returns its alerting rules
// in file order (recording rules are skipped). Unknown keys are an error, as
// in Prometheus.
func ParseAlertRules(data []byte) ([]AlertRule, error) {
	var f struct {
		Groups []struct {
			Name     string `yaml:"name"`
			Interval string `yaml:"interval"`
			Rules    []struct {
				AlertRule `yaml:",inline"`
				Record    string `yaml:"record"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse rules: %w", err)
	}
	var rules []AlertRule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				continue
			}
			r.AlertRule.Group = g.Name
			rules = append(rules, r.AlertRule)
		}
	}
	return rules, nil
}
