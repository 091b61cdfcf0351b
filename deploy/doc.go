// Package deploy holds the deployment files of logcollect and the tests that
// keep them working. Its only code, PrometheusConfig, gives tests that run a
// real Prometheus the production scrape and rule config pointed at their own
// binaries.
//
// The files:
//
//   - config/: example configs of logagent, logtransfer and sysmon, and the
//     demo collect config, as docker-compose.yml mounts them;
//   - prometheus/prometheus.yml: the scrape jobs logagent, logtransfer and
//     sysmon, and the alert rules of dashboards/prometheus;
//   - grafana/provisioning/: the Prometheus and InfluxDB data sources and the
//     provider of the dashboards in dashboards/grafana;
//   - influxdb/, compose/: the init script and the demo log generator of
//     docker-compose.yml;
//   - systemd/: hardened units of the three daemons;
//   - kubernetes/: logagent as a DaemonSet, logtransfer as a Deployment.
//
// The tests load every example config with the binaries' own loaders and
// validators, run promtool and systemd-analyze (which `make setup` installs;
// without them the tests fail unless the run is partial), parse the Kubernetes manifests, and load
// ../docker-compose.yml with the compose-spec loader to check that the stack
// fits together: dependencies have health checks, mounted files exist and
// are valid, ports and scrape targets agree. There is no Docker engine on the
// machines that run them: nothing here starts a container. How to use the
// files is in docs/deployment.md.
package deploy
