package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

// The tests run the real logtransfer: the test binary re-executes itself as
// logtransfer when LOGTRANSFER_CHILD is set, so kill -9 and SIGTERM hit a
// real process. Kafka (kfake) and Elasticsearch (transfertest.ES) live in
// the test process and survive the child.
func TestMain(m *testing.M) { testenv.MainSelf(m, "LOGTRANSFER_CHILD", "logtransfer", run) }

func startKfake(t *testing.T, partitions int) []string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(partitions),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func writeConfig(t *testing.T, brokers []string, esURL, topic string) (path, metricsAddr string) {
	// A killed instance's partitions move on quickly (kfake allows it).
	return writeConfigSession(t, brokers, esURL, topic, "logtransfer", "1500ms", 1)
}

// writeConfigSession writes a config with the given kafka.group,
// kafka.session_timeout (a real broker refuses one under its
// group.min.session.timeout.ms, 6s) and bulk.workers.
func writeConfigSession(t *testing.T, brokers []string, esURL, topic, group, session string, workers int) (path, metricsAddr string) {
	metricsAddr = testenv.FreeAddr(t)
	cfg := fmt.Sprintf(`kafka:
  brokers: [%s]
  topics: [%s]
  group: %s
  session_timeout: %s
elasticsearch:
  urls: [%s]
bulk:
  actions: 2000
  flush_interval: 50ms
  workers: %d
  retry_backoff: 20ms
  retry_max_backoff: 200ms
metrics:
  listen: %s
shutdown_timeout: 10s
log:
  level: info
`, strings.Join(brokers, ","), topic, group, session, esURL, workers, metricsAddr)
	path = filepath.Join(t.TempDir(), "transfer.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path, metricsAddr
}

type proc struct {
	*testenv.Self
	t       *testing.T
	metrics string
}

func startProc(t *testing.T, config, metricsAddr string) *proc {
	t.Helper()
	p := &proc{Self: testenv.StartSelf(t, "LOGTRANSFER_CHILD", 40, "-config", config), t: t, metrics: metricsAddr}
	testenv.WaitHealthy(t, metricsAddr)
	return p
}

func (p *proc) get(path string) int {
	resp, err := http.Get("http://" + p.metrics + path)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func (p *proc) body(path string) string {
	resp, err := http.Get("http://" + p.metrics + path)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return string(b)
}

func (p *proc) kill9() { require.NoError(p.t, p.Kill()) }

func (p *proc) stop() {
	p.t.Helper()
	require.NoError(p.t, p.Stop(30*time.Second), "logtransfer must exit 0 on SIGTERM")
}

func produce(t *testing.T, brokers []string, topic string, from, to int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5*time.Millisecond))
	require.NoError(t, err)
	defer cl.Close()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	const chunk = 20000
	for start := from; start < to; start += chunk {
		var recs []*kgo.Record
		for i := start; i < min(start+chunk, to); i++ {
			path := fmt.Sprintf("/var/log/app%d.log", i%5)
			v := fmt.Appendf(nil, `{"@timestamp":%q,"message":"line %08d 127.0.0.1 - - \"GET /index.html HTTP/1.1\" 200 5120","host":{"name":"web-1","ip":"10.0.0.1"},"log":{"file":{"path":%q},"offset":%d}}`, now, i, path, i*100)
			recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(path), Value: v})
		}
		require.NoError(t, cl.ProduceSync(context.Background(), recs...).FirstErr())
	}
}

func requireAllCommitted(t *testing.T, brokers []string, group, topic string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	require.Eventually(t, func() bool {
		ctx := context.Background()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return false
		}
		ok := true
		ends.Each(func(e kadm.ListedOffset) {
			if o, found := offs.Lookup(topic, e.Partition); e.Offset > 0 && (!found || o.At != e.Offset) {
				ok = false
			}
		})
		return ok
	}, 30*time.Second, 50*time.Millisecond, "every partition committed up to its end")
}

func TestVersion(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-version")
	cmd.Env = append(os.Environ(), "LOGTRANSFER_CHILD=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Regexp(t, `^logtransfer \S+ \(revision .*\)\n$`, string(out))
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantErr  bool
		wantText string
	}{
		{"sample", []string{"-check-config", "-config", "../../transfer/testdata/transfer.yaml"}, false, "config ok: 1 kafka broker(s), group logtransfer"},
		{"flags override", []string{"-check-config", "-config", "../../transfer/testdata/transfer.yaml", "-kafka.group", "g2", "-kafka.brokers", "a:1,b:2"}, false, "config ok: 2 kafka broker(s), group g2"},
		{"flags only", []string{"-check-config", "-kafka.brokers", "a:1", "-kafka.topics", "t", "-elasticsearch.urls", "http://es:9200"}, false, "config ok"},
		{"topics from etcd", []string{"-check-config", "-kafka.brokers", "a:1", "-etcd.endpoints", "127.0.0.1:2379", "-elasticsearch.urls", "http://es:9200"}, false, "etcd [127.0.0.1:2379]"},
		{"invalid", []string{"-check-config", "-kafka.brokers", "a:1"}, true, "kafka.topics: set kafka.topics"},
		{"missing file", []string{"-config", "/nonexistent.yaml"}, true, "read config"},
		{"bad flag", []string{"-nope"}, true, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append(os.Environ(), "LOGTRANSFER_CHILD=1")
			out, err := cmd.CombinedOutput()
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err, string(out))
			}
			require.Contains(t, string(out), tt.wantText)
		})
	}
}

// The binary indexes, serves its metrics and readiness, and on SIGTERM
// commits and exits 0.
func TestBinaryEndToEnd(t *testing.T) {
	brokers := startKfake(t, 3)
	es := transfertest.NewES(t)
	es.SetDown(true)
	config, metricsAddr := writeConfig(t, brokers, es.URL(), "web")
	produce(t, brokers, "web", 0, 5000)
	p := startProc(t, config, metricsAddr)
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, http.StatusServiceUnavailable, p.get("/readyz"), "not ready while Elasticsearch is down")
	require.Contains(t, p.body("/metrics"), "logtransfer_es_up 0")

	es.SetDown(false)
	require.Eventually(t, func() bool { return es.Count() == 5000 }, 20*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return p.get("/readyz") == 200 }, 10*time.Second, 50*time.Millisecond)
	m := p.body("/metrics")
	for _, name := range []string{
		"logtransfer_records_consumed_total", "logtransfer_docs_indexed_total", "logtransfer_bulk_duration_seconds",
		"logtransfer_bulk_size_docs", "logtransfer_commit_errors_total", "logtransfer_es_up 1",
		"logtransfer_kafka_up", "logtransfer_end_to_end_seconds", "logcollect_build_info",
	} {
		require.Contains(t, m, name)
	}
	require.Eventually(t, func() bool {
		return strings.Contains(p.body("/metrics"), `logtransfer_docs_indexed_total{topic="web"} 5000`)
	}, 5*time.Second, 20*time.Millisecond)
	p.stop()
	requireAllCommitted(t, brokers, "logtransfer", "web")
	require.Equal(t, 5000, es.Count())
}

// kill -9 the binary repeatedly while it indexes: afterwards the index holds
// every record exactly once (documents by id), however many were written
// twice.
func TestBinaryKill9ExactlyOnce(t *testing.T) {
	n := 60000
	if testing.Short() {
		n = 20000
	}
	brokers := startKfake(t, 4)
	es := transfertest.NewES(t)
	config, metricsAddr := writeConfig(t, brokers, es.URL(), "logs")
	produce(t, brokers, "logs", 0, n)
	start := time.Now()
	kills := 0
	for kills < 4 {
		p := startProc(t, config, metricsAddr)
		before := es.Count()
		// Let it index some, then kill it mid-stream.
		require.Eventually(t, func() bool { return es.Count() > before+n/10 || es.Count() == n }, 30*time.Second, 5*time.Millisecond)
		if es.Count() == n {
			break
		}
		p.kill9()
		kills++
	}
	p := startProc(t, config, metricsAddr)
	require.Eventually(t, func() bool { return es.Count() == n }, 60*time.Second, 20*time.Millisecond)
	// Documents of a killed instance may be indexed but not committed: the
	// last instance indexes them again (same ids) before its commits reach
	// the end.
	requireAllCommitted(t, brokers, "logtransfer", "logs")
	p.stop()
	require.Equal(t, n, es.Count(), "every record exactly once by id")
	t.Logf("%d records, %d kill -9, %d index writes (redeliveries overwrote), %s", n, kills, es.Writes(), time.Since(start))
	require.GreaterOrEqual(t, kills, 2)

	// Every (partition, offset) is there once: ids are dense per partition.
	docs := es.Docs()
	perPartition := map[string]int{}
	for key := range docs {
		id := key[strings.IndexByte(key, '/')+1:]
		parts := strings.Split(id, "-")
		require.Len(t, parts, 3, id)
		perPartition[parts[1]]++
	}
	total := 0
	for _, c := range perPartition {
		total += c
	}
	require.Equal(t, n, total)
}

// The guarantees against the real servers: Apache Kafka (KRaft) and an
// Elasticsearch node, shared by the subtests (each uses its own topic and
// consumer group).
func TestBinaryRealServers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Kafka broker and an Elasticsearch node")
	}
	start := time.Now()
	kafka := testenv.StartKafka(t)
	node := testenv.StartElasticsearch(t)
	t.Logf("servers ready in %s", time.Since(start).Round(time.Millisecond))
	rs := &realServers{brokers: kafka.Brokers(), esURL: node.URL(), version: node.Version()}
	rs.es = node.Client(t)

	// kill -9 the binary repeatedly while it indexes: afterwards the index
	// holds every record exactly once, by _count and by id.
	t.Run("kill -9 during 200k records", func(t *testing.T) {
		const topic, n, kills = "kill9", 200000, 3
		rs.createTopic(t, topic, 4)
		produce(t, rs.brokers, topic, 0, n)
		config, metricsAddr := writeConfigSession(t, rs.brokers, rs.esURL, topic, "logtransfer", "6s", 2)
		start := time.Now()
		for k := 0; k < kills; k++ {
			p := startProc(t, config, metricsAddr)
			pstart := time.Now()
			before := max(rs.count(topic), 0)
			waitAtLeast(t, func() int { return rs.count(topic) }, before+n/(kills+2), time.Minute)
			p.kill9()
			t.Logf("kill -9 #%d at %d documents, %s after its start (%s in all)", k+1, rs.count(topic),
				time.Since(pstart).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		}
		p := startProc(t, config, metricsAddr)
		waitAtLeast(t, func() int { return rs.count(topic) }, n, time.Minute)
		requireAllCommitted(t, rs.brokers, "logtransfer", topic)
		p.stop()
		rs.requireExactlyOnce(t, topic, n)
		t.Logf("%d records into %s with %d kill -9 in %s", n, rs.version, kills, time.Since(start).Round(time.Millisecond))
	})

	// The same with a pipeline that drops one record in ten and reshapes
	// the others: every kept record is indexed once, no dropped one is,
	// and the offsets are committed to the end.
	t.Run("kill -9 with pipelines during 60k records", func(t *testing.T) {
		const topic, n, kills = "kill9piped", 60000, 3
		rs.createTopic(t, topic, 4)
		produce(t, rs.brokers, topic, 0, n)
		config, metricsAddr := writeConfigSession(t, rs.brokers, rs.esURL, topic, "logtransfer-piped", "6s", 2)
		withPipelines(t, config, fmt.Sprintf(`  - name: piped
    topics: [%s]
    processors:
      - drop: {if: 'log.offset %% 1000 == 0'}
      - set: {fields: {event.dataset: app}}
`, topic))
		kept := n - n/10
		start := time.Now()
		for k := 0; k < kills; k++ {
			p := startProc(t, config, metricsAddr)
			before := max(rs.count(topic), 0)
			waitAtLeast(t, func() int { return rs.count(topic) }, before+kept/(kills+2), time.Minute)
			p.kill9()
			t.Logf("kill -9 #%d at %d documents", k+1, rs.count(topic))
		}
		p := startProc(t, config, metricsAddr)
		waitAtLeast(t, func() int { return rs.count(topic) }, kept, time.Minute)
		requireAllCommitted(t, rs.brokers, "logtransfer-piped", topic)
		p.stop()
		require.Equal(t, kept, rs.count(topic), "_count")
		seen := make(map[int]bool, kept)
		scroll := rs.es.Scroll(topic+"-*").Size(10000).FetchSourceContext(elastic.NewFetchSourceContext(true).Include("log.offset", "event.dataset")).Sort("_doc", true)
		for {
			res, err := scroll.Do(t.Context())
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err)
			for _, h := range res.Hits.Hits {
				var d struct {
					Log   struct{ Offset int }     `json:"log"`
					Event struct{ Dataset string } `json:"event"`
				}
				require.NoError(t, json.Unmarshal(h.Source, &d))
				require.False(t, seen[d.Log.Offset], "record %d indexed twice", d.Log.Offset/100)
				seen[d.Log.Offset] = true
				require.NotZero(t, d.Log.Offset%1000, "dropped record %d indexed", d.Log.Offset/100)
				require.Equal(t, "app", d.Event.Dataset)
			}
		}
		_ = scroll.Clear(context.Background())
		require.Len(t, seen, kept)
		t.Logf("%d records (%d kept) into %s with %d kill -9 in %s", n, kept, rs.version, kills, time.Since(start).Round(time.Millisecond))
	})

	t.Run("restart with and without kafka.instance_id", func(t *testing.T) { testRestartResume(t, rs) })

	// Two instances in one group split the partitions and index each
	// record once between them; when one is killed -9 the other takes its
	// partitions over and indexes what it left.
	t.Run("two instances in one group", func(t *testing.T) {
		const topic, group, partitions, n1, n2 = "pair", "pair", 6, 20000, 40000
		rs.createTopic(t, topic, partitions)
		configA, metricsA := writeConfigSession(t, rs.brokers, rs.esURL, topic, group, "6s", 1)
		configB, metricsB := writeConfigSession(t, rs.brokers, rs.esURL, topic, group, "6s", 1)
		start := time.Now()
		a := startProc(t, configA, metricsA)
		b := startProc(t, configB, metricsB)
		split := rs.waitAssignment(t, group, 2, partitions)
		t.Logf("partitions split between the two members: %v (%s)", split, time.Since(start).Round(time.Millisecond))

		// Each record is indexed by exactly one of them: their counts of
		// accepted documents add up to the records, and both did work.
		produce(t, rs.brokers, topic, 0, n1)
		waitAtLeast(t, func() int { return rs.count(topic) }, n1, time.Minute)
		requireAllCommitted(t, rs.brokers, group, topic)
		docsA := testenv.Metric(metricsA, "logtransfer_docs_indexed_total")
		docsB := testenv.Metric(metricsB, "logtransfer_docs_indexed_total")
		t.Logf("instance A indexed %.0f documents, B %.0f", docsA, docsB)
		require.Positive(t, docsA)
		require.Positive(t, docsB)
		require.Equal(t, float64(n1), docsA+docsB, "no record indexed by both instances")

		// Kill B while both index the next records: A takes over B's
		// partitions (after the 6s session timeout) and indexes the rest,
		// B's uncommitted records included.
		produce(t, rs.brokers, topic, n1, n1+n2)
		waitAtLeast(t, func() int { return rs.count(topic) }, n1+n2/5, time.Minute)
		b.kill9()
		killed := time.Now()
		t.Logf("B killed -9 at %d documents", rs.count(topic))
		all := rs.waitAssignment(t, group, 1, partitions)
		t.Logf("A owns %v %s after the kill", all, time.Since(killed).Round(time.Millisecond))
		waitAtLeast(t, func() int { return rs.count(topic) }, n1+n2, time.Minute)
		requireAllCommitted(t, rs.brokers, group, topic)
		a.stop()
		rs.requireExactlyOnce(t, topic, n1+n2)
		t.Logf("%d records, two instances, one killed, in %s", n1+n2, time.Since(start).Round(time.Millisecond))
	})
}

// waitAssignment waits until group is stable with members members, each
// owning some partitions, none owned twice and all partitions of the
// topic owned; it returns each member's partitions.
func (rs *realServers) waitAssignment(t *testing.T, group string, members, partitions int) [][]int32 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(rs.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	adm := kadm.NewClient(cl)
	var got [][]int32
	var last string
	ok := assert.Eventually(t, func() bool {
		ds, err := adm.DescribeGroups(t.Context(), group)
		if err != nil {
			last = err.Error()
			return false
		}
		d := ds[group]
		got = nil
		owned := map[int32]int{}
		for _, m := range d.Members {
			c, ok := m.Assigned.AsConsumer()
			if !ok {
				return false
			}
			var ps []int32
			for _, tp := range c.Topics {
				ps = append(ps, tp.Partitions...)
			}
			slices.Sort(ps)
			for _, p := range ps {
				owned[p]++
			}
			got = append(got, ps)
		}
		last = fmt.Sprintf("state %s, assignment %v", d.State, got)
		if d.State != "Stable" || len(got) != members || len(owned) != partitions {
			return false
		}
		for _, ps := range got {
			if len(ps) == 0 {
				return false
			}
		}
		for _, c := range owned {
			if c != 1 {
				return false
			}
		}
		return true
	}, 60*time.Second, 100*time.Millisecond)
	require.True(t, ok, "group %s: want %d members sharing %d partitions; last seen: %s", group, members, partitions, last)
	return got
}

// waitAtLeast waits until count() reaches want for as long as it keeps
// growing: it fails when the count has not moved for stall (a stuck
// pipeline), not because a busy machine makes the whole slow. The callers
// check the exact count afterwards.
func waitAtLeast(t *testing.T, count func() int, want int, stall time.Duration) {
	t.Helper()
	last, moved := -1, time.Now()
	for {
		c := count()
		if c >= want {
			return
		}
		if c != last {
			last, moved = c, time.Now()
		}
		if time.Since(moved) > stall {
			t.Fatalf("documents stuck at %d (want %d) for %s", c, want, stall)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type realServers struct {
	brokers []string
	esURL   string
	version string
	es      *elastic.Client
}

func (rs *realServers) createTopic(t *testing.T, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(rs.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	_, err = kadm.NewClient(cl).CreateTopic(t.Context(), partitions, 1, nil, topic)
	require.NoError(t, err)
}

// count is the number of documents in topic's indices after a refresh, or
// -1 if Elasticsearch does not answer.
func (rs *realServers) count(topic string) int {
	ctx := context.Background()
	if _, err := rs.es.Refresh(topic + "-*").Do(ctx); err != nil {
		return -1
	}
	c, err := rs.es.Count(topic + "-*").Do(ctx)
	if err != nil {
		return -1
	}
	return int(c)
}

// requireExactlyOnce checks that topic's indices hold n documents and that
// their ids are exactly {topic}-{partition}-{offset} for every record in
// the topic (offsets 0 up to each partition's end).
func (rs *realServers) requireExactlyOnce(t *testing.T, topic string, n int) {
	t.Helper()
	require.Equal(t, n, rs.count(topic), "_count")

	cl, err := kgo.NewClient(kgo.SeedBrokers(rs.brokers...))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(t.Context(), topic)
	require.NoError(t, err)
	want := make(map[string]bool, n)
	ends.Each(func(e kadm.ListedOffset) {
		for o := int64(0); o < e.Offset; o++ {
			want[fmt.Sprintf("%s-%d-%d", topic, e.Partition, o)] = true
		}
	})
	require.Len(t, want, n, "records in the topic")

	seen := make(map[string]int, n)
	scroll := rs.es.Scroll(topic+"-*").Size(10000).FetchSource(false).Sort("_doc", true)
	for {
		res, err := scroll.Do(t.Context())
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		for _, h := range res.Hits.Hits {
			seen[h.Id]++
		}
	}
	_ = scroll.Clear(context.Background())
	var missing, dup, extra []string
	for id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id, c := range seen {
		if c > 1 {
			dup = append(dup, id)
		}
		if !want[id] {
			extra = append(extra, id)
		}
	}
	require.Empty(t, missing, "ids missing from the index")
	require.Empty(t, dup, "ids indexed more than once")
	require.Empty(t, extra, "ids that match no record")
}
