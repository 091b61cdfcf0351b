package pipeline

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecordEvent(t *testing.T) {
	received := time.Date(2026, 12, 7, 10, 0, 0, 123e6, time.UTC)
	tests := []struct {
		name, value, want string
	}{
		{name: "agent record", value: `{"@timestamp":"2026-12-07T09:59:59.5Z","message":"GET /","host":{"name":"web-1"}}`,
			want: `{"@timestamp":"2026-12-07T09:59:59.5Z","message":"GET /","host":{"name":"web-1"},"event":{"ingested":"2026-12-07T09:59:59.5Z"}}`},
		{name: "record without @timestamp", value: `{"message":"m"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00.123Z","message":"m","event":{"ingested":"2026-12-07T10:00:00.123Z"}}`},
		{name: "@timestamp not a time: kept, the read time from Kafka", value: `{"@timestamp":"yesterday","message":"m"}`,
			want: `{"@timestamp":"yesterday","message":"m","event":{"ingested":"2026-12-07T10:00:00.123Z"}}`},
		{name: "the record's event object kept", value: `{"@timestamp":"2026-12-07T09:00:00Z","event":{"dataset":"x"}}`,
			want: `{"@timestamp":"2026-12-07T09:00:00Z","event":{"dataset":"x","ingested":"2026-12-07T09:00:00Z"}}`},
		{name: "event not an object: left as it is", value: `{"@timestamp":"2026-12-07T09:00:00Z","event":"x"}`,
			want: `{"@timestamp":"2026-12-07T09:00:00Z","event":"x"}`},
		{name: "plain text", value: "10.0.0.1 - - GET /",
			want: `{"@timestamp":"2026-12-07T10:00:00.123Z","message":"10.0.0.1 - - GET /","event":{"ingested":"2026-12-07T10:00:00.123Z"}}`},
		{name: "JSON that is not an object is a message", value: `[1,2]`,
			want: `{"@timestamp":"2026-12-07T10:00:00.123Z","message":"[1,2]","event":{"ingested":"2026-12-07T10:00:00.123Z"}}`},
		{name: "invalid JSON is a message", value: `{"message":`,
			want: `{"@timestamp":"2026-12-07T10:00:00.123Z","message":"{\"message\":","event":{"ingested":"2026-12-07T10:00:00.123Z"}}`},
		{name: "invalid UTF-8", value: "a\xffb",
			want: `{"@timestamp":"2026-12-07T10:00:00.123Z","message":"a\ufffdb","event":{"ingested":"2026-12-07T10:00:00.123Z"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, read := RecordEvent([]byte(tt.value), received)
			require.JSONEq(t, tt.want, jsonOf(t, e))
			ingested, ok := e.GetString("event.ingested")
			if ok {
				want, err := time.Parse(time.RFC3339Nano, ingested)
				require.NoError(t, err)
				require.True(t, want.Equal(read), "read %s, want %s", read, want)
			}
		})
	}
}

func TestRunRecord(t *testing.T) {
	p, err := New(parseConfigs(t, `[{name: web, topics: [t], processors: [
		{drop: {if: 'message == "health"'}},
		{set: {fields: {"@timestamp": "2026-12-06T23:00:00Z"}}},
		{rename: {fields: {level: log.level}}}]}]`)[0])
	require.NoError(t, err)
	received := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

	e, read, err := RunRecord(p, []byte(`{"@timestamp":"2026-12-07T09:00:00Z","message":"m","level":"info"}`), received)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), read)
	require.JSONEq(t, `{"@timestamp":"2026-12-06T23:00:00Z","message":"m","log":{"level":"info"},"event":{"ingested":"2026-12-07T09:00:00Z"}}`, jsonOf(t, e))
	ts, ok := e.Timestamp()
	require.True(t, ok)
	require.Equal(t, time.Date(2026, 12, 6, 23, 0, 0, 0, time.UTC), ts)

	e, _, err = RunRecord(p, []byte(`health`), received)
	require.NoError(t, err)
	require.True(t, e.Dropped())

	e, _, err = RunRecord(p, []byte(`{"@timestamp":"2026-12-07T09:00:00Z","message":"m"}`), received)
	var perr *ProcessorError
	require.ErrorAs(t, err, &perr)
	require.Equal(t, "rename", perr.Processor)
	require.JSONEq(t, `{"@timestamp":"2026-12-07T09:00:00Z","message":"m","event":{"ingested":"2026-12-07T09:00:00Z"},
		"error":{"message":"pipeline web: processors[2] (rename): field level not found"},"tags":["_pipeline_error"]}`, jsonOf(t, e),
		"the event as it came in, event.ingested included, flagged")
}

func TestEventTimestamp(t *testing.T) {
	for v, ok := range map[any]bool{"2026-12-07T10:00:00Z": true, "2026-12-07T10:00:00.5+01:00": true, "2026-12-07": false, 12: false, nil: false} {
		e := NewEvent(map[string]any{"@timestamp": v})
		_, got := e.Timestamp()
		require.Equal(t, ok, got, "%v", v)
	}
	_, ok := NewEvent(nil).Timestamp()
	require.False(t, ok)
}

// AppendJSON writes what encoding/json writes for the values events hold,
// without its HTML escapes.
func TestAppendJSON(t *testing.T) {
	values := []any{
		nil, true, false, "", "plain", "quote \" backslash \\ newline \n tab \t ctrl \x01", "é ü 日本", "<a href=\"x\">&</a>",
		int64(0), int64(-42), int64(math.MaxInt64), 7, 0.0, 1.5, -2.25, 1e20, 1e21, 1.23e-7, 0.000001, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64,
		json.Number("1e400"), []any{}, []any{int64(1), "a", nil, []any{true}}, []string{"a", "b"},
		map[string]any{}, map[string]any{"b": int64(1), "a": map[string]any{"z": "x", "y": []any{}}, "": "empty key"},
		int32(5), uint8(6), time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC),
	}
	for _, v := range values {
		got, err := appendValue(nil, v)
		require.NoError(t, err, "%#v", v)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(v))
		require.Equal(t, string(bytes.TrimSuffix(want.Bytes(), []byte("\n"))), string(got), "%#v", v)
	}
	for _, v := range []any{math.NaN(), math.Inf(1), map[string]any{"a": []any{math.Inf(-1)}}, make(chan int), json.Number("x")} {
		_, err := appendValue(nil, v)
		require.Error(t, err, "%#v", v)
	}
	_, err := NewEvent(map[string]any{"http": map[string]any{"bytes": math.NaN()}}).AppendJSON(nil)
	require.ErrorContains(t, err, "http: bytes: unsupported value: NaN")

	m, err := DecodeObject([]byte(`{"big":1e400}`))
	require.NoError(t, err)
	b, err := NewEvent(m).AppendJSON(nil)
	require.NoError(t, err)
	require.Equal(t, `{"big":1e400}`, string(b), "a number beyond float64 is kept as written")
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	t.Setenv("WEB_TOPIC", "web_log")
	tests := []struct {
		name, content string
		want          []string // pipeline names
		wantErr       string
	}{
		{name: "config file", content: `kafka:
  brokers: ["${KAFKA_BROKERS}"]      # not set: not read
elasticsearch:
  password: "${file:/nonexistent}"    # a secret: not read
  unknown_key: 1                      # other keys are logtransfer's to check
pipelines:
  - name: web
    topics: ["${WEB_TOPIC}"]
    processors:
      - drop: {if: 'url.original == "/healthz"'}
  - name: app
    topic_regex: '^app_.*$'
`, want: []string{"web", "app"}},
		{name: "list as in etcd", content: `[{"name":"web","topics":["web_log"]}]`, want: []string{"web"}},
		{name: "no pipelines", content: "kafka: {brokers: [a:1]}\n"},
		{name: "empty file", content: ""},
		{name: "pipelines null", content: "pipelines:\n"},
		{name: "invalid pipeline", content: "index: x\npipelines:\n  - name: web\n    topics: [t]\n    processors: [{set: {}}]\n",
			wantErr: "pipelines (line 3): pipeline web: processors[0] (set): fields: at least one field is required"},
		{name: "unknown pipeline key", content: "pipelines:\n  - name: web\n    topic: [t]\n", wantErr: "field topic not found"},
		{name: "unset variable in a pipeline", content: "pipelines:\n  - name: web\n    topics: [\"${NOPE_NOT_SET}\"]\n",
			wantErr: "environment variable NOPE_NOT_SET is not set"},
		{name: "not YAML", content: "pipelines: [\n", wantErr: "yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs, err := LoadFile(write("f.yaml", tt.content))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var names []string
			for _, c := range cfgs {
				names = append(names, c.Name)
			}
			require.Equal(t, tt.want, names)
		})
	}
	cfgs, err := LoadFile(write("g.yaml", "pipelines: [{name: web, topics: [\"${WEB_TOPIC}\"]}]\n"))
	require.NoError(t, err)
	require.Equal(t, []string{"web_log"}, cfgs[0].Topics, "variables expanded")
	_, err = LoadFile(filepath.Join(dir, "missing.yaml"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestSetInspect(t *testing.T) {
	s, err := NewSet(parseConfigs(t, `[{name: a, topics: [t], processors: [{set: {fields: {x: 1}}}, {drop: {tag: health}}]}, {name: b, topics: [u]}]`))
	require.NoError(t, err)
	ps := s.Pipelines()
	require.Len(t, ps, 2)
	require.Equal(t, "a", ps[0].Name())
	require.Equal(t, []string{"set", "health"}, ps[0].Processors())
	require.Empty(t, ps[1].Processors())
	require.Nil(t, (*Set)(nil).Pipelines())
}

// BenchmarkEncode compares AppendJSON with encoding/json on an event as
// logtransfer indexes it.
func BenchmarkEncode(b *testing.B) {
	value := []byte(`{"@timestamp":"2026-11-25T14:23:01.000000007Z","message":"10.1.2.3 - - [25/Nov/2026:14:23:01 +0000] \"GET /api/v1/items/7919?page=1 HTTP/1.1\" 200 4608 \"https://example.com/list\" \"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\"","host":{"name":"web-1","ip":"10.0.0.7"},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":200}}`)
	e, _ := RecordEvent(value, time.Now())
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = e.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(e.Fields); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestBuildDocument(t *testing.T) {
	p, err := New(parseConfigs(t, `[{name: web, topics: [t], processors: [
		{drop: {if: 'message == "health"'}},
		{set: {fields: {"@timestamp": "2026-12-06T23:00:00Z"}, if: 'message == "late"'}},
		{set: {fields: {n: .nan}, if: 'message == "nan"'}},
		{rename: {fields: {level: log.level}, if: 'message != "plain"'}}]}]`)[0])
	require.NoError(t, err)
	received := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	read := "2026-12-07T09:00:00Z"
	kafka := func(e *Event) { e.Fields["kafka"] = map[string]any{"offset": int64(1)} }
	tests := []struct {
		name, value string
		set         func(*Event)
		dropped     bool
		time        string
		want        string
		wantErr     string
	}{
		{name: "late", value: `{"@timestamp":"` + read + `","message":"late","level":"info"}`, set: kafka, time: "2026-12-06T23:00:00Z",
			want: `{"@timestamp":"2026-12-06T23:00:00Z","event":{"ingested":"` + read + `"},"kafka":{"offset":1},"log":{"level":"info"},"message":"late"}`},
		{name: "plain text", value: `plain`, time: "2026-12-07T10:00:00Z",
			want: `{"@timestamp":"2026-12-07T10:00:00Z","event":{"ingested":"2026-12-07T10:00:00Z"},"message":"plain"}`},
		{name: "dropped", value: `health`, dropped: true},
		{name: "failed", value: `{"@timestamp":"` + read + `","message":"m"}`, set: kafka, time: read,
			want:    `{"@timestamp":"` + read + `","error":{"message":"pipeline web: processors[3] (rename): field level not found"},"event":{"ingested":"` + read + `"},"kafka":{"offset":1},"message":"m","tags":["_pipeline_error"]}`,
			wantErr: "pipeline web: processors[3] (rename): field level not found"},
		{name: "cannot encode", value: `{"@timestamp":"` + read + `","message":"nan","level":"x"}`, set: kafka, time: read,
			want:    `{"@timestamp":"` + read + `","error":{"message":"pipeline web: encode the document: n: unsupported value: NaN"},"event":{"ingested":"` + read + `"},"kafka":{"offset":1},"level":"x","message":"nan","tags":["_pipeline_error"]}`,
			wantErr: "pipeline web: encode the document: n: unsupported value: NaN"},
		{name: "the caller's fields cannot be encoded", value: `{"@timestamp":"` + read + `","message":"m","level":"x"}`,
			set: func(e *Event) { e.Fields["bad"] = math.Inf(1) }, time: read,
			want:    `{"@timestamp":"` + read + `","error":{"message":"pipeline web: encode the document: bad: unsupported value: +Inf"},"message":"{\"@timestamp\":\"` + read + `\",\"message\":\"m\",\"level\":\"x\"}","tags":["_pipeline_error"]}`,
			wantErr: "encode the document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := BuildDocument(p, []byte(tt.value), received, tt.set, nil)
			require.Equal(t, tt.dropped, d.Dropped)
			if tt.dropped {
				require.Nil(t, d.Body)
				return
			}
			require.Equal(t, tt.want, string(d.Body), "keys sorted")
			require.Equal(t, tt.time, d.Time.Format(time.RFC3339))
			if tt.wantErr == "" {
				require.NoError(t, d.Err)
				return
			}
			require.ErrorContains(t, d.Err, tt.wantErr)
		})
	}
	var eerr *EncodeError
	require.ErrorAs(t, BuildDocument(p, []byte(`{"message":"nan","level":"x"}`), received, nil, nil).Err, &eerr)
	require.Equal(t, "web", eerr.Pipeline)
}

// BenchmarkBuildDocument is what a pipeline costs logtransfer per record:
// from the record's bytes (logagent's envelope around an nginx access line)
// to the document's, with the pipeline of TestPipelineThroughput (the nginx
// preset and a drop condition that does not hold) and, for scale, with a
// pipeline of no steps (decoding and encoding alone).
func BenchmarkBuildDocument(b *testing.B) {
	value := []byte(`{"@timestamp":"2026-11-25T14:23:01.000000007Z","message":"10.1.2.3 - - [25/Nov/2026:14:23:01 +0000] \"GET /api/v1/items/7919?page=1 HTTP/1.1\" 200 4608 \"https://example.com/list\" \"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\"","host":{"name":"web-1","ip":"10.0.0.7"},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":200}}`)
	received := time.Now()
	kafka := func(e *Event) {
		e.Fields["kafka"] = map[string]any{"topic": "web", "partition": int64(0), "offset": int64(200)}
	}
	for _, bc := range []struct{ name, processors string }{
		{"no_steps", `[]`},
		{"nginx_drop", `[{nginx: {}}, {drop: {if: 'url.original == "/healthz"'}}]`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p, err := New(parseConfigs(b, `[{name: web, topics: [t], processors: `+bc.processors+`}]`)[0])
			require.NoError(b, err)
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				d := BuildDocument(p, value, received, kafka, buf[:0])
				if d.Err != nil {
					b.Fatal(d.Err)
				}
				buf = d.Body
			}
		})
	}
}
