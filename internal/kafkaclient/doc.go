// Package kafkaclient builds the franz-go clients of logcollect: logagent's
// producer, logtransfer's consumer group (and its dead-letter producer) and
// logctl's admin client. They share one connection config (brokers, client
// id, TLS, SASL) with one set of validation rules and messages, so that a
// broker list, a CA file or a SASL mechanism that works for one binary works
// for all of them.
//
// It also holds what every client of the project wants and franz-go does not
// do by default: a zstd compressor tuned for log batches (zstd.go), a log
// handler that keeps the client's routine info messages out of the log, and
// a readiness check whose error names the brokers.
package kafkaclient
