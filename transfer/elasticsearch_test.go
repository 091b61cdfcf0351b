package transfer

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

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

// Against a real Elasticsearch 7 node (internal/testenv): records are indexed
// and found again by _count and by a search; a real mapping conflict goes to
// the DLQ while the rest flows; the node stopped and started again loses
// nothing and duplicates nothing.
func TestRealElasticsearch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an Elasticsearch node")
	}
	node := testenv.StartElasticsearch(t)
	brokers := startKfake(t, 3)
	ctx := context.Background()
	es, err := elastic.NewClient(elastic.SetURL(node.URL()), elastic.SetSniff(false), elastic.SetHealthcheck(false))
	require.NoError(t, err)

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
	cfg.Index = "{topic}" // one index: the poison record's date is not today
	cfg.Bulk.Actions = 2500
	start := time.Now()
	r := startTransfer(t, cfg)
	require.Eventually(t, func() bool { return esCount(ctx, es, "nginx") == n-1 }, 60*time.Second, 200*time.Millisecond)
	t.Logf("%d documents indexed into %s in %s", n-1, node.Version(), time.Since(start))
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "nginx")
	require.Equal(t, float64(1), r.metric(t, "logtransfer_dlq_records_total"))
	require.Equal(t, float64(1), testRecordsIn(t, brokers, "nginx.dlq", "mapper_parsing_exception"))

	// The template's mapping applies.
	m, err := es.GetFieldMapping().Index("nginx").Field("host.name", "message", "log.offset").Do(ctx)
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(m), "keyword")
	require.Contains(t, fmt.Sprint(m), "text")

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

// Real Kafka 4.4 and real Elasticsearch 7: agent-style records are consumed,
// indexed into daily indices, found by _count and by a search, and the
// group's offsets are committed to the end.
func TestRealKafkaAndElasticsearch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Kafka and Elasticsearch")
	}
	kafka := testenv.StartKafka(t)
	node := testenv.StartElasticsearch(t)
	ctx := context.Background()
	es, err := elastic.NewClient(elastic.SetURL(node.URL()), elastic.SetSniff(false), elastic.SetHealthcheck(false))
	require.NoError(t, err)
	brokers := kafka.Brokers()
	const n = 5000
	produceAgentRecords(t, brokers, "applog", 0, n, nil)
	cfg := testConfig(brokers, node.URL(), "applog")
	zero := 0
	cfg.Template.Replicas = &zero
	start := time.Now()
	r := startTransfer(t, cfg)
	require.Eventually(t, func() bool { return esCount(ctx, es, "applog-*") == n }, 60*time.Second, 200*time.Millisecond)
	t.Logf("%d records from %v into %s in %s", n, brokers, node.Version(), time.Since(start))
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "applog")
	idx, err := es.IndexNames()
	require.NoError(t, err)
	require.Contains(t, idx, "applog-"+time.Now().UTC().Format("2006.01.02"), "daily index from @timestamp (unless midnight passed)")
	res, err := es.Search("applog-*").
		Query(elastic.NewBoolQuery().Filter(
			elastic.NewTermQuery("host.name", "web-1"),
			elastic.NewTermQuery("kafka.topic", "applog"),
			elastic.NewMatchPhraseQuery("message", "line 00004321"))).Do(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(1), res.TotalHits())
	require.Equal(t, float64(n), r.metric(t, "logtransfer_docs_indexed_total"))
}
