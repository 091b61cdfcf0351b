// Package esindex forms logtransfer's index names and recognises them again.
//
// logtransfer names each document's index from its `index` setting, such as
// "{topic}-{yyyy.MM.dd}": the lower-cased topic and the document's
// @timestamp in UTC. Retention (logtransfer's retention.max_age) and
// `logctl indices prune` delete whole indices once every document they can
// hold is older than a maximum age; both must take for logtransfer's only
// what that template makes, and agree on how old an index is, so the rule
// lives here, once, with the names: [Template.Name] forms a name,
// [Template.Match] reads the topic and the period (an hour, a day, a month
// or a year: the finest date field of the template) back from a name, and
// an index is old when its period ended at least the maximum age ago
// ([Index.OlderThan]). A name another tool gave, a hidden or system index
// (".kibana", ".monitoring-…"), or a date that does not round-trip is no
// match, whatever the pattern; and [List] also leaves out an index whose
// mapping lacks kafka.topic, which every document logtransfer writes has
// (another tool's daily index with a look-alike name,
// "filebeat-7.17.0-2026.01.01").
//
// List and Delete are the two requests both need (_cat/indices, DELETE by
// exact name, an absent index counting as deleted by someone else).
package esindex
