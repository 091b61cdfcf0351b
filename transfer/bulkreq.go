package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/internal/record"
)

// A bulk request is built and its answer read here rather than through
// olivere's BulkService: that one wraps every document in a
// BulkIndexRequest, marshals its action line through a map, and decodes an
// answer of ~200 bytes per item into a map and a struct each. logtransfer
// shares the machine with Elasticsearch, so every CPU second it spends is
// one the node does not index with: the body is written once into one
// buffer, and Elasticsearch is asked (filter_path) to answer only what is
// read, the status and error of each item, which also saves it serializing
// the rest. Error answers are not filtered by Elasticsearch.

// bulkFilter is the filter_path of a bulk request.
const bulkFilter = "items.*.status,items.*.error"

// bulkItem is one item of a bulk answer.
type bulkItem struct {
	Status int                   `json:"status"`
	Error  *elastic.ErrorDetails `json:"error"`
}

// bulkAnswer is the (filtered) answer to a bulk request. Every action is
// "index"; an item without it decodes as status 0, which is retried.
type bulkAnswer struct {
	Items []struct {
		Index bulkItem `json:"index"`
	} `json:"items"`
}

// actionOverhead is the length of an index action line without its index
// name and id: {"index":{"_index":"","_id":""}} and two newlines.
const actionOverhead = len(`{"index":{"_index":"","_id":""}}`) + 2

// bulkSize is the document's share of a bulk body, escapes not counted.
func (d *document) bulkSize() int {
	return len(d.body) + len(d.index) + len(d.id) + actionOverhead
}

// bulkBody is the NDJSON body indexing docs: an action line and the
// document's line each.
func bulkBody(docs []document) string {
	n := 0
	for i := range docs {
		n += docs[i].bulkSize()
	}
	var b strings.Builder // its String() does not copy the body
	b.Grow(n + n/64)      // room for a few escapes
	var action []byte
	for i := range docs {
		d := &docs[i]
		action = append(action[:0], `{"index":{"_index":`...)
		action = record.AppendJSONString(action, []byte(d.index))
		action = append(action, `,"_id":`...)
		action = record.AppendJSONString(action, []byte(d.id))
		action = append(action, "}}\n"...)
		b.Write(action)
		b.Write(d.body)
		b.WriteByte('\n')
	}
	return b.String()
}

// bulk sends docs in one bulk request and returns the status and error of
// each, in order. An error is a failure of the whole request (connection,
// or an HTTP error status, as an *elastic.Error), or an answer that does
// not have one item per document.
func bulk(ctx context.Context, es *elastic.Client, docs []document) ([]bulkItem, error) {
	resp, err := es.PerformRequest(ctx, elastic.PerformRequestOptions{
		Method:      "POST",
		Path:        "/_bulk",
		Params:      url.Values{"filter_path": {bulkFilter}},
		Body:        bulkBody(docs),
		ContentType: "application/x-ndjson",
	})
	if err != nil {
		return nil, err
	}
	var a bulkAnswer
	if err := json.Unmarshal(resp.Body, &a); err != nil {
		return nil, fmt.Errorf("bulk answer: %w", err)
	}
	if len(a.Items) != len(docs) {
		return nil, fmt.Errorf("bulk answer has %d items for %d documents", len(a.Items), len(docs))
	}
	items := make([]bulkItem, len(a.Items))
	for i := range a.Items {
		items[i] = a.Items[i].Index
	}
	return items, nil
}
