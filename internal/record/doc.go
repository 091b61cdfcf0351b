// Package record is the contract between logagent and logtransfer: what a
// Kafka record carries besides its value, and how its JSON strings are
// written. Both services import it; it imports neither, so the agent can
// change how it reads files and the transfer how it indexes without the two
// drifting apart on the wire.
//
// A record's value is either the agent's ECS-style JSON event or the raw
// line (a task's format), and its IDHeader carries the event id that
// logtransfer uses as the Elasticsearch document id.
package record
