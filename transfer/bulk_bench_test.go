package transfer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/esindex"
)

// Micro-benchmarks of logtransfer's per-record hot path, for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./transfer/ > old.txt

// benchAgentRecord is the i-th record as logagent's format: json sends it:
// its envelope around an nginx line of about 200 bytes.
func benchAgentRecord(i int) []byte {
	line := fmt.Sprintf(`10.%d.%d.%d - - [25/Nov/2026:14:23:%02d +0000] "GET /api/v1/items/%d?page=%d HTTP/1.1" 200 %d "https://example.com/list" "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"`,
		i%256, i/256%256, i/65536%256, i%60, i*7919%100000, i%17, 512+i%4096)
	msg, _ := json.Marshal(line)
	return fmt.Appendf(nil, `{"@timestamp":"2026-11-25T14:23:%02d.%09dZ","message":%s,"host":{"name":"web-1","ip":"10.0.0.7"},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":%d}}`,
		i%60, i*7919%1000000000, msg, i*200)
}

func benchRecord(i int, value []byte) *kgo.Record {
	return &kgo.Record{Topic: "nginx", Partition: int32(i % 4), Offset: int64(i), Value: value,
		Timestamp: time.Date(2026, 11, 25, 14, 23, 0, 0, time.UTC)}
}

// bulkActions and bulkBytes are logtransfer's default bulk.actions and
// bulk.bytes.
const (
	bulkActions = 5000
	bulkBytes   = 5 << 20
)

func benchNamer(b *testing.B) *esindex.Template {
	n, err := esindex.Parse("{topic}-{yyyy.MM.dd}")
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkBuildDocument turns one record into a document (id, index name,
// body with the kafka field): the agent's JSON envelope, a record that has
// its own "kafka" field, a pretty-printed JSON record (compacted to one
// line), and a plain-text record.
func BenchmarkBuildDocument(b *testing.B) {
	agentRec := benchAgentRecord(1)
	ownKafka := []byte(strings.Replace(string(agentRec), `{"@timestamp"`, `{"kafka":{"cluster":"a"},"@timestamp"`, 1))
	var pretty []byte
	{
		var v any
		_ = json.Unmarshal(agentRec, &v)
		pretty, _ = json.MarshalIndent(v, "", "  ")
	}
	var m map[string]any
	_ = json.Unmarshal(agentRec, &m)
	text := []byte(m["message"].(string))
	namer := benchNamer(b)
	for _, bc := range []struct {
		name  string
		value []byte
	}{
		{"agent_json", agentRec},
		{"own_kafka_field", ownKafka},
		{"multiline_json", pretty},
		{"plain_text", text},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := benchRecord(1, bc.value)
			b.SetBytes(int64(len(bc.value)))
			b.ReportAllocs()
			for b.Loop() {
				d := buildDocument(r, namer)
				if len(d.body) == 0 {
					b.Fatal("empty document")
				}
			}
		})
	}
}

// BenchmarkBulkBody is what logtransfer does with a batch of N agent
// records before the HTTP request: a document per record, the batch split
// by bulk.actions and bulk.bytes (defaults), and each chunk's NDJSON body.
// ns/op and B/op are per batch, B/s counts the record bytes, and ns/doc is
// per record.
func BenchmarkBulkBody(b *testing.B) {
	namer := benchNamer(b)
	for _, n := range []int{100, 5000} {
		b.Run("docs="+strconv.Itoa(n), func(b *testing.B) {
			recs := make([]*kgo.Record, n)
			size := 0
			for i := range recs {
				recs[i] = benchRecord(i, benchAgentRecord(i))
				size += len(recs[i].Value)
			}
			docs := make([]document, n)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for i, r := range recs {
					docs[i] = buildDocument(r, namer)
				}
				for _, chunk := range splitDocs(docs, bulkActions, bulkBytes) {
					if body := bulkBody(chunk); len(body) == 0 {
						b.Fatal("empty body")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/doc")
		})
	}
}

// BenchmarkBuildDocumentPipeline builds the document of an agent record
// without a pipeline (the fast path, as BenchmarkBuildDocument/agent_json)
// and through a pipeline of a drop condition (false on these records), a
// set and a rename: decode, run, encode, and the observation of the build
// in logtransfer_pipeline_duration_seconds.
func BenchmarkBuildDocumentPipeline(b *testing.B) {
	_, ps := testTransfer(b, pipelinesOf(b, `[{name: web, topics: [nginx], processors: [
		{drop: {if: 'message contains "GET /healthz"'}},
		{set: {fields: {event.dataset: nginx.access}}},
		{rename: {fields: {host.name: host.hostname}}}]}]`))
	namer := benchNamer(b)
	r := benchRecord(1, benchAgentRecord(1))
	p := ps.set.For("nginx")
	pm := ps.metrics[p]
	var arena bodyArena // as buildDocuments encodes a batch
	for _, bc := range []struct {
		name  string
		build func() document
	}{
		{"no_pipeline", func() document { return buildDocument(r, namer) }},
		{"pipeline", func() document { d, _ := buildPipelineDocument(r, namer, p, pm, &arena); return d }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(r.Value)))
			b.ReportAllocs()
			for b.Loop() {
				if d := bc.build(); len(d.body) == 0 {
					b.Fatal("no document")
				}
			}
		})
	}
}
