package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/testenv"
)

// transferTemplate is logtransfer's index template (transfer/bulk.go
// templateBody) with 0 replicas for a single node.
const transferTemplate = `{
  "index_patterns": ["*-*"],
  "settings": {"number_of_shards": 1, "number_of_replicas": 0},
  "mappings": {"properties": {
    "@timestamp": {"type": "date"},
    "message": {"type": "text"},
    "host": {"properties": {"name": {"type": "keyword"}, "ip": {"type": "keyword"}}},
    "log": {"properties": {"file": {"properties": {"path": {"type": "keyword"}}}, "offset": {"type": "long"}}},
    "kafka": {"properties": {"topic": {"type": "keyword"}, "partition": {"type": "integer"}, "offset": {"type": "long"}}}
  }}
}`

// logDoc is a log line as logtransfer indexes it: the agent's ECS event plus
// the kafka field, id {topic}-{partition}-{offset}, in index
// {topic}-{yyyy.MM.dd} of its @timestamp.
type logDoc struct {
	topic   string
	offset  int64
	ts      time.Time
	host    string // "" for a raw line (no host, no path)
	ip      string
	path    string
	message string
}

func (d logDoc) index() string {
	return strings.ToLower(d.topic) + "-" + d.ts.UTC().Format("2006.01.02")
}
func (d logDoc) id() string { return fmt.Sprintf("%s-0-%d", d.topic, d.offset) }

func (d logDoc) body() map[string]any {
	b := map[string]any{
		"@timestamp": d.ts.UTC().Format(time.RFC3339Nano),
		"message":    d.message,
		"kafka":      map[string]any{"topic": d.topic, "partition": 0, "offset": d.offset},
	}
	if d.host != "" {
		b["host"] = map[string]any{"name": d.host, "ip": d.ip}
		b["log"] = map[string]any{"file": map[string]any{"path": d.path}, "offset": d.offset * 100}
		b["fields"] = map[string]any{"env": "prod"}
	}
	return b
}

func (d logDoc) line() string {
	host, path := d.host, d.path
	if host == "" {
		host, path = "-", "-"
	}
	return d.ts.UTC().Format("2006-01-02T15:04:05.000Z") + " " + host + " " + path + " " + d.message
}

func indexDocs(t *testing.T, es *elastic.Client, docs ...logDoc) {
	t.Helper()
	ctx := context.Background()
	bulk := es.Bulk().Refresh("true")
	for _, d := range docs {
		bulk.Add(elastic.NewBulkIndexRequest().Index(d.index()).Id(d.id()).Doc(d.body()))
	}
	resp, err := bulk.Do(ctx)
	require.NoError(t, err)
	require.False(t, resp.Errors, "bulk errors: %+v", resp.Failed())
}

func lines(hits []Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.Line()
	}
	return out
}

// TestSearchRealElasticsearch runs logctl search's queries on a node of each
// engine (testenv.EachEngine).
func TestSearchRealElasticsearch(t *testing.T) {
	testenv.EachEngine(t, testSearchRealElasticsearch)
}

func testSearchRealElasticsearch(t *testing.T, node *testenv.Elasticsearch) {
	node.DeleteIndices(t) // the node is shared: another test's lines would match
	es, err := NewElasticsearchClient([]string{node.URL()}, 10*time.Second)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = es.IndexPutTemplate("logtransfer").BodyString(transferTemplate).Do(ctx)
	require.NoError(t, err)

	now := time.Now().UTC().Truncate(time.Millisecond)
	web := func(off int64, ago time.Duration, host, ip, msg string) logDoc {
		return logDoc{topic: "web_log", offset: off, ts: now.Add(-ago), host: host, ip: ip, path: "/var/log/nginx/access.log", message: msg}
	}
	var (
		w1   = web(1, 10*time.Minute, "web-1", "10.0.0.7", "GET /index.html 200")
		w2   = web(2, 5*time.Minute, "web-2", "10.0.0.8", "GET /missing 404")
		w3   = web(3, time.Minute, "web-1", "10.0.0.7", "POST /login 500 error")
		a1   = logDoc{topic: "App_Log", offset: 1, ts: now.Add(-2 * time.Minute), host: "web-2", ip: "10.0.0.8", path: "/var/log/app/app.log", message: "error: disk full"}
		raw  = logDoc{topic: "raw_log", offset: 1, ts: now.Add(-3 * time.Minute), message: "a raw line"}
		old  = web(0, 2*time.Hour, "web-1", "10.0.0.7", "GET /old 200")
		prev = logDoc{topic: "App_Log", offset: 0, ts: now.Add(-30 * time.Hour), host: "web-2", ip: "10.0.0.8", path: "/var/log/app/app.log", message: "error: yesterday"}
	)
	indexDocs(t, es, w1, w2, w3, a1, raw, old, prev)
	s := NewSearcher(es, []string{node.URL()}, 10*time.Second)

	t.Run("queries", func(t *testing.T) {
		tests := []struct {
			name string
			q    Query
			want []logDoc
		}{
			{name: "everything in 15m, oldest first", q: Query{Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w1, w2, raw, a1, w3}},
			{name: "text", q: Query{Text: "error", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{a1, w3}},
			{name: "terms are ANDed", q: Query{Text: "error login", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w3}},
			{name: "phrase and exclusion", q: Query{Text: `"GET /missing" -index`, Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w2}},
			{name: "topic", q: Query{Topic: "web_log", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w1, w2, w3}},
			{name: "topic with capitals", q: Query{Topic: "App_Log", Since: 48 * time.Hour, Limit: 100}, want: []logDoc{prev, a1}},
			{name: "host by name", q: Query{Host: "web-1", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w1, w3}},
			{name: "host by ip", q: Query{Host: "10.0.0.8", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w2, a1}},
			{name: "limit keeps the newest", q: Query{Since: 15 * time.Minute, Limit: 2}, want: []logDoc{a1, w3}},
			{name: "no since", q: Query{Topic: "web_log", Limit: 100}, want: []logDoc{old, w1, w2, w3}},
			{name: "across daily indices", q: Query{Text: "error", Since: 48 * time.Hour, Limit: 100}, want: []logDoc{prev, a1, w3}},
			{name: "field term", q: Query{Text: "log.file.path:/var/log/app/app.log", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{a1}},
			{name: "field term and text", q: Query{Text: "host.name:web-1 error", Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w3}},
			{name: "field terms are ANDed", q: Query{Text: `host.name:web-2 kafka.topic:"web_log"`, Since: 15 * time.Minute, Limit: 100}, want: []logDoc{w2}},
			{name: "no match", q: Query{Text: "nothing-like-this", Limit: 100}, want: []logDoc{}},
			{name: "no such topic", q: Query{Topic: "nope", Limit: 100}, want: []logDoc{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				hits, err := s.Search(ctx, tt.q)
				require.NoError(t, err)
				want := make([]string, len(tt.want))
				for i, d := range tt.want {
					want[i] = d.line()
				}
				require.Equal(t, want, lines(hits))
			})
		}
	})

	t.Run("json output", func(t *testing.T) {
		hits, err := s.Search(ctx, Query{Text: "disk", Since: 15 * time.Minute, Limit: 10})
		require.NoError(t, err)
		var buf bytes.Buffer
		require.NoError(t, WriteHits(&buf, hits, true))
		var got map[string]any
		require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
		require.Equal(t, "app_log-"+a1.ts.Format("2006.01.02"), got["_index"])
		require.Equal(t, "App_Log-0-1", got["_id"])
		require.Equal(t, "prod", got["_source"].(map[string]any)["fields"].(map[string]any)["env"])
	})

	t.Run("bad query", func(t *testing.T) {
		_, err := s.Search(ctx, Query{Index: "{topic}-*", Limit: -5, Since: time.Minute, Text: "x"})
		require.NoError(t, err, "a limit below 1 is 1")
		// An index not made by logtransfer: @timestamp is text, which
		// Elasticsearch cannot sort on.
		_, err = es.Index().Index("plain").BodyString(`{"@timestamp":"not a date"}`).Refresh("true").Do(ctx)
		require.NoError(t, err)
		_, err = s.Search(ctx, Query{Index: "plain", Limit: 1})
		require.ErrorContains(t, err, "elasticsearch "+node.URL()+": search plain: elastic: Error 400 (Bad Request)")
	})
}

// follower runs Follow and collects what it emits.
type follower struct {
	lines chan string
	done  chan error
	stop  context.CancelFunc
}

func follow(t *testing.T, s *Searcher, q Query, shown []Hit) *follower {
	ctx, cancel := context.WithCancel(context.Background())
	f := &follower{lines: make(chan string, 10000), done: make(chan error, 1), stop: cancel}
	go func() {
		f.done <- s.Follow(ctx, q, shown, FollowOptions{Interval: 50 * time.Millisecond, Lookback: time.Minute},
			func(h Hit) error { f.lines <- h.Line(); return nil })
	}()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-f.done)
	})
	return f
}

// next waits for n lines.
func (f *follower) next(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case l := <-f.lines:
			got = append(got, l)
		case <-deadline:
			t.Fatalf("got %d of %d lines: %q", len(got), n, got)
		}
	}
	return got
}

// quiet checks that nothing more is emitted over several polls.
func (f *follower) quiet(t *testing.T) {
	t.Helper()
	select {
	case l := <-f.lines:
		t.Fatalf("unexpected line %q", l)
	case <-time.After(500 * time.Millisecond):
	}
}

// TestFollowRealElasticsearch follows new lines on a node of each engine.
func TestFollowRealElasticsearch(t *testing.T) {
	testenv.EachEngine(t, testFollowRealElasticsearch)
}

func testFollowRealElasticsearch(t *testing.T, node *testenv.Elasticsearch) {
	node.DeleteIndices(t) // the node is shared: another test's lines would match
	es, err := NewElasticsearchClient([]string{node.URL()}, 10*time.Second)
	require.NoError(t, err)
	ctx := context.Background()
	_, err = es.IndexPutTemplate("logtransfer").BodyString(transferTemplate).Do(ctx)
	require.NoError(t, err)
	s := NewSearcher(es, []string{node.URL()}, 10*time.Second)
	s.page = 7 // polls page through search_after

	now := time.Now().UTC().Truncate(time.Millisecond)
	offset := int64(0)
	doc := func(ago time.Duration, msg string) logDoc {
		offset++
		return logDoc{topic: "web_log", offset: offset, ts: now.Add(-ago), host: "web-1", ip: "10.0.0.7", path: "/var/log/a.log", message: msg}
	}
	wantLines := func(docs ...logDoc) []string {
		out := make([]string, len(docs))
		for i, d := range docs {
			out[i] = d.line()
		}
		return out
	}

	t.Run("new, late and same-millisecond lines, once each", func(t *testing.T) {
		before := []logDoc{doc(3*time.Minute, "req before 1"), doc(2*time.Minute, "req before 2")}
		indexDocs(t, es, before...)
		q := Query{Text: "req", Topic: "web_log", Since: 15 * time.Minute, Limit: 100}
		shown, err := s.Search(ctx, q)
		require.NoError(t, err)
		require.Equal(t, wantLines(before...), lines(shown))
		f := follow(t, s, q, shown)
		f.quiet(t)

		// New lines, 20 of them in the same millisecond (the _id breaks the
		// tie), more than a page: printed in (@timestamp, _id) order.
		var batch []logDoc
		for i := range 20 {
			d := doc(-time.Second, fmt.Sprintf("req same ms %02d", i))
			d.offset = 1000 + int64(i) // ids web_log-0-1000.. sort like the messages
			batch = append(batch, d)
		}
		batch = append(batch, doc(-2*time.Second, "req newest"), doc(-2*time.Second, "nothing to see"))
		indexDocs(t, es, batch...)
		require.Equal(t, wantLines(batch[:21]...), f.next(t, 21))
		f.quiet(t)

		// A line that becomes searchable late, with a @timestamp before the
		// newest one printed but within the lookback: printed, once.
		late := doc(30*time.Second, "req late")
		indexDocs(t, es, late)
		require.Equal(t, wantLines(late), f.next(t, 1))
		// Beyond the lookback: not printed (documented limit).
		tooLate := doc(10*time.Minute, "req too late")
		indexDocs(t, es, tooLate)
		// Re-indexing a printed line (a redelivery overwrites it) prints nothing.
		indexDocs(t, es, batch[0], late)
		f.quiet(t)
	})

	t.Run("a full first page: older lines stay left out", func(t *testing.T) {
		first := []logDoc{doc(40*time.Second, "job 1"), doc(30*time.Second, "job 2"), doc(20*time.Second, "job 3")}
		indexDocs(t, es, first...)
		q := Query{Text: "job", Since: 15 * time.Minute, Limit: 2}
		shown, err := s.Search(ctx, q)
		require.NoError(t, err)
		require.Equal(t, wantLines(first[1:]...), lines(shown))
		f := follow(t, s, q, shown)
		f.quiet(t) // "job 1" is within the lookback but was left out by the limit
		next := doc(-time.Second, "job 4")
		indexDocs(t, es, next)
		require.Equal(t, wantLines(next), f.next(t, 1))
	})
}

func TestFollowOptions(t *testing.T) {
	tests := []struct {
		name string
		opt  FollowOptions
	}{
		{name: "no interval", opt: FollowOptions{Lookback: time.Minute}},
		{name: "negative interval", opt: FollowOptions{Interval: -time.Second, Lookback: time.Minute}},
		{name: "negative lookback", opt: FollowOptions{Interval: time.Second, Lookback: -time.Minute}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSearcher(nil, nil, 0) // never reached
			err := s.Follow(context.Background(), Query{}, nil, tt.opt, func(Hit) error { return nil })
			require.ErrorContains(t, err, "must be positive and lookback")
		})
	}
}

func TestFieldTerms(t *testing.T) {
	tests := []struct {
		name, text, rest string
		fields           [][2]string
	}{
		{name: "words", text: "GET checkout", rest: "GET checkout"},
		{name: "field", text: "http.response.status_code:500", fields: [][2]string{{"http.response.status_code", "500"}}},
		{name: "mixed", text: `checkout log.level:error -slow`, rest: "checkout -slow", fields: [][2]string{{"log.level", "error"}}},
		{name: "quoted value", text: `url.original:"/cart"`, fields: [][2]string{{"url.original", "/cart"}}},
		{name: "undotted stays text", text: "error:timeout", rest: "error:timeout"},
		{name: "in a phrase", text: `"a http.x:1 b" c`, rest: `"a http.x:1 b" c`},
		{name: "empty value", text: "log.level:", rest: "log.level:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rest, fields := fieldTerms(tt.text)
			require.Equal(t, tt.rest, rest)
			require.Equal(t, tt.fields, fields)
		})
	}
}
