// Package testenv starts real servers for tests: each on free 127.0.0.1 ports, with its data
// in t.TempDir(), stopped by t.Cleanup, and never outliving the test binary.
//
// It is for tests only; nothing outside _test.go files should import it. The recipes of
// Kafka, Elasticsearch, etcd and Prometheus live in internal/servers, which the local stack
// (`make run`) shares; this package adds temp dirs, free ports, t.Cleanup, retries on a
// taken port (ports.go) and the missing-server policy (Missing).
//
// StartKafka runs a real Apache Kafka broker (single-node KRaft) as a child JVM. Its jars
// come from Maven Central through internal/servers/kafka/fetch.sh. StartKafkaCluster runs several such
// nodes (3 by default, each a broker and a KRaft controller, static quorum) with topics
// replicated to all of them and min.insync.replicas a majority, for the tests of acks=all and
// of leader and controller failover; it kills, pauses and restarts each node and tells a
// partition's leader and the active controller.
//
// StartElasticsearch runs a real Elasticsearch 7.17 node, started in-JVM by a small launcher
// (internal/servers/Launcher.java) from the server jars on Maven Central,
// fetched and compiled by internal/servers/elasticsearch/fetch.sh. Only the netty4 transport
// and mapper-extras are loaded: core analyzers only, no x-pack (no data streams or ILM).
// StartElasticsearchWithOptions runs OpenSearch 2.19 the same way (internal/servers/opensearch,
// with its published modules: analysis-common, painless, mapper-extras).
//
// EachEngine runs a test once per engine (SearchEngines: Elasticsearch and OpenSearch, or
// LOGCOLLECT_ENGINES) on nodes shared by the whole test binary (WithSharedSearchNodes in
// TestMain), so that a package starts each engine once. StartSearchCluster runs a cluster of
// nodes (3 for the loss of a node).
//
// StartInflux runs a real InfluxDB 1.8.10 (influxd, built by influx/fetch.sh with go install)
// on free loopback ports.
//
// StartPrometheus runs Debian's prometheus 2.42 (installed by `make setup`) with a config the
// test writes, and PromtoolBinary finds its promtool.
//
// `make setup` (internal/servers/setup.sh, which `make test` and .ci/run run first) installs
// or builds every server and tool above. A test that still finds one missing goes through
// Missing: it fails, naming what is missing and how to get it, unless the run is partial
// (-short, or LOGCOLLECT_PARTIAL=1 outside CI), where it is skipped and listed by `make
// test`'s summary (internal/testreport). No test passes by skipping silently. Under -short
// every Start* of a real server (not StartEtcd: embedded, under a second) and BuildBinaries
// skip the test, so `make test-short` starts no server.
//
// StartEtcd runs an embedded etcd server in the test process. kfake (franz-go's in-process
// Kafka) is used directly by the tests that need faults a real broker cannot give.
//
// BuildBinaries builds the binaries of cmd/ for tests that run them, and QuickStart reads the
// commands of the README's quick start for the tests that keep it working.
package testenv
