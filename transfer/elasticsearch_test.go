package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/dashboards"
	"github.com/logcollect/logcollect/internal/testenv"
)

// esCount refreshes the indices of topic and counts their documents, or
// returns -1 when Elasticsearch does not answer.
func esCount(ctx context.Context, es *elastic.Client, index string) int {
	if _, err := es.Refresh(index).Do(ctx); err != nil {
		return -1
	}
	n, err := es.Count(index).Do(ctx)
	if err != nil {
		return -1
	}
	return int(n)
}

// Against a real node of each engine (Elasticsearch 7.17, OpenSearch 2.19:
// testenv.EachEngine): records are indexed and found again by _count and by
// a search; a real mapping conflict goes to the DLQ while the rest flows; the
// node stopped and started again loses nothing and duplicates nothing.
func TestRealElasticsearch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	testenv.EachEngine(t, testRealElasticsearch)
}

func testRealElasticsearch(t *testing.T, node *testenv.Elasticsearch) {
	brokers := startKfake(t, 3)
	ctx := context.Background()
	es := node.Client(t)

	const n = 10000
	// Record 700's message is an object: a mapping conflict with the
	// template's message: text.
	produceAgentRecords(t, brokers, "nginx", 0, n, func(i int, v []byte) []byte {
		if i == 700 {
			return []byte(`{"@timestamp":"2026-01-01T00:00:00Z","message":{"poison":true}}`)
		}
		return v
	})
	cfg := testConfig(brokers, node.URL(), "nginx")
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Template.Name = "nginx" // the node is shared: a template of its own
	cfg.Index = "{topic}"       // one index: the poison record's date is not today
	cfg.Bulk.Actions = 2500
	start := time.Now()
	r := startTransfer(t, cfg)
	require.Eventually(t, func() bool { return esCount(ctx, es, "nginx") == n-1 }, 60*time.Second, 200*time.Millisecond)
	t.Logf("%d documents indexed into %s in %s", n-1, node.Version(), time.Since(start))
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "nginx")
	require.Equal(t, float64(1), r.metric(t, "logtransfer_dlq_records_total"))
	require.Equal(t, float64(1), testRecordsIn(t, brokers, "nginx.dlq", "mapper_parsing_exception"))

	// The template's mapping applies.
	types := node.FieldTypes(t, "nginx")
	require.Equal(t, "keyword", types["host.name"])
	require.Equal(t, "text", types["message"])
	require.Equal(t, "long", types["log.offset"])

	// Search back by query.
	res, err := es.Search("nginx").Query(elastic.NewMatchPhraseQuery("message", "line 00001234")).Do(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.TotalHits())
	require.Contains(t, string(res.Hits.Hits[0].Source), `"log":{"file":{"path":"/var/log/app`)
	require.Regexp(t, `^nginx-\d-\d+$`, res.Hits.Hits[0].Id)

	// Node down: nothing is committed, lag grows; node back: nothing lost.
	require.NoError(t, node.Stop())
	produceAgentRecords(t, brokers, "nginx", n, n+3000, nil)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_es_up") == 0 }, 15*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_consumer_lag") > 0 }, 5*time.Second, 20*time.Millisecond)
	require.NoError(t, node.Start())
	require.Eventually(t, func() bool { return esCount(ctx, es, "nginx") == n+3000-1 }, 60*time.Second, 200*time.Millisecond)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "nginx")
	require.Equal(t, float64(1), r.metric(t, "logtransfer_es_up"))
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, n+3000-1, esCount(ctx, es, "nginx"), "no duplicates: ids are deterministic")
}

// testRecordsIn counts the records of topic whose error.type header is typ.
func testRecordsIn(t *testing.T, brokers []string, topic, typ string) float64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n float64
	for ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			for _, h := range r.Headers {
				if h.Key == "error.type" && strings.Contains(string(h.Value), typ) {
					n++
				}
			}
		})
	}
	return n
}

// Real Kafka 4.4 and a real node of each engine: agent-style records are
// consumed, indexed into daily indices, found by _count and by a search, and
// the group's offsets are committed to the end.
func TestRealKafkaAndElasticsearch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka and Elasticsearch")
	}
	kafka := testenv.StartKafka(t)
	testenv.EachEngine(t, func(t *testing.T, node *testenv.Elasticsearch) {
		testRealKafkaAndElasticsearch(t, kafka.Brokers(), node)
	})
}

func testRealKafkaAndElasticsearch(t *testing.T, brokers []string, node *testenv.Elasticsearch) {
	ctx := context.Background()
	es := node.Client(t)
	const n = 5000
	topic := "applog-" + node.Engine().Name // one broker for the engines: a topic each
	produceAgentRecords(t, brokers, topic, 0, n, nil)
	cfg := testConfig(brokers, node.URL(), topic)
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Template.Name = topic
	start := time.Now()
	r := startTransfer(t, cfg)
	require.Eventually(t, func() bool { return esCount(ctx, es, topic+"-*") == n }, 60*time.Second, 200*time.Millisecond)
	t.Logf("%d records from %v into %s in %s", n, brokers, node.Version(), time.Since(start))
	requireAllCommitted(t, brokers, cfg.Kafka.Group, topic)
	// Each document is in the daily index of its own @timestamp.
	all, err := es.Search(topic + "-*").Size(n).Do(ctx)
	require.NoError(t, err)
	require.Len(t, all.Hits.Hits, n)
	for _, h := range all.Hits.Hits {
		var d struct {
			Timestamp time.Time `json:"@timestamp"`
		}
		require.NoError(t, json.Unmarshal(h.Source, &d))
		require.Equal(t, topic+"-"+d.Timestamp.UTC().Format("2006.01.02"), h.Index, "daily index from @timestamp")
	}
	res, err := es.Search(topic + "-*").
		Query(elastic.NewBoolQuery().Filter(
			elastic.NewTermQuery("host.name", "web-1"),
			elastic.NewTermQuery("kafka.topic", topic),
			elastic.NewMatchPhraseQuery("message", "line 00004321"))).Do(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.TotalHits())
	require.Equal(t, float64(n), r.metric(t, "logtransfer_docs_indexed_total"))
}

// Pipeline output in a real node of each engine, with the template
// logtransfer installs: the ECS fields get their types (status code and
// bytes long, source.ip ip, message text with a keyword, event.ingested
// date), so a range query on http.response.status_code and a terms
// aggregation count what the records hold; a document whose field does not
// fit its mapping still goes to the DLQ.
func TestRealElasticsearchPipelines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	testenv.EachEngine(t, testRealElasticsearchPipelines)
}

func testRealElasticsearchPipelines(t *testing.T, node *testenv.Elasticsearch) {
	brokers := startKfake(t, 2)
	ctx := context.Background()
	es := node.Client(t)

	const n = 2000
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	statuses := []int{200, 200, 200, 404, 500, 503, 301}
	var want5xx, wantHealth int
	wantMethods := map[string]int64{}
	produceAgentRecords(t, brokers, "access", 0, n, func(i int, v []byte) []byte {
		path := fmt.Sprintf("/api/items/%d", i)
		if i%50 == 0 {
			path = "/healthz"
			wantHealth++
		} else {
			if statuses[i%len(statuses)] >= 500 {
				want5xx++
			}
			wantMethods[methods[i%len(methods)]]++
		}
		fields := fmt.Sprintf(`,"status":%d,"method":%q,"client":"10.1.%d.%d","bytes":%d,"path":%q}`,
			statuses[i%len(statuses)], methods[i%len(methods)], i/256%256, i%256, 100+i, path)
		if i == 777 { // a status that is no number: a mapping conflict
			fields = fmt.Sprintf(`,"status":"teapot","method":%q,"client":"10.9.9.9","bytes":1,"path":"/x"}`, methods[i%len(methods)])
			wantMethods[methods[i%len(methods)]]--
		}
		return append(v[:len(v)-1], fields...)
	})
	cfg := testConfig(brokers, node.URL(), "access")
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Template.Name = "access" // the node is shared: a template of its own
	cfg.Index = "{topic}"
	cfg.Pipelines = pipelinesOf(t, `
- name: access
  topics: [access]
  processors:
    - drop: {if: 'path == "/healthz"'}
    - rename:
        fields: {status: http.response.status_code, method: http.request.method, client: source.ip,
                 bytes: http.response.body.bytes, path: url.original}
    - set: {fields: {event.dataset: access}}
`)
	r := startTransfer(t, cfg)
	indexed := n - wantHealth - 1
	require.Eventually(t, func() bool { return esCount(ctx, es, "access") == indexed }, 60*time.Second, 200*time.Millisecond)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "access")
	require.Equal(t, float64(1), testRecordsIn(t, brokers, "access.dlq", "mapper_parsing_exception"))
	require.Equal(t, float64(wantHealth), r.metric(t, "logtransfer_pipeline_dropped_total"))

	// The mapping comes from the template, not from the first documents.
	types := node.FieldTypes(t, "access")
	for field, typ := range map[string]string{
		"http.response.status_code": "long", "http.response.body.bytes": "long", "source.ip": "ip",
		"event.ingested": "date", "http.request.method": "keyword", "url.original": "keyword",
		"message": "text", "message.keyword": "keyword",
	} {
		require.Equal(t, typ, types[field], field)
	}

	// A range query on the status code.
	n5xx, err := es.Count("access").Query(elastic.NewRangeQuery("http.response.status_code").Gte(500)).Do(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(want5xx), n5xx)
	// A range on source.ip as an address block.
	nBlock, err := es.Count("access").Query(elastic.NewTermQuery("source.ip", "10.1.0.0/16")).Do(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(indexed), nBlock)
	// A terms aggregation on the method, and a sum of the bytes.
	res, err := es.Search("access").Size(0).
		Aggregation("methods", elastic.NewTermsAggregation().Field("http.request.method")).
		Aggregation("bytes", elastic.NewSumAggregation().Field("http.response.body.bytes")).Do(ctx)
	require.NoError(t, err)
	terms, ok := res.Aggregations.Terms("methods")
	require.True(t, ok)
	got := map[string]int64{}
	for _, b := range terms.Buckets {
		got[b.Key.(string)] = b.DocCount
	}
	require.Equal(t, wantMethods, got)
	sum, ok := res.Aggregations.Sum("bytes")
	require.True(t, ok)
	require.Positive(t, *sum.Value)
	// event.ingested is a date: a range on it finds every document.
	nIngested, err := es.Count("access").Query(elastic.NewRangeQuery("event.ingested").Gte("now-1h")).Do(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(indexed), nIngested)
}

// The index template on each engine: logtransfer puts a composable one
// (both engines have _index_template), which replaces the legacy template of
// the same name an earlier logtransfer installed, and whose priority wins
// over a built-in-like template for logs-*-* (Elasticsearch 8 has one, at
// priority 100, for data streams); the documents get the template's types.
func TestRealTemplate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	testenv.EachEngine(t, testRealTemplate)
}

func testRealTemplate(t *testing.T, node *testenv.Elasticsearch) {
	brokers := startKfake(t, 1)
	ctx := context.Background()
	es := node.Client(t)
	const topic, name = "logs-app", "tmpl-upgrade"

	// What an earlier logtransfer left: a legacy template of the same name.
	_, err := es.IndexPutTemplate(name).BodyString(`{"index_patterns": ["logs-app-*"],
		"mappings": {"properties": {"message": {"type": "keyword"}}}}`).Do(ctx)
	require.NoError(t, err)
	// A built-in-like composable template: every field a keyword.
	_, err = es.IndexPutIndexTemplate("builtin-logs").BodyString(`{"index_patterns": ["logs-*-*"], "priority": 100,
		"template": {"mappings": {"dynamic_templates": [{"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}],
		"properties": {"message": {"type": "keyword"}, "http": {"properties": {"response": {"properties": {"status_code": {"type": "keyword"}}}}}}}}}`).Do(ctx)
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := es.IndexDeleteIndexTemplate("builtin-logs").Do(ctx)
		require.NoError(t, err)
	})

	produceAgentRecords(t, brokers, topic, 0, 100, func(i int, v []byte) []byte {
		return append(v[:len(v)-1], fmt.Sprintf(`,"http":{"response":{"status_code":%d}}}`, 200+i%2)...)
	})
	cfg := testConfig(brokers, node.URL(), topic)
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Template.Name = name
	startTransfer(t, cfg)
	require.Eventually(t, func() bool { return esCount(ctx, es, topic+"-*") == 100 }, 60*time.Second, 200*time.Millisecond)
	// The daily index the documents' @timestamp picked (not today's date: the
	// test may run across midnight).
	hits, err := es.Search(topic + "-*").Size(1).Do(ctx)
	require.NoError(t, err)
	index := hits.Hits.Hits[0].Index

	got, err := es.IndexGetIndexTemplate(name).Do(ctx)
	require.NoError(t, err)
	require.Len(t, got.IndexTemplates, 1)
	tmpl := got.IndexTemplates[0].IndexTemplate
	require.Equal(t, []string{"logs-app-*"}, tmpl.IndexPatterns, "the topic's indices alone")
	require.Equal(t, 200, tmpl.Priority)
	exists, err := es.IndexTemplateExists(name).Do(ctx)
	require.NoError(t, err)
	require.False(t, exists, "the legacy template is deleted")

	types := node.FieldTypes(t, index)
	for field, typ := range map[string]string{
		"message": "text", "message.keyword": "keyword", "http.response.status_code": "long",
		"@timestamp": "date", "log.offset": "long", "kafka.topic": "keyword",
	} {
		require.Equal(t, typ, types[field], field)
	}
	n, err := es.Count(index).Query(elastic.NewRangeQuery("http.response.status_code").Gte(201)).Do(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 50, n)
}

// The Kibana saved searches and visualizations (dashboards/kibana), run as
// Kibana or OpenSearch Dashboards would on each engine, over lines that
// logtransfer indexed through an access-log pipeline with its template:
// each search finds documents with every column, each visualization has the
// buckets the lines make. (internal/e2e runs them over the whole stack.)
func TestRealKibanaQueries(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	k, err := dashboards.LoadKibana()
	require.NoError(t, err)
	testenv.EachEngine(t, func(t *testing.T, node *testenv.Elasticsearch) { testRealKibanaQueries(t, node, k) })
}

func testRealKibanaQueries(t *testing.T, node *testenv.Elasticsearch, k *dashboards.Kibana) {
	brokers := startKfake(t, 1)
	ctx := context.Background()
	es := node.Client(t)
	const topic, n = "kibana_web", 200
	produceAgentRecords(t, brokers, topic, 0, n, func(i int, v []byte) []byte {
		return append(v[:len(v)-1], fmt.Sprintf(`,"status":%d,"method":"GET","client":"10.1.0.%d","bytes":%d,"path":"/p/%d"}`,
			[]int{200, 404, 500}[i%3], i%256, 100+i, i)...)
	})
	cfg := testConfig(brokers, node.URL(), topic)
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Template.Name = topic
	cfg.Pipelines = pipelinesOf(t, `
- name: web
  topics: [kibana_web]
  processors:
    - rename:
        fields: {status: http.response.status_code, method: http.request.method, client: source.ip,
                 bytes: http.response.body.bytes, path: url.original}
`)
	startTransfer(t, cfg)
	// The data views' pattern (*-20*) matches every daily index of the shared
	// node; the queries run over this test's alone, which it matches too.
	index := topic + "-20*"
	require.Eventually(t, func() bool { return esCount(ctx, es, index) == n }, 60*time.Second, 200*time.Millisecond)

	require.NotEmpty(t, k.Searches)
	for _, search := range k.Searches {
		ok, err := path.Match(search.Index, topic+"-2026.01.01")
		require.NoError(t, err)
		require.True(t, ok, "saved search %q: data view %s does not match logtransfer's daily indices", search.Title, search.Index)
		body, err := search.SearchBody(10)
		require.NoError(t, err)
		var found dashboards.SearchHits
		require.NoError(t, node.Request(ctx, http.MethodPost, "/"+index+"/_search", mustJSON(t, body), &found))
		require.Len(t, found.Hits.Hits, 10, "saved search %q", search.Title)
		for _, h := range found.Hits.Hits {
			require.Empty(t, search.MissingColumn(h.Source), "saved search %q: a column is not in the document %v", search.Title, h.Source)
		}
	}
	buckets := map[string][]string{ // what each visualization's buckets name
		dashboards.KibanaVisualizationID:       {`"key":"` + topic + `"`, `"key":"web-1"`},
		dashboards.KibanaStatusVisualizationID: {`"key":200`, `"key":404`, `"key":500`},
	}
	require.Len(t, k.Visualizations, len(buckets))
	for _, v := range k.Visualizations {
		want, ok := buckets[v.ID]
		require.True(t, ok, "visualization %s: no expected buckets in this test", v.ID)
		body, err := v.SearchBody("1m")
		require.NoError(t, err)
		var agg struct {
			Aggregations map[string]any `json:"aggregations"`
		}
		require.NoError(t, node.Request(ctx, http.MethodPost, "/"+index+"/_search", mustJSON(t, body), &agg))
		out, err := json.Marshal(agg.Aggregations)
		require.NoError(t, err)
		for _, w := range want {
			require.Contains(t, string(out), w, "visualization %q buckets", v.Title)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
