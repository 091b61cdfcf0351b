// Package testenv starts real servers for tests: each on free 127.0.0.1 ports, with its data
// in t.TempDir(), stopped by t.Cleanup, and never outliving the test binary.
//
// It is for tests only; nothing outside _test.go files should import it.
//
// StartKafka runs a real Apache Kafka broker (single-node KRaft) as a child JVM. Its jars
// come from Maven Central through kafka/fetch.sh; without them the tests that need the broker
// are skipped, or fail when CI=true.
package testenv
