package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/internal/record"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

func init() { lagInterval = 200 * time.Millisecond }

func startKfake(t *testing.T, partitions int) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

// produceAgentRecords produces records like logagent's to topic, keyed by
// file so that they spread over the partitions; record i has log.offset i.
func produceAgentRecords(t *testing.T, brokers []string, topic string, from, to int, mutate func(i int, v []byte) []byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	recs := make([]*kgo.Record, 0, to-from)
	for i := from; i < to; i++ {
		path := fmt.Sprintf("/var/log/app%d.log", i%7)
		v := fmt.Appendf(nil, `{"@timestamp":%q,"message":"line %08d GET /index.html 200","host":{"name":"web-1","ip":"10.0.0.1"},"log":{"file":{"path":%q},"offset":%d}}`, now, i, path, i)
		if mutate != nil {
			v = mutate(i, v)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(path), Value: v})
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
}

// testConfig is a config for an in-process Transfer. Static membership is
// off: the default instance id comes from the host name and metrics.listen,
// which every in-process instance of a test shares (TestStaticMembership
// tests it on separate processes).
func testConfig(brokers []string, esURL string, topics ...string) Config {
	noInstanceID := ""
	return Config{
		Kafka:           KafkaConfig{Config: kafkaclient.Config{Brokers: brokers}, Topics: topics, Group: "g-" + strings.Join(topics, "-"), InstanceID: &noInstanceID},
		Elasticsearch:   ElasticsearchConfig{URLs: []string{esURL}},
		Bulk:            BulkConfig{Actions: 1000, FlushInterval: config.Duration(50 * time.Millisecond), RetryBackoff: config.Duration(20 * time.Millisecond), RetryMaxBackoff: config.Duration(200 * time.Millisecond)},
		ShutdownTimeout: config.Duration(5 * time.Second),
	}
}

type running struct {
	tr     *Transfer
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startTransfer(t *testing.T, cfg Config) *running {
	t.Helper()
	return startTransferLog(t, cfg, os.Stderr, slog.LevelWarn)
}

// startTransferLog is startTransfer with the log written to w from level.
func startTransferLog(t *testing.T, cfg Config, w io.Writer, level slog.Level) *running {
	t.Helper()
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	reg := prometheus.NewRegistry()
	tr, err := New(cfg, log, reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{tr: tr, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- tr.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it; it may be called more than once.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			require.NoError(t, err)
			close(r.done)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func (r *running) metric(t *testing.T, name string) float64 {
	t.Helper()
	fams, err := r.reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

func waitCount(t *testing.T, es *transfertest.ES, n int, within time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool { return es.Count() >= n }, within, 10*time.Millisecond,
		"documents in the index: want %d", n)
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, n, es.Count(), "documents by id: exactly once each")
}

// committed returns the group's committed offsets and the topic's end
// offsets, per partition, from the first listing without errors.
func committed(t *testing.T, brokers []string, group, topic string) (commits, ends map[int32]int64) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		commits, ends, err = listOffsets(brokers, group, topic)
		assert.NoError(c, err)
	}, 10*time.Second, 50*time.Millisecond, "listing the offsets")
	return commits, ends
}

// listOffsets returns the group's committed offsets in topic and the topic's
// end offsets, by partition, or the error of either listing, a topic's or a
// partition's included (kadm reports those in the listing, not as its error).
func listOffsets(brokers []string, group, topic string) (commits, ends map[int32]int64, err error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	os, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = os.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	le, err := adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = le.Error()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	commits, ends = map[int32]int64{}, map[int32]int64{}
	os.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic {
			commits[o.Partition] = o.At
		}
	})
	le.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	return commits, ends, nil
}

// requireAllCommitted waits until the group has committed every partition of
// topic up to its end. A failed listing is no answer: before, a topic error
// (a listing without partitions) passed as "nothing left to commit".
func requireAllCommitted(t *testing.T, brokers []string, group, topic string) {
	t.Helper()
	require.Eventually(t, func() bool {
		c, e, err := listOffsets(brokers, group, topic)
		if err != nil || len(e) == 0 {
			return false
		}
		for p, end := range e {
			if end > 0 && c[p] != end {
				return false
			}
		}
		return true
	}, 10*time.Second, 50*time.Millisecond, "every partition committed up to its end")
}

func TestTransferEndToEnd(t *testing.T) {
	brokers := startKfake(t, 3)
	es := transfertest.NewES(t)
	const n = 20000
	// Record 500 is a poison record: its message is an object where the
	// mapping says text. Records 1000-1004 are not JSON.
	produceAgentRecords(t, brokers, "web", 0, n, func(i int, v []byte) []byte {
		switch {
		case i == 500:
			return []byte(`{"@timestamp":"2026-01-01T00:00:00Z","message":{"POISON":1}}`)
		case i >= 1000 && i < 1005:
			return fmt.Appendf(nil, "raw line %d", i)
		}
		return v
	})
	es.SetItem(func(_, _ string, doc []byte) (int, string) {
		if strings.Contains(string(doc), "POISON") {
			return 400, "mapper_parsing_exception"
		}
		return 0, ""
	})
	cfg := testConfig(brokers, es.URL(), "web")
	start := time.Now()
	r := startTransfer(t, cfg)
	waitCount(t, es, n-1, 30*time.Second)
	t.Logf("%d records indexed in %s", n-1, time.Since(start))
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "web")

	// The template is installed; documents carry their kafka coordinates.
	tmplBody := es.Template("logtransfer")
	docs := es.Docs()
	var tmpl map[string]any
	require.NoError(t, json.Unmarshal(tmplBody, &tmpl))
	require.Equal(t, []any{"web-*"}, tmpl["index_patterns"], "composable (the fake is Elasticsearch 7.17)")
	require.EqualValues(t, 200, tmpl["priority"])
	found := 0
	for key, doc := range docs {
		var d struct {
			Message string `json:"message"`
			Kafka   struct {
				Topic     string
				Partition int32
				Offset    int64
			} `json:"kafka"`
		}
		require.NoError(t, json.Unmarshal(doc, &d), key)
		require.Equal(t, "web", d.Kafka.Topic)
		require.True(t, strings.HasSuffix(key, fmt.Sprintf("/web-%d-%d", d.Kafka.Partition, d.Kafka.Offset)), key)
		if strings.HasPrefix(d.Message, "raw line") {
			found++
		}
	}
	require.Equal(t, 5, found, "non-JSON records indexed as message")

	// The poison record is in the DLQ with the reason.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("web.dlq"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fs := cl.PollFetches(ctx)
	require.NoError(t, fs.Err())
	recs := fs.Records()
	require.Len(t, recs, 1)
	require.Contains(t, string(recs[0].Value), "POISON")
	headers := map[string]string{}
	for _, h := range recs[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	require.Equal(t, "mapper_parsing_exception", headers["error.type"])
	require.Contains(t, headers["error.reason"], "injected")
	require.Regexp(t, `^web-\d-\d+$`, headers["source.id"])
	require.Equal(t, "web", headers["source.topic"])
	require.Equal(t, headers["source.id"], "web-"+headers["source.partition"]+"-"+headers["source.offset"])

	require.Equal(t, float64(n), r.metric(t, "logtransfer_records_consumed_total"))
	require.Equal(t, float64(n-1), r.metric(t, "logtransfer_docs_indexed_total"))
	require.Equal(t, float64(1), r.metric(t, "logtransfer_dlq_records_total"))
	require.Equal(t, float64(1), testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues("web", "mapper_parsing_exception")))
	require.Equal(t, float64(1), r.metric(t, "logtransfer_es_up"))
	require.Equal(t, float64(n-1), r.metric(t, "logtransfer_end_to_end_seconds"))
	require.Eventually(t, func() bool {
		return r.metric(t, "logtransfer_kafka_up") == 1 && r.metric(t, "logtransfer_consumer_lag") == 0 &&
			testutil.CollectAndCount(r.tr.m.ConsumerLag) == 3
	}, 5*time.Second, 20*time.Millisecond, "lag of 3 partitions refreshed to 0")
	require.NoError(t, r.tr.CheckElasticsearch(context.Background()))
	require.NoError(t, r.tr.CheckKafka(context.Background()))
}

// Elasticsearch down at startup, then up, then down again mid-stream: every
// record is indexed once, nothing is committed beyond what was indexed.
func TestTransferElasticsearchOutage(t *testing.T) {
	brokers := startKfake(t, 2)
	es := transfertest.NewES(t)
	es.SetDown(true)
	cfg := testConfig(brokers, es.URL(), "app")
	produceAgentRecords(t, brokers, "app", 0, 3000, nil)
	r := startTransfer(t, cfg)
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, 0, es.Count())
	require.Equal(t, float64(0), r.metric(t, "logtransfer_es_up"))
	require.Error(t, r.tr.CheckElasticsearch(context.Background()), "not ready before the template is installed")

	es.SetDown(false)
	waitCount(t, es, 3000, 10*time.Second)
	require.Equal(t, float64(1), r.metric(t, "logtransfer_es_up"))

	// Down mid-stream: bulks fail, consumption pauses, lag shows.
	es.SetDown(true)
	produceAgentRecords(t, brokers, "app", 3000, 8000, nil)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_es_up") == 0 }, 5*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_consumer_lag") > 0 }, 5*time.Second, 20*time.Millisecond)
	c, e := committed(t, brokers, cfg.Kafka.Group, "app")
	require.Less(t, c[0]+c[1], e[0]+e[1], "nothing committed while Elasticsearch is down")
	require.Equal(t, 3000, es.Count())
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues("app", "unavailable")) > 0
	}, 5*time.Second, 10*time.Millisecond, "failed bulk requests are counted")

	es.SetDown(false)
	waitCount(t, es, 8000, 10*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "app")
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_consumer_lag") == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, float64(1), r.metric(t, "logtransfer_es_up"))

	// Idle: the periodic ping keeps logtransfer_es_up current.
	es.SetDown(true)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_es_up") == 0 }, 5*time.Second, 20*time.Millisecond)
	es.SetDown(false)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_es_up") == 1 }, 5*time.Second, 20*time.Millisecond)
}

// Items rejected with 429 or 503 are sent again, alone: the accepted ones
// are not re-sent.
func TestTransferRetriesOnlyFailedItems(t *testing.T) {
	brokers := startKfake(t, 1)
	es := transfertest.NewES(t)
	var mu sync.Mutex
	seen := map[string]int{}
	es.SetItem(func(_, id string, _ []byte) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		seen[id]++
		switch {
		case seen[id] == 1 && len(seen)%3 == 0:
			return 429, "es_rejected_execution_exception"
		case seen[id] <= 2 && len(seen)%5 == 0:
			return 503, "unavailable_shards_exception"
		}
		return 0, ""
	})
	cfg := testConfig(brokers, es.URL(), "retry")
	cfg.Bulk.Actions, cfg.Bulk.Workers = 300, 3 // concurrent bulk requests, retried independently
	produceAgentRecords(t, brokers, "retry", 0, 5000, nil)
	r := startTransfer(t, cfg)
	waitCount(t, es, 5000, 30*time.Second)
	require.Equal(t, 5000, es.Writes(), "no accepted document was sent twice")
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "retry")
	require.Positive(t, testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues("retry", "es_rejected_execution_exception")))
	require.Positive(t, testutil.ToFloat64(r.tr.m.IndexErrors.WithLabelValues("retry", "unavailable_shards_exception")))
	require.Equal(t, float64(0), r.metric(t, "logtransfer_dlq_records_total"))
}

// On shutdown the batch in hand is indexed and committed: a new instance
// of the group does not index anything again. When Elasticsearch is down
// at shutdown, Run gives up after shutdown_timeout without committing, and
// the next instance indexes the rest.
func TestTransferShutdown(t *testing.T) {
	brokers := startKfake(t, 2)
	es := transfertest.NewES(t)
	cfg := testConfig(brokers, es.URL(), "stop")
	produceAgentRecords(t, brokers, "stop", 0, 4000, nil)
	r := startTransfer(t, cfg)
	waitCount(t, es, 4000, 10*time.Second)
	r.stop(t)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "stop")

	writes := es.Writes()
	r2 := startTransfer(t, cfg)
	produceAgentRecords(t, brokers, "stop", 4000, 5000, nil)
	waitCount(t, es, 5000, 10*time.Second)
	require.Equal(t, writes+1000, es.Writes(), "the committed records were not consumed again")

	es.SetDown(true)
	produceAgentRecords(t, brokers, "stop", 5000, 6000, nil)
	require.Eventually(t, func() bool { return r2.metric(t, "logtransfer_es_up") == 0 }, 5*time.Second, 10*time.Millisecond)
	cfg2 := cfg
	cfg2.ShutdownTimeout = config.Duration(300 * time.Millisecond)
	r2.tr.cfg.ShutdownTimeout = cfg2.ShutdownTimeout
	begin := time.Now()
	r2.stop(t)
	require.Less(t, time.Since(begin), 5*time.Second)

	es.SetDown(false)
	startTransfer(t, cfg)
	waitCount(t, es, 6000, 10*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "stop")
}

// Two instances in one group split the partitions; when one stops, the
// other takes over its partitions.
func TestTransferTwoInstances(t *testing.T) {
	if testing.Short() {
		t.Skip("two consumers through a rebalance")
	}
	brokers := startKfake(t, 4)
	es := transfertest.NewES(t)
	cfg := testConfig(brokers, es.URL(), "shared")
	a := startTransfer(t, cfg)
	b := startTransfer(t, cfg)
	waitMembers(t, brokers, cfg.Kafka.Group, 2)
	produceAgentRecords(t, brokers, "shared", 0, 8000, nil)
	waitCount(t, es, 8000, 15*time.Second)
	// The commit follows the counting of the batch's documents.
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "shared")
	require.Positive(t, a.metric(t, "logtransfer_docs_indexed_total"))
	require.Positive(t, b.metric(t, "logtransfer_docs_indexed_total"))
	require.Equal(t, float64(8000), a.metric(t, "logtransfer_docs_indexed_total")+b.metric(t, "logtransfer_docs_indexed_total"))

	a.stop(t)
	produceAgentRecords(t, brokers, "shared", 8000, 12000, nil)
	waitCount(t, es, 12000, 15*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "shared")
}

// TestTransferRebalanceUnderSteadyStream: the next batch is polled while one
// is indexed, so while a backlog lasts a batch is always held; a second
// instance must still get its partitions before the backlog is indexed (Run
// lets the batches finish and allows the rebalance every rebalanceEvery),
// and each record is indexed once.
func TestTransferRebalanceUnderSteadyStream(t *testing.T) {
	if testing.Short() {
		t.Skip("a steady stream through two rebalances")
	}
	brokers := startKfake(t, 4)
	es := transfertest.NewES(t)
	// About 0.2 s per batch of 2 × 1000: the 60,000 records keep the
	// first instance busy for ~6 s, twice rebalanceEvery.
	es.SetItem(func(string, string, []byte) (int, string) {
		time.Sleep(100 * time.Microsecond)
		return 0, ""
	})
	const total = 60000
	produceAgentRecords(t, brokers, "steady", 0, total, nil)
	cfg := testConfig(brokers, es.URL(), "steady")
	a := startTransfer(t, cfg)
	require.Eventually(t, func() bool { return a.metric(t, "logtransfer_docs_indexed_total") > 0 }, 10*time.Second, 10*time.Millisecond)
	startTransfer(t, cfg)
	waitMembers(t, brokers, cfg.Kafka.Group, 2)
	require.Less(t, es.Count(), total, "the second instance joined only after the backlog was indexed")
	es.SetItem(nil)
	waitCount(t, es, total, 20*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "steady")
	require.Equal(t, es.Count(), es.Writes(), "a record indexed twice")
}

// waitMembers waits until group is stable with n members that each own
// partitions.
func waitMembers(t *testing.T, brokers []string, group string, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return groupMembers(t, brokers, group) == n },
		20*time.Second, 20*time.Millisecond, "%d members with partitions", n)
}

// groupMembers is the number of members of group when it is stable and each
// member owns partitions, else 0.
func groupMembers(t *testing.T, brokers []string, group string) int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	gs, err := kadm.NewClient(cl).DescribeGroups(context.Background(), group)
	if err != nil {
		return 0
	}
	g, ok := gs[group]
	if !ok || g.State != "Stable" {
		return 0
	}
	for _, m := range g.Members {
		ca, ok := m.Assigned.AsConsumer()
		if !ok || len(ca.Topics) == 0 {
			return 0
		}
	}
	return len(g.Members)
}

// TestTransferAgentResendOverwrites: logagent re-sends lines after a crash as
// new Kafka records (new offsets) with the same event ids; the index keeps
// one document per line.
func TestTransferAgentResendOverwrites(t *testing.T) {
	brokers := startKfake(t, 3)
	es := transfertest.NewES(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	const n = 300
	var recs []*kgo.Record
	for sent := range 2 { // the second time from line 100: the re-send
		for i := sent * 100; i < n; i++ {
			recs = append(recs, &kgo.Record{
				Topic: "web", Key: []byte("1-2"),
				Value:   fmt.Appendf(nil, `{"message":"line %d"}`, i),
				Headers: []kgo.RecordHeader{{Key: record.IDHeader, Value: fmt.Appendf(nil, "AAAAAAAAAAAAAAAA-%d", i*10)}},
			})
		}
	}
	require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
	cfg := testConfig(brokers, es.URL(), "web")
	r := startTransfer(t, cfg)
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_docs_indexed_total") == float64(len(recs)) },
		30*time.Second, 10*time.Millisecond)
	require.Equal(t, n, es.Count(), "one document per line")
	found := false
	for key := range es.Docs() {
		found = found || strings.HasSuffix(key, "/AAAAAAAAAAAAAAAA-2990")
	}
	require.True(t, found, "documents are stored under the event id")
}
