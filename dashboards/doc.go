// Package dashboards holds the monitoring artefacts of logcollect and the
// code that keeps them honest: the Grafana dashboards (grafana/), the
// Prometheus alert rules and their promtool tests (prometheus/), and the
// Kibana saved objects (kibana/).
//
// Why the dashboards are generated from Go: a dashboard JSON written by hand
// (or exported from a Grafana UI) is thousands of lines nobody reviews, so a
// metric renamed in a binary or a unit forgotten on a panel goes unnoticed
// until someone looks at an empty graph during an incident. Here every panel
// is a few lines of Go built with the Grafana Foundation SDK
// (github.com/grafana/grafana-foundation-sdk/go, Apache-2.0, no
// dependencies), `go generate ./dashboards` writes the JSON that Grafana
// provisions, and the tests fail when
//
//   - the checked-in JSON differs from what the code generates (someone
//     edited the JSON, or forgot to regenerate);
//   - a panel has no unit or no description saying what a bad value means;
//   - a metric named in a PromQL expression of a dashboard or an alert rule
//     is not one the binaries export (the names are read from the agent,
//     transfer, sysmon and metrics packages themselves, and the expressions
//     are parsed with Prometheus's own PromQL parser, not matched with
//     regular expressions);
//   - promtool rejects the rules or one of their unit tests fails;
//   - a Kibana saved object is malformed or references an object that is not
//     in the file.
//
// Grafana and Kibana cannot run on the project's machines, so the live test
// of the pipeline checks these files by running their queries against the
// real Prometheus, InfluxDB and Elasticsearch. This package gives it what it
// needs: [Files] (the checked-in artefacts, embedded), [Queries] and
// [Query.Expand] (every panel query with its template variables filled in),
// [AlertRules] and the alert names, [UsedMetrics], and [LoadKibana] with
// [SavedSearch.SearchBody] and [Visualization.SearchBody].
package dashboards
