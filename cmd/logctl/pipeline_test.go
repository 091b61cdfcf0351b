package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A logtransfer config with pipelines, and keys logctl does not read (with
// variables that are not set where logctl runs).
const transferConfig = `kafka:
  brokers: ["${KAFKA_BROKERS}"]
  topics: [web_log, app_log]
elasticsearch:
  urls: ["http://es:9200"]
  password: "${file:/run/secrets/es_password}"
pipelines:
  - name: web
    topics: [web_log]
    processors:
      - drop: {if: 'message contains "/healthz"'}
      - set: {fields: {event.dataset: nginx.access}}
  - name: app
    topics: [app_log]
    keep_original: true
    processors:
      - rename: {fields: {level: log.level}}
`

func TestPipelineTestCommand(t *testing.T) {
	config := writeFile(t, "logtransfer.yaml", transferConfig)
	list := writeFile(t, "pipelines.json", `[{"name":"web","topics":["web_log"],"processors":[{"set":{"fields":{"x":1}}}]}]`)
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string // the documents, JSON, in order
		stderr string   // regexp
	}{
		{name: "lines are messages; dropped lines print nothing",
			stdin: "GET /index.html 200\nGET /healthz 200\nPOST /login 302\n",
			args:  []string{"pipeline", "test", "--config", config, "--pipeline", "web"},
			stdout: []string{`{"event":{"dataset":"nginx.access"},"message":"GET /index.html 200"}`,
				`{"event":{"dataset":"nginx.access"},"message":"POST /login 302"}`},
			stderr: `^$`},
		{name: "verbose reports dropped lines",
			stdin:  "GET /healthz 200\n",
			args:   []string{"pipeline", "test", "--config", config, "--pipeline", "web", "-v"},
			stderr: `^line 1: dropped\n$`},
		{name: "a JSON line is still a message",
			stdin:  `{"level":"info","msg":"started"}` + "\n",
			args:   []string{"pipeline", "test", "--config", config, "--pipeline", "app"},
			code:   1,
			stdout: []string{`{"error":{"message":"pipeline app: processors[0] (rename): field level not found"},"event":{"original":"{\"level\":\"info\",\"msg\":\"started\"}"},"message":"{\"level\":\"info\",\"msg\":\"started\"}","tags":["_pipeline_error"]}`},
			stderr: `^line 1: pipeline app: processors\[0\] \(rename\): field level not found\nlogctl: the pipeline failed on some lines: 1 of 1 lines\n$`},
		{name: "records",
			stdin: `{"@timestamp":"2026-12-07T10:00:00Z","message":"started","level":"info","host":{"name":"app-1"}}` + "\n" +
				`{"@timestamp":"2026-12-07T10:00:01Z","message":"no level"}` + "\n" + "plain text record\n",
			args: []string{"pipeline", "test", "--config", config, "--pipeline", "app", "--records"},
			code: 1,
			stdout: []string{`{"@timestamp":"2026-12-07T10:00:00Z","event":{"ingested":"2026-12-07T10:00:00Z","original":"started"},"host":{"name":"app-1"},"log":{"level":"info"},"message":"started"}`,
				`{"@timestamp":"2026-12-07T10:00:01Z","error":{"message":"pipeline app: processors[0] (rename): field level not found"},"event":{"ingested":"2026-12-07T10:00:01Z","original":"no level"},"message":"no level","tags":["_pipeline_error"]}`,
				`{"error":{"message":"pipeline app: processors[0] (rename): field level not found"},"event":{"original":"plain text record"},"message":"plain text record","tags":["_pipeline_error"]}`},
			stderr: `^line 2: .*\nline 3: .*\nlogctl: the pipeline failed on some lines: 2 of 3 lines\n$`},
		{name: "a list of pipelines as in etcd", stdin: "a\n",
			args:   []string{"pipeline", "test", "--config", list, "--pipeline", "web"},
			stdout: []string{`{"message":"a","x":1}`}},
		{name: "no input", args: []string{"pipeline", "test", "--config", config, "--pipeline", "web"}},
		{name: "unknown pipeline", stdin: "a\n", args: []string{"pipeline", "test", "--config", config, "--pipeline", "nope"}, code: 1,
			stderr: `^logctl: .*logtransfer.yaml: no pipeline "nope"; there are: web, app\n$`},
		{name: "missing flags", args: []string{"pipeline", "test"}, code: 1,
			stderr: `required flag\(s\) "config", "pipeline" not set`},
		{name: "missing file", args: []string{"pipeline", "test", "--config", "/nonexistent.yaml", "--pipeline", "web"}, code: 1,
			stderr: `no such file or directory`},
		{name: "invalid pipelines", args: []string{"pipeline", "test", "--pipeline", "web", "--config",
			writeFile(t, "bad.yaml", "pipelines:\n  - name: web\n    topics: [t]\n    processors: [{nope: {}}]\n")}, code: 1,
			stderr: `pipelines \(line 2\): pipeline web: processors\[0\] \(nope\): unknown processor type "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := exec(t, tt.stdin, tt.args...)
			require.Equal(t, tt.code, code, "stderr: %s", stderr)
			if tt.stderr != "" {
				require.Regexp(t, tt.stderr, stderr)
			}
			var got []string
			for line := range strings.Lines(stdout) {
				var doc map[string]any
				require.NoError(t, json.Unmarshal([]byte(line), &doc), "one JSON object per line: %q", line)
				// The read time of a line is now: check it, then leave it out.
				if ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(doc["@timestamp"])); err == nil && time.Since(ts) < time.Minute {
					ev := doc["event"].(map[string]any)
					require.Equal(t, doc["@timestamp"], ev["ingested"], "event.ingested is the read time")
					delete(doc, "@timestamp")
					if delete(ev, "ingested"); len(ev) == 0 {
						delete(doc, "event")
					}
				}
				b, err := json.Marshal(doc)
				require.NoError(t, err)
				got = append(got, string(b))
			}
			require.Equal(t, tt.stdout, got)
		})
	}
}
