package testenv

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/logcollect/logcollect/internal/servers"
)

// esTemplate is a composable index template (7.8+) for logs-*: the fields logtransfer writes.
// number_of_replicas 0: a single node cannot hold replicas, so indices would stay yellow.
const esTemplate = `{
  "index_patterns": ["logs-*"],
  "template": {
    "settings": {"number_of_shards": 1, "number_of_replicas": 0},
    "mappings": {
      "dynamic": true,
      "properties": {
        "@timestamp": {"type": "date"},
        "message":    {"type": "text"},
        "host":       {"properties": {"name":   {"type": "keyword"}}},
        "log":        {"properties": {"offset": {"type": "long"}}}
      }
    }
  }
}`

type esDoc struct {
	Timestamp time.Time `json:"@timestamp"`
	Message   string    `json:"message"`
	Host      struct {
		Name string `json:"name"`
	} `json:"host"`
	Log struct {
		Offset any `json:"offset"` // a number, or a string for the mapping conflict
	} `json:"log"`
}

var esEpoch = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// esDocs returns n documents, with ids doc-00000..: one per second from esEpoch, on 4 hosts.
func esDocs(n int, message string) (ids []string, docs []esDoc) {
	for i := range n {
		var d esDoc
		d.Timestamp = esEpoch.Add(time.Duration(i) * time.Second)
		d.Message = fmt.Sprintf("%s %d", message, i)
		d.Host.Name = fmt.Sprintf("host-%d", i%4)
		d.Log.Offset = int64(i) * 100
		ids = append(ids, fmt.Sprintf("doc-%05d", i))
		docs = append(docs, d)
	}
	return ids, docs
}

func esBulk(t *testing.T, c *elastic.Client, index string, ids []string, docs []esDoc) *elastic.BulkResponse {
	t.Helper()
	bulk := c.Bulk()
	for i := range ids {
		bulk.Add(elastic.NewBulkIndexRequest().Index(index).Id(ids[i]).Doc(docs[i]))
	}
	resp, err := bulk.Do(t.Context())
	require.NoError(t, err)
	return resp
}

func esCount(t *testing.T, c *elastic.Client, index string) int64 {
	t.Helper()
	n, err := c.Count(index).Do(t.Context())
	require.NoError(t, err)
	return n
}

// TestElasticsearch runs each engine (servers.Engines) through what logcollect asks of it.
func TestElasticsearch(t *testing.T) {
	engines, err := SearchEngines()
	require.NoError(t, err)
	for _, engine := range engines {
		t.Run(engine.Name, func(t *testing.T) { testSearchNode(t, engine) })
	}
}

func testSearchNode(t *testing.T, engine *servers.Engine) {
	leaks := goleak.IgnoreCurrent() // checked after the node's cleanup, which runs first
	t.Cleanup(func() { goleak.VerifyNone(t, leaks) })
	begin := time.Now()
	es := StartElasticsearchWithOptions(t, ElasticsearchOptions{Engine: engine})
	require.Equal(t, engine.String(), es.Version())

	// Its own transport (not http.DefaultTransport), so that its idle connections can be closed.
	tr := &http.Transport{}
	c, err := elastic.NewClient(elastic.SetURL(es.URL()), elastic.SetSniff(false), elastic.SetHealthcheck(false),
		elastic.SetHttpClient(&http.Client{Transport: tr}))
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Stop()
		tr.CloseIdleConnections()
	})
	ctx := t.Context()
	health, err := c.ClusterHealth().Do(ctx)
	require.NoError(t, err)
	require.Equal(t, "green", health.Status, "no index yet")

	_, err = c.IndexPutIndexTemplate("logs").BodyString(esTemplate).Do(ctx)
	require.NoError(t, err)

	const index, n = "logs-testenv", 10_000
	ids, docs := esDocs(n, "first")
	start := time.Now()
	for lo := 0; lo < n; lo += 2_500 {
		resp := esBulk(t, c, index, ids[lo:lo+2_500], docs[lo:lo+2_500])
		require.False(t, resp.Errors, "%+v", resp.Failed())
		require.Len(t, resp.Created(), 0, "index actions, not create")
		require.Len(t, resp.Indexed(), 2_500)
	}
	t.Logf("bulk-indexed %d docs in %s", n, time.Since(start).Round(time.Millisecond))
	_, err = c.Refresh(index).Do(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, esCount(t, c, index))

	// The template applied: its mapping, not a dynamic one (host.name would be text+keyword).
	types := es.FieldTypes(t, index)
	require.Equal(t, "keyword", types["host.name"])
	require.Equal(t, "date", types["@timestamp"])

	got, err := c.Get().Index(index).Id("doc-01234").Do(ctx)
	require.NoError(t, err)
	require.True(t, got.Found)
	var doc esDoc
	require.NoError(t, json.Unmarshal(got.Source, &doc))
	require.Equal(t, "first 1234", doc.Message)
	require.Equal(t, "host-2", doc.Host.Name)
	require.True(t, doc.Timestamp.Equal(esEpoch.Add(1234*time.Second)))
	require.EqualValues(t, 123400, doc.Log.Offset)

	// Indexing the same ids again overwrites: what an at-least-once redelivery does.
	ids, docs = esDocs(n, "second")
	start = time.Now()
	resp := esBulk(t, c, index, ids, docs)
	require.False(t, resp.Errors)
	t.Logf("re-indexed %d docs in one bulk request in %s", n, time.Since(start).Round(time.Millisecond))
	require.Equal(t, "updated", resp.Items[0]["index"].Result)
	require.EqualValues(t, 2, resp.Items[0]["index"].Version)
	_, err = c.Refresh(index).Do(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, esCount(t, c, index))
	got, err = c.Get().Index(index).Id("doc-01234").Do(ctx)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(got.Source, &doc))
	require.Equal(t, "second 1234", doc.Message)

	// A mapping conflict fails that item alone, with a 400; the others are indexed.
	const scratch = "logs-scratch"
	cids, cdocs := esDocs(3, "conflict")
	cdocs[1].Log.Offset = "not-a-number"
	resp = esBulk(t, c, scratch, cids, cdocs)
	require.True(t, resp.Errors)
	failed := resp.Failed()
	require.Len(t, failed, 1)
	require.Equal(t, cids[1], failed[0].Id)
	require.Equal(t, 400, failed[0].Status)
	require.Equal(t, "mapper_parsing_exception", failed[0].Error.Type)
	require.Len(t, resp.Succeeded(), 2)
	_, err = c.Refresh(scratch).Do(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2, esCount(t, c, scratch))

	// A range on @timestamp ([1000 s, 2000 s) from esEpoch) and a terms aggregation on host.name.
	res, err := c.Search(index).
		Query(elastic.NewRangeQuery("@timestamp").Gte(esEpoch.Add(1000*time.Second)).Lt(esEpoch.Add(2000*time.Second))).
		Aggregation("hosts", elastic.NewTermsAggregation().Field("host.name").Size(10)).
		Size(0).TrackTotalHits(true).Do(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1000, res.TotalHits())
	hosts, ok := res.Aggregations.Terms("hosts")
	require.True(t, ok)
	require.Len(t, hosts.Buckets, 4)
	for i, b := range hosts.Buckets { // ties are ordered by key
		require.Equal(t, fmt.Sprintf("host-%d", i), b.Key)
		require.EqualValues(t, 250, b.DocCount)
	}

	_, err = c.DeleteIndex(scratch).Do(ctx)
	require.NoError(t, err)
	exists, err := c.IndexExists(scratch).Do(ctx)
	require.NoError(t, err)
	require.False(t, exists)

	// An outage: requests fail at once (connection refused), then the same client recovers.
	start = time.Now()
	require.NoError(t, es.Stop())
	t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
	_, err = c.Count(index).Do(ctx)
	require.Error(t, err, "count while the node is down")
	_, err = c.Index().Index(index).Id("outage").BodyJson(docs[0]).Do(ctx)
	require.Error(t, err, "index while the node is down")
	require.NoError(t, es.Start())
	require.EqualValues(t, n, esCount(t, c, index), "documents survive a graceful stop")
	exists, err = c.IndexExists(scratch).Do(ctx)
	require.NoError(t, err)
	require.False(t, exists, "a deleted index stays deleted")

	// A crash: whatever was acknowledged is there after the restart, refreshed or not (the
	// translog is fsynced before each answer).
	_, err = c.Index().Index(index).Id("after-restart").BodyJson(docs[0]).Do(ctx)
	require.NoError(t, err)
	require.NoError(t, es.Kill())
	require.NoError(t, es.Start())
	require.EqualValues(t, n+1, esCount(t, c, index), "acknowledged documents survive a crash")
	t.Logf("total %s", time.Since(begin).Round(time.Millisecond))
}

// TestElasticsearchTuned checks that the node runs with the flags a benchmark reports, as the
// node itself sees them: its JVM's input arguments and garbage collectors.
func TestElasticsearchTuned(t *testing.T) {
	es := StartElasticsearchWithOptions(t, ElasticsearchOptions{Tuned: true})
	resp, err := http.Get(es.URL() + "/_nodes/_local/jvm")
	require.NoError(t, err)
	defer resp.Body.Close()
	var nodes struct {
		Nodes map[string]struct {
			JVM struct {
				InputArguments []string `json:"input_arguments"`
				GCCollectors   []string `json:"gc_collectors"`
			} `json:"jvm"`
		} `json:"nodes"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&nodes))
	require.Len(t, nodes.Nodes, 1)
	for _, n := range nodes.Nodes {
		require.Subset(t, n.JVM.InputArguments, es.JavaFlags())
		require.Contains(t, es.JavaFlags(), "-Xmx1g")
		require.NotContains(t, n.JVM.InputArguments, "-XX:TieredStopAtLevel=1", "C2 on")
		require.Equal(t, []string{"G1 Young Generation", "G1 Old Generation"}, n.JVM.GCCollectors)
	}
}
