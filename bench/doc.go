// Package bench holds the benchmark harnesses, built only with -tags bench:
// agent throughput (agent_bench_test.go), transfer throughput
// (transfer_bench_test.go), sysmon cost (sysmon_bench_test.go) and the
// comparison with peer shippers (peers_*_test.go, peers/install.sh); the
// process measurement they share (proc_test.go) and their settings from the
// environment (harness_test.go); and their helper commands: kfake (an
// in-memory broker as its own process), rawproducer (the franz-go ceiling)
// and agentprof (the agent code path with a CPU profile). See README.md.
package bench
