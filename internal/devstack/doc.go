// Package devstack runs the whole logcollect pipeline on one machine for `make run` (through
// cmd/logcollect-dev): embedded etcd, Kafka (the real broker, or the in-process kfake for a
// start in seconds), Elasticsearch, a demo generator of nginx lines, and the real logagent,
// logtransfer and sysmon binaries, plus Prometheus on request.
//
// Why it exists: a new user should see logs flow end to end, searchable and measured, with
// one command and no Docker engine. It uses the same server recipes as the tests
// (internal/servers) and the binaries users deploy, so what it shows is what they get.
//
// All state is under one dir (./var by default): the servers' data, the agent's offsets, the
// demo logs, every process's log file. The ports are fixed, so a second run resumes where the
// first stopped: the agent continues from its committed offsets, and logtransfer's
// deterministic document ids keep Elasticsearch free of duplicates.
package devstack
