package pipeline

import "testing"

func TestDocker(t *testing.T) {
	runPresetCases(t, "docker: {}", []presetCase{
		{name: "a line", line: `{"log":"GET /healthz 200\n","stream":"stdout","time":"2026-12-07T10:00:00.123456789Z"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00.123456789Z","stream":"stdout","message":"GET /healthz 200"}`},
		{name: "stderr, CRLF, escapes", line: `{"log":"error: \"x\"\t\u00e9\r\n","stream":"stderr","time":"2026-12-07T11:00:00+01:00"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stderr","message":"error: \"x\"\té"}`},
		{name: "a part of a long line", line: `{"log":"{\"a\":\"first 16 KiB","stream":"stdout","time":"2026-12-07T10:00:00Z"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":"{\"a\":\"first 16 KiB","log":{"flags":["partial"]}}`},
		{name: "attrs", line: `{"log":"x\n","stream":"stdout","attrs":{"com.example.team":"shop","env":"prod"},"time":"2026-12-07T10:00:00Z"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":"x","docker":{"attrs":{"com.example.team":"shop","env":"prod"}}}`},
		{name: "an empty line", line: `{"log":"\n","stream":"stdout","time":"2026-12-07T10:00:00Z"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","stream":"stdout","message":""}`},
		{name: "no stream", line: `{"log":"x\n","time":"2026-12-07T10:00:00Z"}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","message":"x"}`},
		{name: "the agent's record", processor: "docker: {}",
			in:   `{"@timestamp":"2026-12-07T10:00:01Z","message":"{\"log\":\"x\\n\",\"stream\":\"stdout\",\"time\":\"2026-12-07T10:00:00Z\"}","host":{"name":"node1"},"log":{"file":{"path":"/var/lib/docker/containers/abc/abc-json.log"},"offset":0}}`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","message":"x","stream":"stdout","host":{"name":"node1"},"log":{"file":{"path":"/var/lib/docker/containers/abc/abc-json.log"},"offset":0}}`},

		{name: "not JSON", line: `2026-12-07T10:00:00Z stdout F x`, wantErr: "not a json-file record: invalid character '-' after top-level value"},
		{name: "a JSON array", line: `["x"]`, wantErr: "not a json-file record: a JSON array, not an object"},
		{name: "no log", line: `{"stream":"stdout","time":"2026-12-07T10:00:00Z"}`, wantErr: "log: missing"},
		{name: "log not a string", line: `{"log":1,"time":"2026-12-07T10:00:00Z"}`, wantErr: "log: a JSON number, want a string"},
		{name: "no time", line: `{"log":"x\n"}`, wantErr: "time: missing"},
		{name: "bad time", line: `{"log":"x\n","time":"yesterday"}`, wantErr: `time "yesterday": not RFC 3339`},
		{name: "attrs not an object", line: `{"log":"x\n","attrs":["a"],"time":"2026-12-07T10:00:00Z"}`, wantErr: "attrs: a JSON array, want an object"},
		{name: "stream not a string", line: `{"log":"x\n","stream":2,"time":"2026-12-07T10:00:00Z"}`, wantErr: "stream: a JSON number, want a string"},
	})
}

func TestDockerConfig(t *testing.T) {
	presetConfigErrors(t, map[string]string{"docker: {target: x}": "field target not found"})
}

func BenchmarkDocker(b *testing.B) {
	benchPreset(b, newPreset(b, "docker", "{}"), "message",
		`{"log":"10.244.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /healthz HTTP/1.1\" 200 2 \"-\" \"kube-probe/1.31\"\n","stream":"stdout","time":"2026-12-07T10:00:00.123456789Z"}`)
}
