package record

// IDHeader is the Kafka record header that carries an event's id,
// "{epoch}-{offset}": the epoch logagent's registry gave the file's current
// content and the byte offset where the event starts. Reading a file again
// from a committed offset, after a crash or a failed send, gives each line
// the id it had, so logtransfer, which uses the header as the Elasticsearch
// document id, overwrites instead of duplicating.
const IDHeader = "logcollect.id"
