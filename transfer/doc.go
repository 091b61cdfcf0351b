// Package transfer is logtransfer's core: it consumes the log topics from
// Kafka in a consumer group and indexes every record into Elasticsearch with
// olivere/elastic, at least once and without duplicates in the index.
//
// # Flow
//
// [Transfer.Run] polls a batch (kgo.BlockRebalanceOnPoll: no rebalance while
// a batch is held), turns each record into a document (the agent's JSON
// record plus "kafka":{topic,partition,offset}; a non-JSON value becomes
// {"message", "@timestamp"}), with the agent's event id (record header
// logcollect.id) or else {topic}-{partition}-{offset} as its id, and the
// index from the index template and the document's @timestamp. A record of
// a topic that has a pipeline (package pipeline; pipelines.go) goes through
// it instead: decoded into an event with event.ingested set to its
// @timestamp (the read time), shaped by the steps, encoded with the kafka
// field; its index follows the @timestamp the pipeline left and its id
// stays the record's. A failed pipeline leaves the event as it came,
// flagged, and it is indexed; a dropped event has no document, and its
// record is acknowledged as if indexed (its offset may be committed). The
// set of pipelines is loaded once per batch, when its documents are built:
// a reload (SIGHUP, the etcd key) applies from the next batch. It cuts the
// batch into bulk requests (bulk.actions, bulk.bytes), sends them with
// bulk.workers at once, and classifies each item: accepted → acknowledged;
// 429, 5xx or no connection → sent again (the failed subset only) after an
// exponential backoff with jitter, fetching paused meanwhile; any other 4xx
// (mapping conflict…) → the record is produced to the DLQ topic with headers
// error.type, error.reason, source.id (the document id), source.topic,
// source.partition and source.offset, then acknowledged. An ackTracker
// finds per partition the highest offset below which every record is
// acknowledged; only that is committed (CommitRecords), and nothing is
// committed after partitions were lost. The next batch is polled and its
// documents built while one is indexed (at most two are held; batches are
// indexed in turn, so each partition keeps its order up to the bulk
// request); rebalances are allowed when none is held, at least every 3 s.
//
// Bulk bodies are written directly (bulkreq.go), not through olivere's
// BulkService, and Elasticsearch answers only each item's status and error:
// the transfer shares the machine with the node, and every CPU second it
// saves is one the node indexes with.
//
// # Lifecycle
//
// [New] validates the config and builds the Kafka client. Run connects to
// Elasticsearch (retrying, /readyz false meanwhile), installs the index
// template (if absent, or always with template.overwrite), consumes until
// its context is done, then finishes the batch in hand within
// shutdown_timeout, commits, leaves the group and returns.
//
// A redelivery — after kill -9, a failed commit or a rebalance — indexes the
// same ids again, and so does a line logagent sent twice (after its own
// crash, under a new Kafka offset but with the same event id): the index
// holds each line once. Records of topics without a pipeline are built by a
// scanner (document.go) without decoding them, the path logtransfer had
// before pipelines, unchanged.
package transfer
