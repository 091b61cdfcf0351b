// Package docs holds logcollect's reference documentation and the tests that keep it
// current. The README is the front door; what it links to for depth lives here:
//
//	configuration.md  every config key of logagent, logtransfer and sysmon, and logctl's flags
//	pipelines.md      logtransfer's pipelines: what happens to a record, reloads, each processor type
//	metrics.md        the endpoints and every exported metric, with type and labels
//	runbook.md        one entry per alert of dashboards/prometheus/alerts.yml
//	guarantees.md     how delivery is at least once and without duplicates, and its limits
//	deployment.md     docker compose, systemd, Kubernetes, monitoring
//
// The package exists so that the tests guarding these pages sit beside them rather than in
// the packages whose code they describe: `go test ./docs` compares the configuration
// reference with the config structs, the processor sections of the pipelines page with
// the processor types registered in package pipeline, the metrics reference with the metrics the binaries
// register (internal/metricsref), the runbook with the alert rules and their runbook_url
// annotations, the deployment page with the files in deploy/, each binary's
// cmd/<name>/README.md with Telegraf's per-plugin sections, and every relative link of the
// repository's Markdown with the file and heading it points to.
//
// One check cannot live here: logctl's flags are defined in package main of cmd/logctl,
// which no other package can import, so that package's tests check them against
// configuration.md with Sections and TableRows.
package docs
