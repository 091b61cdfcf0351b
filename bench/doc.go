// Package bench holds the agent throughput benchmark (agent_bench_test.go,
// built only with -tags bench) and its helper commands: kfake (an in-memory
// broker as its own process), rawproducer (the franz-go ceiling) and agentprof
// (the agent code path with a CPU profile). See README.md.
package bench
