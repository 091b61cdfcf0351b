package pipeline

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// parseConfigs reads pipelines from YAML, failing the test on an error.
func parseConfigs(t testing.TB, y string) []Config {
	t.Helper()
	cfgs, err := Parse([]byte(y))
	require.NoError(t, err)
	return cfgs
}

// event decodes a JSON object into an event, as logtransfer does.
func event(t testing.TB, j string) *Event {
	t.Helper()
	m, err := DecodeObject([]byte(j))
	require.NoError(t, err)
	return NewEvent(m)
}

// jsonOf encodes e's fields, keys sorted.
func jsonOf(t testing.TB, e *Event) string {
	t.Helper()
	b, err := json.Marshal(e.Fields)
	require.NoError(t, err)
	return string(b)
}

func TestEventPaths(t *testing.T) {
	e := event(t, `{"url":{"original":"/a"},"log.level":"info","n":1,"s":"x"}`)
	v, ok := e.Get("url.original")
	require.True(t, ok)
	require.Equal(t, "/a", v)
	v, ok = e.Get("log.level") // a flat dotted key
	require.True(t, ok)
	require.Equal(t, "info", v)
	_, ok = e.Get("url.missing")
	require.False(t, ok)
	_, ok = e.Get("s.x") // through a string
	require.False(t, ok)

	require.NoError(t, e.Put("http.response.status_code", 200))
	require.ErrorContains(t, e.Put("s.x", 1), "cannot set s.x: s is a string, not an object")
	v, ok = e.Delete("url.original")
	require.True(t, ok)
	require.Equal(t, "/a", v)
	_, ok = e.Delete("log.level")
	require.True(t, ok)
	require.JSONEq(t, `{"url":{},"n":1,"s":"x","http":{"response":{"status_code":200}}}`, jsonOf(t, e))
}

func TestShapeProcessors(t *testing.T) {
	tests := []struct {
		name, processors, in, want string
		wantErr                    string // in error.message; the event is then the input plus the flags
	}{
		{name: "set", processors: `[{set: {fields: {event.dataset: nginx.access, n: 2}}}]`,
			in: `{"message":"m","n":1}`, want: `{"message":"m","n":2,"event":{"dataset":"nginx.access"}}`},
		{name: "set without override", processors: `[{set: {fields: {n: 2, m: 3}, override: false}}]`,
			in: `{"n":1}`, want: `{"n":1,"m":3}`},
		{name: "rename", processors: `[{rename: {fields: {level: log.level, time: event.created}}}]`,
			in: `{"level":"warn","time":"t"}`, want: `{"log":{"level":"warn"},"event":{"created":"t"}}`},
		{name: "rename missing", processors: `[{rename: {fields: {level: log.level}}}]`,
			in: `{"message":"m"}`, wantErr: "pipeline p: processors[0] (rename): field level not found"},
		{name: "rename missing ignored", processors: `[{rename: {fields: {level: log.level}, ignore_missing: true}}]`,
			in: `{"message":"m"}`, want: `{"message":"m"}`},
		{name: "remove", processors: `[{remove: {fields: [time, a.b, absent]}}]`,
			in: `{"time":1,"a":{"b":2,"c":3}}`, want: `{"a":{"c":3}}`},
		{name: "drop if", processors: `[{drop: {if: 'url.original == "/healthz"'}}, {set: {fields: {x: 1}}}]`,
			in: `{"url":{"original":"/"}}`, want: `{"url":{"original":"/"},"x":1}`},
		{name: "if on a missing field is false", processors: `[{set: {fields: {x: 1}, if: 'http.response.status_code >= 500'}}]`,
			in: `{"message":"m"}`, want: `{"message":"m"}`},
		{name: "if on numbers", processors: `[{set: {fields: {x: 1}, if: 'n > 1'}}]`,
			in: `{"n":2}`, want: `{"n":2,"x":1}`},
		{name: "failure gives the event back, flagged", processors: `[{set: {fields: {x: 1}}}, {rename: {fields: {absent: y}, tag: move}}]`,
			in: `{"message":"m","tags":["a"]}`, wantErr: "pipeline p: processors[1] (move): field absent not found"},
		{name: "ignore_failure", processors: `[{rename: {fields: {absent: y}, ignore_failure: true}}, {set: {fields: {x: 1}}}]`,
			in: `{"message":"m"}`, want: `{"message":"m","x":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgs := parseConfigs(t, "[{name: p, topics: [t], processors: "+tt.processors+"}]")
			p, err := New(cfgs[0])
			require.NoError(t, err)
			e := event(t, tt.in)
			err = p.Run(e)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.JSONEq(t, tt.want, jsonOf(t, e))
				return
			}
			var perr *ProcessorError
			require.ErrorAs(t, err, &perr)
			require.Equal(t, tt.wantErr, err.Error())
			msg, _ := e.GetString("error.message")
			require.Equal(t, tt.wantErr, msg)
			tags, _ := e.Get("tags")
			require.Contains(t, tags, PipelineErrorTag)
			e.Delete("error")
			e.Delete("tags")
			want := event(t, tt.in)
			want.Delete("tags")
			require.JSONEq(t, jsonOf(t, want), jsonOf(t, e), "the event as it came in")
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	m, err := DecodeObject([]byte(`{"i":9007199254740993,"f":1.5,"a":[1,{"b":2}],"e":1e3}`))
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), m["i"], "exact beyond 2^53")
	require.Equal(t, 1.5, m["f"])
	require.Equal(t, []any{int64(1), map[string]any{"b": int64(2)}}, m["a"])
	require.Equal(t, 1000.0, m["e"])
	for in, want := range map[string]string{`[1]`: "not a JSON object but an array", `"s"`: "not a JSON object but a string",
		`{"a":1} {}`: "data after the value", `{"a":`: "unexpected EOF"} {
		_, err := DecodeObject([]byte(in))
		require.ErrorContains(t, err, want, in)
	}
}

func TestDrop(t *testing.T) {
	p, err := New(parseConfigs(t, `[{name: p, topics: [t], processors: [{drop: {if: 'url.original == "/healthz"'}}]}]`)[0])
	require.NoError(t, err)
	e := event(t, `{"url":{"original":"/healthz"}}`)
	require.NoError(t, p.Run(e))
	require.True(t, e.Dropped())
}

func TestKeepOriginal(t *testing.T) {
	p, err := New(parseConfigs(t, `[{name: p, topics: [t], keep_original: true, processors: [{rename: {fields: {message: msg}}}]}]`)[0])
	require.NoError(t, err)
	e := event(t, `{"message":"raw line"}`)
	require.NoError(t, p.Run(e))
	require.JSONEq(t, `{"msg":"raw line","event":{"original":"raw line"}}`, jsonOf(t, e))
}

func TestConfigErrors(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"not a list", `{name: p}`, "pipelines: yaml: unmarshal errors"},
		{"unknown pipeline key", `[{name: p, topics: [t], procesors: []}]`, "field procesors not found"},
		{"processor of two keys", `[{name: p, topics: [t], processors: [{set: {}, drop: {}}]}]`, "a processor is a map of one key"},
		{"options not a map", `[{name: p, topics: [t], processors: [{drop: yes}]}]`, "options of drop must be a map"},
		{"unknown type", `[{name: p, topics: [t], processors: [{nginxx: {}}]}]`, `pipeline p: processors[0] (nginxx): unknown processor type "nginxx", want one of`},
		{"unknown option", `[{name: p, topics: [t], processors: [{drop: {}}, {remove: {field: [a]}}]}]`, "pipeline p: processors[1] (remove): line 1: field field not found"},
		{"bad condition", `[{name: p, topics: [t], processors: [{drop: {if: 'a =='}}]}]`, `pipeline p: processors[0] (drop): if "a ==": unexpected token`},
		{"no name", `[{topics: [t]}]`, "pipelines[0]: pipeline: name: required"},
		{"duplicate name", `[{name: p, topics: [t]}, {name: p, topics: [u]}]`, "pipeline p: name: duplicate of pipelines[0]"},
		{"no topics", `[{name: p}]`, "pipeline p: set topics, topic_regex or both"},
		{"bad topic", `[{name: p, topics: ["a b"]}]`, `pipeline p: topics[0] "a b": not a valid topic name`},
		{"bad regex", `[{name: p, topic_regex: "("}]`, "pipeline p: topic_regex: error parsing regexp"},
		{"empty fields", `[{name: p, topics: [t], processors: [{set: {}}]}]`, "pipeline p: processors[0] (set): fields: at least one field is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestSetFor(t *testing.T) {
	s, err := NewSet(parseConfigs(t, `[{name: web, topics: [web_log]}, {name: any_web, topic_regex: 'web_.*'}, {name: app, topics: [app_log, web_log]}]`))
	require.NoError(t, err)
	require.Equal(t, 3, s.Len())
	require.Equal(t, "web", s.For("web_log").Name(), "the first pipeline that names it")
	require.Equal(t, "any_web", s.For("web_x").Name())
	require.Equal(t, "app", s.For("app_log").Name())
	require.Nil(t, s.For("xweb_x"), "the regex matches whole names")
	require.Nil(t, s.For("other"))
	require.Nil(t, (*Set)(nil).For("web_log"))
}

// A config round-trips through YAML (logctl prints what it reads).
func TestProcessorConfigYAML(t *testing.T) {
	cfgs := parseConfigs(t, `[{name: p, topics: [t], processors: [{drop: {if: 'a == 1'}}, {remove: {fields: [x]}}, {drop: }]}]`)
	out, err := yaml.Marshal(cfgs)
	require.NoError(t, err)
	again := parseConfigs(t, string(out))
	require.Equal(t, "drop", again[0].Processors[0].Type())
	require.Len(t, again[0].Processors, 3)
}

// BenchmarkShapeSteps measures the steps that shape an event, each run as
// logtransfer runs it (its if: condition, when it has one, evaluated first)
// on the event an nginx access line gives. Each iteration puts back what
// the step changed.
func BenchmarkShapeSteps(b *testing.B) {
	for _, bc := range []struct {
		name, step string
		reset      func(e *Event)
	}{
		{name: "set", step: `set: {fields: {event.dataset: nginx.access, event.module: nginx}}`},
		{name: "set_if", step: `set: {fields: {event.outcome: failure}, if: 'http.response.status_code >= 500'}`},
		{name: "rename", step: `rename: {fields: {level: log.level}}`, reset: func(e *Event) {
			v, _ := e.Delete("log.level")
			e.Fields["level"] = v
		}},
		{name: "remove", step: `remove: {fields: [time]}`, reset: func(e *Event) { e.Fields["time"] = "07/Dec/2026:10:00:00 +0000" }},
		{name: "drop_if_false", step: `drop: {if: 'url.original == "/healthz"'}`},
		{name: "drop", step: `drop: {}`, reset: func(e *Event) { e.dropped = false }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := stepPipeline(b, bc.step)
			e := NewEvent(map[string]any{
				"message": `203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 503 612 "-" "curl/8.5.0"`,
				"time":    "07/Dec/2026:10:00:00 +0000",
				"level":   "info",
				"source":  map[string]any{"address": "203.0.113.7", "ip": "203.0.113.7"},
				"url":     map[string]any{"original": "/index.html"},
				"http": map[string]any{"request": map[string]any{"method": "GET"}, "version": "1.1",
					"response": map[string]any{"status_code": int64(503), "body": map[string]any{"bytes": int64(612)}}},
			})
			b.ReportAllocs()
			for b.Loop() {
				if err := p.run(e, nil, nil); err != nil {
					b.Fatal(err)
				}
				if bc.reset != nil {
					bc.reset(e)
				}
			}
		})
	}
}
