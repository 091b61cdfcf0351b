// Package pipeline parses and shapes log events before they are indexed:
// logtransfer runs a pipeline on every record of the topics it is configured
// for, and `logctl pipeline test` runs the same code on sample lines. It is
// its own package, importing no service, so that what logctl shows is what
// logtransfer indexes.
//
// A pipeline is a named list of processors for some topics (Config). Each
// processor is one step: parse a field (json, dissect, grok, the nginx,
// syslog, cri and docker presets), take the event's time from it
// (timestamp), or reshape it (set, rename, remove, convert, drop). Any step
// may carry an `if:` condition, an expr-lang expression over the event's
// dotted field names such as `url.original == "/healthz"`.
//
// The rules every pipeline keeps, whatever its processors:
//   - No event is lost by a pipeline. A step that fails (no match, bad JSON,
//     a bad date) stops the pipeline and the event leaves it as it came in,
//     with error.message naming the pipeline and the step and the tag
//     _pipeline_error, so it is still indexed and can be found. Only a drop
//     step removes an event, on purpose.
//   - A configuration that does not compile is refused as a whole, its error
//     naming the pipeline and the step; the caller keeps the set it runs.
//   - Fields are nested maps, as Elasticsearch stores them: "url.original" is
//     the key "original" of the map under "url".
//   - What logctl shows is what logtransfer indexes: both build a record's
//     document with BuildDocument (RecordEvent, Run, AppendJSON), which sets
//     event.ingested to the read time before the steps run.
package pipeline
