// Package e2e runs the whole pipeline the way users run it: the built logagent, logtransfer
// and sysmon binaries against real Kafka, Elasticsearch, etcd and InfluxDB, scraped by a real
// Prometheus loaded with the shipped deploy/prometheus config and alert rules.
//
// It checks what no unit test can: that the dashboards and alerts in dashboards/ ask for
// metrics the binaries really export, that every panel shows data from a live pipeline, and
// that an outage fires the alert meant for it. The package has no code outside its tests.
package e2e
