// Package metrics is the observability plumbing shared by every logcollect
// binary (logagent, logtransfer, sysmon): a Prometheus registry with the
// standard collectors and a build-info gauge, and one small HTTP server that
// exposes /metrics, /healthz and /readyz.
//
// Why a package of its own: all binaries must expose the same endpoints with
// the same semantics, so that one Prometheus scrape config, one Kubernetes
// probe definition and one set of dashboards fit all of them. Keeping it here
// means a fix (a timeout, a handler option) lands everywhere at once.
//
// Why a fresh registry instead of prometheus.DefaultRegisterer: what a binary
// exposes is exactly what its main registers, tests can build as many
// independent registries as they like, and no library can add metrics behind
// our back through an init function.
//
// Endpoints:
//
//   - /metrics serves the registry (Prometheus text or OpenMetrics, by content
//     negotiation), with at most 10 concurrent scrapes.
//   - /healthz answers 200 "ok" as long as the process can serve HTTP
//     (liveness). It never checks dependencies: restarting the process does
//     not fix an unreachable Kafka.
//   - /readyz runs every check registered in a [Readiness], concurrently and
//     each with a timeout, and answers 200 when all pass or 503 with one
//     "name: error" line per failing check (readiness).
//
// Lifecycle: [NewServer] validates the config and binds the address, so a
// bad or busy address fails at startup; [Server.Run] serves until its
// context is done and then shuts down gracefully. [Serve] does both.
//
// The build version is set at link time:
//
//	go build -ldflags "-X github.com/logcollect/logcollect/metrics.Version=v1.2.3 \
//	    -X github.com/logcollect/logcollect/metrics.Revision=$(git rev-parse HEAD)"
//
// The Makefile's build target does this for every binary in cmd/.
package metrics
