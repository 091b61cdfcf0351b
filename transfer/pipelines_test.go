package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/internal/record"
	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/pipeline"
	"github.com/logcollect/logcollect/transfer/transfertest"
)

// pipelinesOf parses a YAML list of pipelines, failing the test on an error.
func pipelinesOf(t testing.TB, y string) []pipeline.Config {
	t.Helper()
	cfgs, err := pipeline.Parse([]byte(y))
	require.NoError(t, err)
	return cfgs
}

// testTransfer is a Transfer with what building documents needs: metrics,
// the index namer and the given pipelines.
func testTransfer(t testing.TB, cfgs []pipeline.Config) (*Transfer, *pipelineSet) {
	t.Helper()
	namer, err := esindex.Parse(defaultIndex)
	require.NoError(t, err)
	tr := &Transfer{m: NewMetrics(prometheus.NewRegistry()), namer: namer, log: slog.New(slog.DiscardHandler)}
	set, err := pipeline.NewSet(cfgs)
	require.NoError(t, err)
	ps := tr.newPipelineSet(set)
	tr.pipes.Store(ps)
	return tr, ps
}

// What a record of a topic with a pipeline becomes: the event the pipeline
// leaves (flagged when it failed), with event.ingested and the kafka
// field, in the index of its new @timestamp, under the record's id; nothing
// when dropped. Topics without a pipeline keep the fast path's document.
func TestBuildPipelineDocument(t *testing.T) {
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Truncate(time.Second)
	tr, ps := testTransfer(t, pipelinesOf(t, fmt.Sprintf(`
- name: web
  topics: [web]
  processors:
    - drop: {if: 'url.original == "/healthz"'}
    - set: {fields: {event.dataset: web.access}}
    - set: {fields: {"@timestamp": %q}, if: 'message == "late"'}
    - rename: {fields: {level: log.level}, tag: level}
    - set: {fields: {nan: .nan}, if: 'message == "nan"'}
`, yesterday.Format(time.RFC3339))))
	read := time.Date(2026, 12, 7, 23, 59, 59, 0, time.UTC)
	readTS := read.Format(time.RFC3339)
	kafkaTime := time.Date(2026, 12, 8, 0, 0, 1, 0, time.UTC)
	tests := []struct {
		name, topic, value string
		id                 string // the IDHeader, if any
		dropped            bool
		wantIndex, wantID  string
		want               string // the document, JSON
	}{
		{name: "shaped", topic: "web", value: `{"@timestamp":"` + readTS + `","message":"m","level":"info","host":{"name":"h"}}`,
			id: "AAAA-1", wantIndex: "web-2026.12.07", wantID: "AAAA-1",
			want: `{"@timestamp":"` + readTS + `","message":"m","log":{"level":"info"},"host":{"name":"h"},
				"event":{"dataset":"web.access","ingested":"` + readTS + `"},"kafka":{"topic":"web","partition":1,"offset":42}}`},
		{name: "timestamp from the line names the index; the id stays", topic: "web",
			value: `{"@timestamp":"` + readTS + `","message":"late","level":"warn"}`, id: "AAAA-2",
			wantIndex: "web-" + yesterday.Format("2006.01.02"), wantID: "AAAA-2",
			want: `{"@timestamp":"` + yesterday.Format(time.RFC3339) + `","message":"late","log":{"level":"warn"},
				"event":{"dataset":"web.access","ingested":"` + readTS + `"},"kafka":{"topic":"web","partition":1,"offset":42}}`},
		{name: "failed: the event as it came, flagged", topic: "web", value: `{"@timestamp":"` + readTS + `","message":"late"}`,
			wantIndex: "web-2026.12.07", wantID: "web-1-42",
			want: `{"@timestamp":"` + readTS + `","message":"late","event":{"ingested":"` + readTS + `"},
				"error":{"message":"pipeline web: processors[3] (level): field level not found"},"tags":["_pipeline_error"],
				"kafka":{"topic":"web","partition":1,"offset":42}}`},
		{name: "dropped", topic: "web", value: `{"@timestamp":"` + readTS + `","url":{"original":"/healthz"}}`, dropped: true},
		{name: "plain text, the Kafka time", topic: "web", value: `plain line`,
			wantIndex: "web-2026.12.08", wantID: "web-1-42",
			want: `{"@timestamp":"2026-12-08T00:00:01Z","message":"plain line","event":{"ingested":"2026-12-08T00:00:01Z"},
				"error":{"message":"pipeline web: processors[3] (level): field level not found"},"tags":["_pipeline_error"],
				"kafka":{"topic":"web","partition":1,"offset":42}}`},
		{name: "the record's own kafka field is replaced", topic: "web",
			value:     `{"@timestamp":"` + readTS + `","level":"info","kafka":{"cluster":"a"}}`,
			wantIndex: "web-2026.12.07", wantID: "web-1-42",
			want: `{"@timestamp":"` + readTS + `","log":{"level":"info"},"event":{"dataset":"web.access","ingested":"` + readTS + `"},
				"kafka":{"topic":"web","partition":1,"offset":42}}`},
		{name: "a result JSON cannot hold: the record as it came, flagged", topic: "web",
			value:     `{"@timestamp":"` + readTS + `","message":"nan","level":"info"}`,
			wantIndex: "web-2026.12.07", wantID: "web-1-42",
			want: `{"@timestamp":"` + readTS + `","message":"nan","level":"info","event":{"ingested":"` + readTS + `"},
				"error":{"message":"pipeline web: encode the document: nan: unsupported value: NaN"},"tags":["_pipeline_error"],
				"kafka":{"topic":"web","partition":1,"offset":42}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &kgo.Record{Topic: tt.topic, Partition: 1, Offset: 42, Value: []byte(tt.value), Timestamp: kafkaTime}
			if tt.id != "" {
				r.Headers = []kgo.RecordHeader{{Key: record.IDHeader, Value: []byte(tt.id)}}
			}
			docs, dropped := tr.buildDocuments([]*kgo.Record{r}, ps)
			if tt.dropped {
				require.Empty(t, docs)
				require.Equal(t, []*kgo.Record{r}, dropped)
				return
			}
			require.Empty(t, dropped)
			require.Len(t, docs, 1)
			d := docs[0]
			require.Equal(t, tt.wantIndex, d.index)
			require.Equal(t, tt.wantID, d.id)
			require.JSONEq(t, tt.want, string(d.body))
			require.NotContains(t, string(d.body), "\n")
		})
	}
	m := tr.m
	require.Equal(t, float64(len(tests)), testutil.ToFloat64(m.PipelineEvents.WithLabelValues("web")))
	require.Equal(t, float64(1), testutil.ToFloat64(m.PipelineDropped.WithLabelValues("web")))
	require.Equal(t, float64(2), testutil.ToFloat64(m.PipelineErrors.WithLabelValues("web", "level")))
	require.Equal(t, float64(1), testutil.ToFloat64(m.PipelineErrors.WithLabelValues("web", "encode")))
	require.Equal(t, float64(0), testutil.ToFloat64(m.PipelineErrors.WithLabelValues("web", "drop")), "every step's series exists")

	// A topic without a pipeline: the fast path's document, byte for byte.
	r := &kgo.Record{Topic: "other", Partition: 0, Offset: 7, Value: []byte(`{"@timestamp":"` + readTS + `","message":"m"}`), Timestamp: kafkaTime}
	docs, dropped := tr.buildDocuments([]*kgo.Record{r}, ps)
	require.Empty(t, dropped)
	require.Equal(t, []document{buildDocument(r, tr.namer)}, docs)
	docs, _ = tr.buildDocuments([]*kgo.Record{r}, nil)
	require.Equal(t, []document{buildDocument(r, tr.namer)}, docs)
}

// A reload deletes the series of the pipelines and steps the new set does
// not have, and keeps counting the others.
func TestPipelineMetricsOnReload(t *testing.T) {
	tr, _ := testTransfer(t, pipelinesOf(t, `[{name: a, topics: [a], processors: [{set: {fields: {x: 1}}}, {drop: {tag: health, if: 'x == 2'}}]}, {name: b, topics: [b]}]`))
	r := &kgo.Record{Topic: "a", Value: []byte(`{}`)}
	tr.buildDocuments([]*kgo.Record{r}, tr.pipes.Load())
	require.Equal(t, 2, testutil.CollectAndCount(tr.m.PipelineEvents))
	require.Equal(t, 4, testutil.CollectAndCount(tr.m.PipelineErrors), "a: set, health, encode; b: encode")

	require.NoError(t, tr.ReloadPipelines(pipelinesOf(t, `[{name: a, topics: [a], processors: [{set: {fields: {x: 1}}}]}]`)))
	require.Equal(t, 1, testutil.CollectAndCount(tr.m.PipelineEvents), "b's series deleted")
	require.Equal(t, 2, testutil.CollectAndCount(tr.m.PipelineErrors), "a: set, encode")
	tr.buildDocuments([]*kgo.Record{r}, tr.pipes.Load())
	require.Equal(t, float64(2), testutil.ToFloat64(tr.m.PipelineEvents.WithLabelValues("a")), "a kept counting")
	require.Equal(t, float64(1), testutil.ToFloat64(tr.m.PipelineReloads.WithLabelValues("file", "ok")))

	err := tr.ReloadPipelines(pipelinesOf(t, `[{name: a, topics: [a]}]`)[:0:0])
	require.NoError(t, err, "no pipelines is a valid set")
	require.Equal(t, 0, testutil.CollectAndCount(tr.m.PipelineEvents))
	require.Nil(t, tr.pipes.Load().set)

	bad := []pipeline.Config{{Name: "a", Topics: []string{"a"}}, {Name: "a", Topics: []string{"b"}}}
	err = tr.ReloadPipelines(bad)
	require.ErrorContains(t, err, "pipelines: pipeline a: name: duplicate of pipelines[0]")
	require.Equal(t, float64(1), testutil.ToFloat64(tr.m.PipelineReloads.WithLabelValues("file", "error")))
}

// pipelineDoc is the part of an indexed document these tests read.
type pipelineDoc struct {
	Timestamp time.Time `json:"@timestamp"`
	Message   string    `json:"message"`
	Event     struct {
		Dataset  string `json:"dataset"`
		Ingested string `json:"ingested"`
	} `json:"event"`
	Version int `json:"version"`
	Error   struct {
		Message string `json:"message"`
	} `json:"error"`
	Tags  []string `json:"tags"`
	Kafka struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Offset    int64  `json:"offset"`
	} `json:"kafka"`
	Log struct {
		Offset int `json:"offset"`
	} `json:"log"`
}

// End to end with kfake and the in-memory Elasticsearch: a pipeline of
// drop, set, rename and a step that fails on some records. Dropped records
// are not indexed but committed, and not consumed again by a new instance;
// failed ones are indexed as they came, flagged and counted; records whose
// pipeline sets @timestamp to yesterday are in yesterday's index, under
// their usual id; a topic without a pipeline is indexed as before.
func TestTransferPipelines(t *testing.T) {
	brokers := startKfake(t, 3)
	es := transfertest.NewES(t)
	yesterday := time.Now().UTC().AddDate(0, 0, -1)
	cfg := testConfig(brokers, es.URL(), "web", "plain")
	cfg.Pipelines = pipelinesOf(t, fmt.Sprintf(`
- name: web
  topics: [web]
  processors:
    - drop: {if: 'log.offset %% 10 == 0 || message == "GET /healthz"'}
    - set: {fields: {event.dataset: web.access}}
    - set: {fields: {"@timestamp": %q}, if: 'log.offset %% 5 == 1'}
    - rename: {fields: {host.ip: source.ip}}
    - rename: {fields: {user: user.name}, if: 'log.offset %% 7 == 3', tag: user}
`, yesterday.Format(time.RFC3339)))
	const n = 3000
	produceAgentRecords(t, brokers, "web", 0, n, nil)
	produceAgentRecords(t, brokers, "plain", 0, 100, nil)
	var dropped, failed, late int
	for i := range n {
		switch {
		case i%10 == 0:
			dropped++
		case i%7 == 3:
			failed++
		case i%5 == 1:
			late++
		}
	}
	r := startTransfer(t, cfg)
	waitCount(t, es, n-dropped+100, 30*time.Second)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "web")

	var gotFailed, gotLate int
	for key, body := range es.Docs() {
		var d pipelineDoc
		require.NoError(t, json.Unmarshal(body, &d), key)
		index, id, _ := strings.Cut(key, "/")
		require.Equal(t, fmt.Sprintf("%s-%d-%d", d.Kafka.Topic, d.Kafka.Partition, d.Kafka.Offset), id, "the record's id")
		if d.Kafka.Topic == "plain" {
			require.Empty(t, d.Event.Dataset, "no pipeline")
			require.NotContains(t, string(body), "ingested")
			continue
		}
		i := d.Log.Offset
		require.NotZero(t, i%10, "dropped record %d indexed", i)
		require.NotEmpty(t, d.Event.Ingested)
		switch {
		case i%7 == 3:
			gotFailed++
			require.Equal(t, "pipeline web: processors[4] (user): field user not found", d.Error.Message)
			require.Equal(t, []string{pipeline.PipelineErrorTag}, d.Tags)
			require.Empty(t, d.Event.Dataset, "as it came")
			require.Contains(t, string(body), `"host":{"ip":"10.0.0.1"`)
			require.Equal(t, "web-"+d.Timestamp.UTC().Format("2006.01.02"), index, "the day of its own @timestamp")
		case i%5 == 1:
			gotLate++
			require.Equal(t, "web-"+yesterday.Format("2006.01.02"), index)
			require.Equal(t, "web.access", d.Event.Dataset)
		default:
			require.Equal(t, "web.access", d.Event.Dataset)
			require.Contains(t, string(body), `"source":{"ip":"10.0.0.1"}`)
		}
	}
	require.Equal(t, failed, gotFailed)
	require.Equal(t, late, gotLate)
	require.Equal(t, float64(n), r.metric(t, "logtransfer_pipeline_events_total"))
	require.Equal(t, float64(dropped), r.metric(t, "logtransfer_pipeline_dropped_total"))
	require.Equal(t, float64(failed), testutil.ToFloat64(r.tr.m.PipelineErrors.WithLabelValues("web", "user")))
	require.Equal(t, float64(failed), r.metric(t, "logtransfer_pipeline_errors_total"))
	require.Equal(t, float64(n), r.metric(t, "logtransfer_pipeline_duration_seconds"), "every build timed, dropped ones too")
	require.Equal(t, float64(n+100), r.metric(t, "logtransfer_records_consumed_total"))
	require.Equal(t, float64(n-dropped+100), r.metric(t, "logtransfer_docs_indexed_total"))

	// A stretch of records that are all dropped is committed all the same.
	writes := es.Writes()
	produceAgentRecords(t, brokers, "web", n, n+500, func(i int, v []byte) []byte {
		return []byte(strings.Replace(string(v), fmt.Sprintf(`"line %08d GET /index.html 200"`, i), `"GET /healthz"`, 1))
	})
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_pipeline_dropped_total") == float64(dropped+500) },
		10*time.Second, 10*time.Millisecond)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "web")
	require.Equal(t, writes, es.Writes(), "nothing indexed")

	// A new instance of the group consumes nothing again: the dropped
	// records were committed.
	r.stop(t)
	r2 := startTransfer(t, cfg)
	waitMembers(t, brokers, cfg.Kafka.Group, 1)
	time.Sleep(500 * time.Millisecond)
	require.Equal(t, float64(0), r2.metric(t, "logtransfer_records_consumed_total"))
	require.Equal(t, writes, es.Writes())
}

// A line's own time picks its daily index: nginx lines written 30 hours and
// three days ago, read and shipped now (the agent's @timestamp is the read
// time), go through dissect and the timestamp processor into the indices of
// their UTC dates, not today's, whatever zone the line was written in. Sent
// again by an agent that restarted before its offsets were saved (the same
// event ids, later Kafka offsets), they overwrite their documents in those
// same indices instead of adding any.
func TestPipelineTimestampPicksTheIndex(t *testing.T) {
	brokers := startKfake(t, 1)
	es := transfertest.NewES(t)
	cfg := testConfig(brokers, es.URL(), "web")
	cfg.Pipelines = pipelinesOf(t, `
- name: web
  topics: [web]
  processors:
    - dissect: {pattern: '%{source.address} - %{user.name} [%{time}] "%{request}" %{status} %{bytes}'}
    - timestamp: {field: time, formats: [nginx]}
    - remove: {fields: [time]}
`)
	now := time.Now()
	readAt := now.UTC().Format(time.RFC3339Nano)
	lines := []struct {
		id      string
		written time.Time
	}{
		{"late-1", now.Add(-30 * time.Hour).In(time.FixedZone("", -7*3600))},
		{"late-2", now.AddDate(0, 0, -3).In(time.FixedZone("", 5*3600+1800))},
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	produce := func() {
		for _, l := range lines {
			msg := fmt.Sprintf(`203.0.113.7 - - [%s] "GET / HTTP/1.1" 200 612`, l.written.Format(pipeline.FormatNginx))
			v := fmt.Sprintf(`{"@timestamp":%q,"message":%q,"host":{"name":"web-1"}}`, readAt, msg)
			r := &kgo.Record{Topic: "web", Value: []byte(v), Headers: []kgo.RecordHeader{{Key: record.IDHeader, Value: []byte(l.id)}}}
			require.NoError(t, cl.ProduceSync(t.Context(), r).FirstErr())
		}
	}
	produce()
	r := startTransfer(t, cfg)
	waitCount(t, es, len(lines), 30*time.Second)
	produce() // the same lines again, after the first ones were indexed
	require.Eventually(t, func() bool { return r.metric(t, "logtransfer_docs_indexed_total") == float64(2*len(lines)) },
		30*time.Second, 10*time.Millisecond)
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "web")

	docs := es.Docs()
	require.Len(t, docs, len(lines), "sent twice, indexed once each")
	for _, l := range lines {
		key := "web-" + l.written.UTC().Format("2006.01.02") + "/" + l.id
		body, ok := docs[key]
		require.True(t, ok, "%s not in its day's index: %v", key, docs)
		var d struct {
			Timestamp time.Time `json:"@timestamp"`
			Event     struct {
				Ingested string `json:"ingested"`
			} `json:"event"`
		}
		require.NoError(t, json.Unmarshal(body, &d))
		require.True(t, d.Timestamp.Equal(l.written.Truncate(time.Second)), "@timestamp %s, written %s", d.Timestamp, l.written)
		require.Equal(t, readAt, d.Event.Ingested, "the read time stays in event.ingested")
		require.NotContains(t, string(body), `"time"`)
	}
}

// Pipelines from etcd: the key is read before the first record and replaces
// the config file's pipelines; a change applies to the next records; an
// invalid value is rejected, counted, and the running set stays; a reload
// of the file's pipelines while the key exists waits; deleting the key
// brings the file's back.
func TestTransferPipelinesEtcd(t *testing.T) {
	etcd := testenv.StartEtcd(t)
	cli := etcd.Client(t)
	ctx := context.Background()
	brokers := startKfake(t, 2)
	es := transfertest.NewES(t)
	const key = "/logtransfer/pipelines"
	_, err := cli.Put(ctx, key, `[{name: web, topics: [web], processors: [{set: {fields: {version: 1}}}]}]`)
	require.NoError(t, err)

	cfg := testConfig(brokers, es.URL(), "web")
	cfg.Etcd.Endpoints = etcd.Endpoints()
	cfg.Pipelines = pipelinesOf(t, `[{name: file, topics: [web], processors: [{set: {fields: {version: 100}}}]}]`)
	r := startTransfer(t, cfg)
	m := r.tr.m

	// versions returns the version of each document, by log.offset.
	versions := func() map[int]int {
		out := map[int]int{}
		for key, body := range es.Docs() {
			var d pipelineDoc
			require.NoError(t, json.Unmarshal(body, &d), key)
			out[d.Log.Offset] = d.Version
		}
		return out
	}
	step := 0
	// produce produces 100 records and checks that they are indexed with
	// version want.
	produce := func(want int) {
		t.Helper()
		from := step * 100
		step++
		produceAgentRecords(t, brokers, "web", from, from+100, nil)
		waitCount(t, es, from+100, 15*time.Second)
		v := versions()
		for i := from; i < from+100; i++ {
			require.Equal(t, want, v[i], "record %d", i)
		}
	}
	reloads := func(source, result string) float64 {
		return testutil.ToFloat64(m.PipelineReloads.WithLabelValues(source, result))
	}
	produce(1)
	require.Equal(t, float64(1), reloads("etcd", "ok"))
	require.Equal(t, 1, testutil.CollectAndCount(m.PipelineEvents), "web's series alone: the file's pipeline never ran")

	_, err = cli.Put(ctx, key, `[{name: web, topics: [web], processors: [{rename: {}}]}]`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return reloads("etcd", "error") == 1 }, 10*time.Second, 10*time.Millisecond)
	_, err = cli.Put(ctx, key, `not: [a list`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return reloads("etcd", "error") == 2 }, 10*time.Second, 10*time.Millisecond)
	produce(1)

	_, err = cli.Put(ctx, key, `[{"name":"web2","topics":["web"],"processors":[{"set":{"fields":{"version":2}}}]}]`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return reloads("etcd", "ok") == 2 }, 10*time.Second, 10*time.Millisecond)
	produce(2)
	require.Equal(t, 1, testutil.CollectAndCount(m.PipelineEvents), "web's series deleted")
	require.Equal(t, float64(100), testutil.ToFloat64(m.PipelineEvents.WithLabelValues("web2")))

	require.NoError(t, r.tr.ReloadPipelines(pipelinesOf(t, `[{name: file, topics: [web], processors: [{set: {fields: {version: 3}}}]}]`)))
	produce(2)

	_, err = cli.Delete(ctx, key)
	require.NoError(t, err)
	produce(3)
	require.Equal(t, 1, testutil.CollectAndCount(m.PipelineEvents), "file's series alone")
	require.Equal(t, float64(100), testutil.ToFloat64(m.PipelineEvents.WithLabelValues("file")))
	requireAllCommitted(t, brokers, cfg.Kafka.Group, "web")
}

// `logctl pipeline test --records` prints what logtransfer indexes: the
// same function builds both, and the documents differ only by the kafka
// field logtransfer adds.
func TestLogctlShowsWhatIsIndexed(t *testing.T) {
	pipelines := `
- name: web
  topics: [web]
  keep_original: true
  processors:
    - drop: {if: 'log.offset % 3 == 0'}
    - set: {fields: {event.dataset: web.access, "@timestamp": "2026-12-06T10:00:00Z"}}
    - rename: {fields: {host.name: host.hostname}}
    - rename: {fields: {absent: x}, if: 'log.offset % 3 == 1', tag: sometimes}
`
	tr, ps := testTransfer(t, pipelinesOf(t, pipelines))
	config := filepath.Join(t.TempDir(), "logtransfer.yaml")
	require.NoError(t, os.WriteFile(config, []byte("pipelines:"+pipelines), 0o644))
	received := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	var in strings.Builder
	for i := range 12 {
		v := fmt.Sprintf(`{"@timestamp":"2026-12-07T09:59:%02dZ","message":"line \"%d\" \u00e9","host":{"name":"web-1"},"log":{"offset":%d}}`, i, i, i)
		if i == 11 {
			v = "not JSON \xff"
		}
		recs = append(recs, &kgo.Record{Topic: "web", Offset: int64(i), Value: []byte(v), Timestamp: received})
		in.WriteString(v + "\n")
	}
	docs, _ := tr.buildDocuments(recs, ps)
	var out, errOut strings.Builder
	_, err := ctl.PipelineTest{Config: config, Pipeline: "web", Records: true, Now: func() time.Time { return received }}.
		Run(strings.NewReader(in.String()), &out, &errOut)
	require.ErrorIs(t, err, ctl.ErrLinesFailed)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, len(docs))
	for i, d := range docs {
		var indexed map[string]any
		require.NoError(t, json.Unmarshal(d.body, &indexed))
		delete(indexed, "kafka")
		want, err := json.Marshal(indexed)
		require.NoError(t, err)
		require.JSONEq(t, string(want), lines[i])
	}
}

// The template maps the ECS fields pipelines produce with their types
// (docs/pipelines.md has the same table for readers).
func TestTemplateMappings(t *testing.T) {
	b, err := json.Marshal(map[string]any{"mappings": templateMappings()})
	require.NoError(t, err)
	var tmpl struct {
		Mappings struct {
			DynamicTemplates []map[string]struct {
				PathMatch        string         `json:"path_match"`
				MatchMappingType string         `json:"match_mapping_type"`
				Mapping          map[string]any `json:"mapping"`
			} `json:"dynamic_templates"`
			Properties map[string]any `json:"properties"`
		} `json:"mappings"`
	}
	require.NoError(t, json.Unmarshal(b, &tmpl))
	// field returns the mapping of a dotted field.
	field := func(path string) map[string]any {
		props := tmpl.Mappings.Properties
		parts := strings.Split(path, ".")
		for i, p := range parts {
			m, ok := props[p].(map[string]any)
			require.True(t, ok, "%s: no mapping for %s", path, p)
			if i == len(parts)-1 {
				return m
			}
			props, ok = m["properties"].(map[string]any)
			require.True(t, ok, "%s: %s has no properties", path, p)
		}
		return nil
	}
	for path, typ := range map[string]string{
		"@timestamp": "date", "event.ingested": "date", "message": "text", "error.message": "text",
		"http.response.status_code": "long", "http.response.body.bytes": "long", "process.pid": "long",
		"source.ip": "ip", "url.original": "keyword", "user_agent.original": "keyword", "log.level": "keyword",
		"container.id": "keyword", "stream": "keyword", "tags": "keyword", "event.original": "keyword",
		"http.request.method": "keyword", "host.name": "keyword", "kafka.offset": "long",
	} {
		require.Equal(t, typ, field(path)["type"], path)
	}
	require.Equal(t, map[string]any{"keyword": map[string]any{"type": "keyword", "ignore_above": float64(1024)}}, field("message")["fields"])
	require.Equal(t, "text", field("url.original")["fields"].(map[string]any)["text"].(map[string]any)["type"])
	require.Equal(t, false, field("event.original")["index"])
	require.Equal(t, false, field("event.original")["doc_values"])
	var paths []string
	for _, dt := range tmpl.Mappings.DynamicTemplates {
		for _, d := range dt {
			require.Equal(t, "string", d.MatchMappingType)
			require.Equal(t, "keyword", d.Mapping["type"])
			paths = append(paths, d.PathMatch)
		}
	}
	require.ElementsMatch(t, []string{"log.syslog.*", "kubernetes.*"}, paths)
}

// The bodies of a batch share the arena's chunks without overlapping: a
// body appended to later cannot write over the next one, and a body that
// outgrew its room is its own.
func TestBodyArena(t *testing.T) {
	var a bodyArena
	first := a.keep(append(a.next(8), "first"...))
	second := a.keep(append(a.next(8), "second"...))
	require.Equal(t, "first", string(first))
	require.Equal(t, len(first), cap(first), "no room beyond the body")
	require.Same(t, &a.buf[len(first)], &second[0], "the next body follows in the same chunk")
	_ = append(first, "XXXXXX"...)
	require.Equal(t, "second", string(second))

	// A body larger than the room it asked for is allocated apart; the chunk
	// stays as it was.
	used := len(a.buf)
	big := a.keep(append(a.next(8), strings.Repeat("x", bodyChunk)...))
	require.Len(t, big, bodyChunk)
	require.Equal(t, used, len(a.buf))
	third := a.keep(append(a.next(8), "third"...))
	require.Same(t, &a.buf[used], &third[0])

	// Asking for more than a chunk's room left starts a new chunk.
	a.buf = a.buf[:cap(a.buf)-4]
	fourth := a.keep(append(a.next(8), "fourth"...))
	require.Equal(t, len("fourth"), len(a.buf))
	require.Equal(t, "fourth", string(fourth))
	require.Equal(t, "third", string(third))
}
