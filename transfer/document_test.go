package transfer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/esindex"
	"github.com/logcollect/logcollect/internal/record"
)

func TestBuildDocument(t *testing.T) {
	kts := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	namer, err := esindex.Parse(defaultIndex)
	require.NoError(t, err)
	tests := []struct {
		name      string
		value     string
		wantBody  string
		wantIndex string
		wantTS    time.Time
	}{
		{
			name:      "agent record",
			value:     `{"@timestamp":"2026-05-06T07:08:09.123Z","message":"GET /","host":{"name":"h","ip":"10.0.0.1"},"log":{"file":{"path":"/var/log/a.log"},"offset":42}}`,
			wantBody:  `{"@timestamp":"2026-05-06T07:08:09.123Z","message":"GET /","host":{"name":"h","ip":"10.0.0.1"},"log":{"file":{"path":"/var/log/a.log"},"offset":42},"kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.05.06",
			wantTS:    time.Date(2026, 5, 6, 7, 8, 9, 123e6, time.UTC),
		},
		{
			name:      "not JSON",
			value:     "plain \"line\"",
			wantBody:  `{"message":"plain \"line\"","@timestamp":"2026-01-02T03:04:05.0000006Z","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "JSON but not an object",
			value:     `[1,2]`,
			wantBody:  `{"message":"[1,2]","@timestamp":"2026-01-02T03:04:05.0000006Z","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "broken JSON object",
			value:     `{"message":"x"`,
			wantBody:  `{"message":"{\"message\":\"x\"","@timestamp":"2026-01-02T03:04:05.0000006Z","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "empty object, no @timestamp",
			value:     ` { } `,
			wantBody:  `{"kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "unparsable @timestamp falls back to the Kafka timestamp",
			value:     `{"@timestamp":"yesterday","message":"m"}`,
			wantBody:  `{"@timestamp":"yesterday","message":"m","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "multi-line JSON is compacted",
			value:     "{\n  \"message\": \"m\"\n}\n",
			wantBody:  `{"message":"m","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "own kafka field is replaced",
			value:     `{"message":"m","kafka":{"topic":"other"}}`,
			wantBody:  `{"message":"m","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
		{
			name:      "invalid UTF-8 in a raw line",
			value:     "a\xffb",
			wantBody:  `{"message":"a�b","@timestamp":"2026-01-02T03:04:05.0000006Z","kafka":{"topic":"Web","partition":3,"offset":17}}`,
			wantIndex: "web-2026.01.02",
			wantTS:    kts,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &kgo.Record{Topic: "Web", Partition: 3, Offset: 17, Timestamp: kts, Value: []byte(tt.value)}
			d := buildDocument(r, namer)
			require.Equal(t, tt.wantBody, string(d.body))
			require.True(t, json.Valid(d.body))
			require.Equal(t, tt.wantIndex, d.index)
			require.Equal(t, "Web-3-17", d.id)
			require.True(t, tt.wantTS.Equal(d.ts), "ts %s, want %s", d.ts, tt.wantTS)
			require.Same(t, r, d.rec)
		})
	}
}

func TestDocID(t *testing.T) {
	id := func(v string) []kgo.RecordHeader { return []kgo.RecordHeader{{Key: record.IDHeader, Value: []byte(v)}} }
	tests := []struct {
		name    string
		headers []kgo.RecordHeader
		want    string
	}{
		{"no header: the Kafka position", nil, "web-3-17"},
		{"the agent's event id", id("NOJRZwCwSaCREkjW-1852"), "NOJRZwCwSaCREkjW-1852"},
		{"among other headers", append([]kgo.RecordHeader{{Key: "trace", Value: []byte("x")}}, id("e-0")...), "e-0"},
		{"empty", id(""), "web-3-17"},
		{"longer than Elasticsearch accepts", id(strings.Repeat("x", 513)), "web-3-17"},
		{"512 bytes", id(strings.Repeat("x", 512)), strings.Repeat("x", 512)},
		{"not UTF-8", id("a\xffb"), "web-3-17"},
	}
	namer, err := esindex.Parse("{topic}")
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &kgo.Record{Topic: "web", Partition: 3, Offset: 17, Value: []byte(`{"message":"m"}`), Headers: tt.headers}
			require.Equal(t, tt.want, buildDocument(r, namer).id)
		})
	}
}

func TestClassify(t *testing.T) {
	block := func(status int) bulkItem {
		return bulkItem{Status: status, Error: &elastic.ErrorDetails{Type: "cluster_block_exception"}}
	}
	tests := []struct {
		name   string
		item   bulkItem
		want   outcome
		reason string // stall reason when retried
	}{
		{"200", bulkItem{Status: 200}, outcomeOK, ""},
		{"201", bulkItem{Status: 201}, outcomeOK, ""},
		{"400", bulkItem{Status: 400, Error: &elastic.ErrorDetails{Type: "mapper_parsing_exception"}}, outcomeReject, ""},
		{"404", bulkItem{Status: 404}, outcomeReject, ""},
		{"409", bulkItem{Status: 409}, outcomeReject, ""},
		{"403 without a block", bulkItem{Status: 403, Error: &elastic.ErrorDetails{Type: "security_exception"}}, outcomeReject, ""},
		{"429", bulkItem{Status: 429, Error: &elastic.ErrorDetails{Type: "es_rejected_execution_exception"}}, outcomeRetry, stallESRejected},
		{"500", bulkItem{Status: 500}, outcomeRetry, stallES5xx},
		{"503", bulkItem{Status: 503}, outcomeRetry, stallES5xx},
		{"no status", bulkItem{}, outcomeRetry, stallES5xx},
		{"403 write block", block(403), outcomeRetry, stallIndexBlocked},
		{"429 flood-stage block", block(429), outcomeRetry, stallDiskWatermark},
		{"503 no master", block(503), outcomeRetry, stallES5xx},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, classify(tt.item))
			if tt.want == outcomeRetry {
				require.Equal(t, tt.reason, itemStallReason(tt.item))
			}
		})
	}
}

func TestSplitDocs(t *testing.T) {
	mk := func(sizes ...int) []document {
		var ds []document
		for _, s := range sizes {
			ds = append(ds, document{body: make([]byte, s-actionOverhead)})
		}
		return ds
	}
	lens := func(cs [][]document) []int {
		var out []int
		for _, c := range cs {
			out = append(out, len(c))
		}
		return out
	}
	tests := []struct {
		name           string
		sizes          []int
		actions, bytes int
		want           []int
	}{
		{"empty", nil, 2, 1000, nil},
		{"by actions", []int{100, 100, 100, 100, 100}, 2, 1000, []int{2, 2, 1}},
		{"by bytes", []int{100, 100, 100, 100}, 10, 250, []int{2, 2}},
		{"oversized doc alone", []int{100, 1000, 100}, 10, 250, []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, lens(splitDocs(mk(tt.sizes...), tt.actions, tt.bytes)))
		})
	}
}

func TestBulkBody(t *testing.T) {
	docs := []document{
		{index: "logs-2026.11.25", id: "AbC-12", body: []byte(`{"message":"a"}`)},
		{index: "logs", id: `q"u\o`, body: []byte(`{"message":"b"}`)},
		{index: "logs", id: "tab\tnew\nline\u00e9", body: []byte(`{}`)},
	}
	want := `{"index":{"_index":"logs-2026.11.25","_id":"AbC-12"}}` + "\n" + `{"message":"a"}` + "\n" +
		`{"index":{"_index":"logs","_id":"q\"u\\o"}}` + "\n" + `{"message":"b"}` + "\n" +
		`{"index":{"_index":"logs","_id":"tab\tnew\nlineé"}}` + "\n" + `{}` + "\n"
	body := bulkBody(docs)
	require.Equal(t, want, body)
	require.Equal(t, docs[0].bulkSize(), len(`{"index":{"_index":"logs-2026.11.25","_id":"AbC-12"}}`+"\n"+`{"message":"a"}`+"\n"))
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	require.Len(t, lines, 2*len(docs))
	for i, d := range docs {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(lines[2*i]), &action))
		require.Equal(t, d.index, action["index"].Index)
		require.Equal(t, d.id, action["index"].ID)
	}
}
