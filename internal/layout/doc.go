// Package layout has no code: its test checks the import rules that keep logcollect's
// services apart. `make lint` runs it (and `make test` does, as every test).
//
// Why: the services are meant to meet only through small shared packages, and the binaries to
// link only what they need. Nothing checked it, so it crept: transfer and logctl imported the
// agent for its client factories, the agent's config embedded sysmon's, and as a result
// logtransfer linked gopsutil, the InfluxDB client and the file tailer, and logctl the embedded
// etcd server, kfake and the JVM launchers (issue 15). A rule checked by a test stays kept.
//
// The rules, in layout_test.go as a table (name, packages, forbidden dependencies,
// exceptions):
//
//   - agent ↛ transfer and transfer ↛ agent, subpackages included (transfer/transfertest is
//     test infrastructure, and forbidden to the agent like the rest of transfer/).
//   - services ↛ sysmon: only sysmon itself, cmd/sysmon and cmd/logagent (which runs sysmon
//     in-process) may depend on sysmon; test infrastructure and bench/ too.
//   - logctl ↛ services: cmd/logctl and internal/ctl reach the agents' and logtransfer's data
//     through the shared packages, not through agent/, transfer/ or sysmon/.
//   - no package ↛ cmd/: the binaries are mains, importing nothing of each other.
//   - production ↛ test infrastructure: internal/testenv, internal/servers, internal/chaos,
//     internal/e2e, internal/metricsref, transfer/transfertest, kfake and the embedded etcd
//     server are for tests, except in the dev stack of `make run` (internal/devstack,
//     cmd/logcollect-dev), which runs the servers, and in the harnesses of bench/.
//   - logctl ↛ dev stack: the operator's binary links no test server.
//   - the logtransfer binary links neither gopsutil, the InfluxDB client, nxadm/tail nor
//     fsnotify; logctl none of the first three.
//   - the shared packages (internal/config, internal/kafkaclient, internal/etcdclient,
//     internal/esclient, internal/esindex, internal/record, internal/collect, internal/retry,
//     metrics, and pipeline, which logtransfer and logctl share) import no service.
//
// The rules are on production code: the non-test .go files, transitively (go list -deps), so a
// forbidden package is found however deep it is, and reported with the chain of imports that
// reaches it, e.g. "cmd/logtransfer imports sysmon (via transfer → agent → sysmon)". Test files
// may import test infrastructure, and cross-checks such as deploy's config tests load every
// binary's config; a rule that also holds for the direct imports of test files says so
// (tests: true).
package layout
