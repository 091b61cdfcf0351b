package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// A number beyond float64's range is kept as written (a json.Number), so
// the document says what the line said; Elasticsearch decides what to do
// with it (a mapping error goes to the DLQ).
func TestJSONNumberBeyondFloat64(t *testing.T) {
	p, err := New(parseConfigs(t, `[{name: p, topics: [t], processors: [{json: {}}]}]`)[0])
	require.NoError(t, err)
	e := NewEvent(map[string]any{"message": `{"v":1e400}`})
	require.NoError(t, p.Run(e))
	v, _ := e.Get("v")
	require.Equal(t, json.Number("1e400"), v)
	b, err := e.AppendJSON(nil)
	require.NoError(t, err)
	require.Equal(t, `{"message":"{\"v\":1e400}","v":1e400}`, string(b))
}

func TestJSON(t *testing.T) {
	tests := []struct {
		name, step, in string
		want           string         // the event, as JSON
		typed          map[string]any // values whose Go type matters (JSON hides int64 vs float64)
		wantErr        string
	}{
		{name: "zap line merged into the root", step: `json: {}`,
			in:    `{"message":"{\"level\":\"info\",\"ts\":1765101600.123,\"caller\":\"server/main.go:42\",\"msg\":\"listening\",\"addr\":\":8080\"}"}`,
			want:  `{"message":"{\"level\":\"info\",\"ts\":1765101600.123,\"caller\":\"server/main.go:42\",\"msg\":\"listening\",\"addr\":\":8080\"}","level":"info","ts":1765101600.123,"caller":"server/main.go:42","msg":"listening","addr":":8080"}`,
			typed: map[string]any{"ts": 1765101600.123}},
		{name: "ECS logging line: its message, flat dotted keys and @timestamp",
			step: `json: {field: message, target: ""}`,
			in:   `{"@timestamp":"2026-12-07T10:00:05.250Z","message":"{\"@timestamp\":\"2026-12-07T11:00:00.123+01:00\",\"log.level\":\"INFO\",\"message\":\"Tomcat started on port 8080\",\"ecs.version\":\"1.2.0\",\"service.name\":\"shop\",\"log.logger\":\"o.s.b.w.e.t.TomcatWebServer\"}"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00.123Z","message":"Tomcat started on port 8080","log.level":"INFO","ecs.version":"1.2.0","service.name":"shop","log.logger":"o.s.b.w.e.t.TomcatWebServer"}`},
		{name: "objects merge: the agent's log.file.path stays", step: `json: {}`,
			in:   `{"log":{"file":{"path":"/var/log/app.json"},"offset":1024},"host":"web-1","message":"{\"log\":{\"logger\":\"db\",\"offset\":\"x\"},\"host\":{\"name\":\"pod-7\"}}"}`,
			want: `{"log":{"file":{"path":"/var/log/app.json"},"offset":"x","logger":"db"},"host":{"name":"pod-7"},"message":"{\"log\":{\"logger\":\"db\",\"offset\":\"x\"},\"host\":{\"name\":\"pod-7\"}}"}`},
		{name: "nested objects and arrays", step: `json: {target: doc}`,
			in:    `{"message":"{\"user\":{\"id\":7,\"roles\":[\"admin\",\"dev\"]},\"items\":[{\"sku\":\"A-1\",\"qty\":2},{\"sku\":\"B-2\",\"qty\":1}],\"empty\":{},\"none\":null}"}`,
			want:  `{"message":"{\"user\":{\"id\":7,\"roles\":[\"admin\",\"dev\"]},\"items\":[{\"sku\":\"A-1\",\"qty\":2},{\"sku\":\"B-2\",\"qty\":1}],\"empty\":{},\"none\":null}","doc":{"user":{"id":7,"roles":["admin","dev"]},"items":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":1}],"empty":{},"none":null}}`,
			typed: map[string]any{"doc.user.id": int64(7)}},
		{name: "large numbers: exact int64, else float64", step: `json: {target: n}`,
			in:    `{"message":"{\"id\":9007199254740993,\"max\":9223372036854775807,\"over\":12345678901234567890,\"big\":1e308,\"tiny\":1e-400,\"neg\":-0.5}"}`,
			want:  `{"message":"{\"id\":9007199254740993,\"max\":9223372036854775807,\"over\":12345678901234567890,\"big\":1e308,\"tiny\":1e-400,\"neg\":-0.5}","n":{"id":9007199254740993,"max":9223372036854775807,"over":12345678901234567890,"big":1e308,"tiny":0,"neg":-0.5}}`,
			typed: map[string]any{"n.id": int64(9007199254740993), "n.max": int64(9223372036854775807), "n.over": 1.2345678901234567e19, "n.tiny": 0.0}},
		{name: "an array at the root", step: `json: {}`, in: `{"message":"[1,2,3]"}`,
			wantErr: "field message: not a JSON object but an array; set target to keep it"},
		{name: "a string at the root", step: `json: {}`, in: `{"message":"\"text\""}`,
			wantErr: "field message: not a JSON object but a string"},
		{name: "an array under a target", step: `json: {target: values}`, in: `{"message":"[1,\"a\",null,true]"}`,
			want: `{"message":"[1,\"a\",null,true]","values":[1,"a",null,true]}`},
		{name: "a string under a target", step: `json: {target: app.text}`, in: `{"message":"\"caf\\u00e9 \\ud83d\\ude00\""}`,
			want: `{"message":"\"caf\\u00e9 \\ud83d\\ude00\"","app":{"text":"café 😀"}}`},
		{name: "a number under a target", step: `json: {target: n}`, in: `{"message":" 42 "}`,
			want: `{"message":" 42 ","n":42}`, typed: map[string]any{"n": int64(42)}},
		{name: "null under a target", step: `json: {target: n}`, in: `{"message":"null"}`,
			want: `{"message":"null","n":null}`},
		{name: "a plain text line", step: `json: {}`, in: `{"message":"GET /index.html HTTP/1.1"}`,
			wantErr: "field message: invalid JSON: invalid character 'G' looking for beginning of value"},
		{name: "a truncated object", step: `json: {}`, in: `{"message":"{\"level\":\"info\","}`,
			wantErr: "field message: invalid JSON: unexpected EOF"},
		{name: "two objects on a line", step: `json: {}`, in: `{"message":"{\"a\":1} {\"b\":2}"}`,
			wantErr: "field message: invalid JSON: data after the value"},
		{name: "empty", step: `json: {}`, in: `{"message":"  "}`, wantErr: "field message: empty, not JSON"},
		{name: "missing", step: `json: {field: payload}`, in: `{"message":"m"}`, wantErr: "field payload not found"},
		{name: "null", step: `json: {field: payload}`, in: `{"payload":null}`, wantErr: "field payload is null"},
		{name: "null, ignored as missing", step: `json: {field: payload, ignore_missing: true}`, in: `{"payload":null}`, want: `{"payload":null}`},
		{name: "missing, ignored", step: `json: {field: payload, ignore_missing: true}`, in: `{"message":"m"}`, want: `{"message":"m"}`},
		{name: "not a string", step: `json: {}`, in: `{"message":{"a":1}}`, wantErr: "field message is an object, not a string"},
		{name: "@timestamp that is not RFC 3339", step: `json: {}`, in: `{"message":"{\"@timestamp\":1765101600000}"}`,
			wantErr: "field message: @timestamp 1765101600000: not an RFC 3339 time"},
		{name: "remove_field, the JSON has no message", step: `json: {remove_field: true}`,
			in: `{"message":"{\"msg\":\"hi\"}","host":"h"}`, want: `{"msg":"hi","host":"h"}`},
		{name: "remove_field keeps the JSON's own message", step: `json: {remove_field: true}`,
			in: `{"message":"{\"message\":\"hi\"}"}`, want: `{"message":"hi"}`},
		{name: "remove_field with a target", step: `json: {field: http.body, target: http.request.body, remove_field: true}`,
			in: `{"http":{"body":"{\"q\":\"shoes\"}"}}`, want: `{"http":{"request":{"body":{"q":"shoes"}}}}`},
		{name: "target where a string is", step: `json: {target: message.doc}`, in: `{"message":"{}"}`,
			wantErr: "cannot set message.doc: message is a string, not an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := runStep(t, tt.step, tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.JSONEq(t, tt.want, jsonOf(t, e))
			for path, want := range tt.typed {
				got, _ := e.Get(path)
				require.Equal(t, want, got, path)
			}
		})
	}
}

func TestJSONConfig(t *testing.T) {
	require.ErrorContains(t, stepError(t, `json: {field: ""}`), "pipeline p: processors[0] (json): field: must not be empty")
	require.ErrorContains(t, stepError(t, `json: {add_error_key: true}`), "field add_error_key not found")
}

// FuzzJSON: json never panics, a success leaves an event that encodes as
// JSON (no ±Inf), and a failure gives the event back as it came.
func FuzzJSON(f *testing.F) {
	for _, s := range []string{
		`{"level":"info","msg":"ok","n":1,"f":1.5,"a":[1,{"b":null}]}`,
		`{"@timestamp":"2026-12-07T10:00:00Z","log":{"level":"warn"}}`,
		`[1,2]`, `"s"`, `1e400`, `{"a":1} x`, `{`, ``, `null`, `{"":{"":""}}`,
	} {
		f.Add(s)
	}
	merge, target := stepPipeline(f, `json: {}`), stepPipeline(f, `json: {target: doc, remove_field: true}`)
	f.Fuzz(func(t *testing.T, line string) {
		for _, p := range []*Pipeline{merge, target} {
			e := NewEvent(map[string]any{"message": line, "log": map[string]any{"offset": int64(1)}})
			err := p.Run(e)
			if _, merr := json.Marshal(e.Fields); merr != nil {
				t.Fatalf("event of %q does not encode: %v", line, merr)
			}
			if err != nil {
				msg, _ := e.GetString("message")
				require.Equal(t, line, msg)
			}
		}
	})
}

func BenchmarkJSON(b *testing.B) {
	p := stepPipeline(b, `json: {}`).steps[0].proc
	line := `{"time":"2026-12-07T10:00:00.123Z","level":"info","logger":"http","msg":"request served","method":"GET","path":"/api/v1/orders","status":200,"duration_ms":12.5,"user":{"id":7,"roles":["admin"]}}`
	e := NewEvent(map[string]any{"message": line})
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Process(e); err != nil { // the same keys again: a decode and a merge
			b.Fatal(err)
		}
	}
}
