// Package chaos proves the whole pipeline under repeated faults: the built logagent and
// logtransfer binaries ship numbered lines through a real Kafka broker (a 3-broker cluster for
// broker-failover) into a real Elasticsearch node while a scenario kills the daemons, stops or
// kills the servers, rotates the files, churns the collect config or breaks the agent's offset
// registry. At the end every line must
// be in the index (count and content), every Kafka record indexed exactly once, and each file's
// lines in order in Kafka. Each scenario prints the figures that RELIABILITY.md publishes.
//
// TestTransferGroup runs logtransfer as a consumer group of up to 3 instances, scaled out and
// in and killed under a steady load, and measures the pause of each step; TestEtcdCluster
// runs simulated agents (internal/fleet), logtransfer's topics watch and logctl's code against
// a 3-member etcd cluster whose leader is killed or stopped (issue 17).
//
// `go test ./internal/chaos` runs a short version (testing.Short skips it); `make chaos` the
// full sizes, set by CHAOS_LINES and CHAOS_FAULTS. The package has no code outside its tests.
package chaos
