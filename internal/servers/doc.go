// Package servers starts the real servers logcollect runs against — an Apache Kafka broker
// (single-node KRaft, child JVM), an Elasticsearch 7.17 or OpenSearch 2.19 node (child JVM,
// started by Launcher.java; alone or one of a cluster), an embedded etcd and a Prometheus —
// from a data dir and fixed loopback ports given by the caller.
//
// Why a package of its own: the tests (internal/testenv, which wraps it with testing.TB, temp
// dirs and free ports) and the local stack (`make run`, internal/devstack, which keeps its
// state under ./var so a second run resumes) need the same recipes, and the recipes are where
// the hard-won details live (KRaft formatting, class-data-sharing archives, JVM flags, ES
// settings). One copy, two callers.
//
// The Kafka, Elasticsearch and OpenSearch jars come from Maven Central through kafka/fetch.sh,
// elasticsearch/fetch.sh and opensearch/fetch.sh (the latter two share searchnode-fetch.sh)
// into ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}; KafkaLibs and Engine.Home find them.
// setup.sh (`make setup`) runs every server's fetch script (here and in internal/testenv) and
// installs the Debian packages the tests run.
//
// A JVM binds its ports seconds after they were chosen: a Start that fails because one was
// taken returns an error wrapping ErrPortInUse, and WaitPortsFree waits for a restart's ports.
//
// A server's children run in their own process group and are killed if the process that
// started them dies (Pdeathsig), so none outlives its caller. Start and Stop are not safe for
// concurrent use (Etcd's are).
package servers
