package pipeline

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGrok(t *testing.T) {
	tests := []struct {
		name, step, in string
		want           map[string]any // path → value, Go type included
		absent         []string       // paths that must not be set
		wantErr        string
	}{
		{name: "COMBINEDAPACHELOG, nginx's combined line",
			step: `grok: {patterns: ['%{COMBINEDAPACHELOG}']}`,
			in:   `{"message":"203.0.113.7 - alice [07/Dec/2026:10:00:00 +0000] \"GET /index.html?q=shoes HTTP/1.1\" 200 5120 \"https://example.com/\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\""}`,
			want: map[string]any{"source.address": "203.0.113.7", "user.name": "alice", "timestamp": "07/Dec/2026:10:00:00 +0000",
				"http.request.method": "GET", "url.original": "/index.html?q=shoes", "http.version": "1.1",
				"http.response.status_code": int64(200), "http.response.body.size": int64(5120),
				"http.request.referrer": "https://example.com/", "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"}},
		{name: "COMBINEDAPACHELOG, IPv6 and - fields",
			step:   `grok: {patterns: ['%{COMBINEDAPACHELOG}']}`,
			in:     `{"message":"2001:db8::1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/2.0\" 304 - \"-\" \"curl/8.5.0\""}`,
			want:   map[string]any{"source.address": "2001:db8::1", "http.response.status_code": int64(304), "user_agent.original": "curl/8.5.0"},
			absent: []string{"user.name", "http.response.body.size", "http.request.referrer"}},
		// Unanchored, the lazy DATA of the user agent stops at the first
		// quote, an escaped one too; anchored with $ it runs to the last.
		{name: "escaped quotes, unanchored",
			step: `grok: {patterns: ['%{COMBINEDAPACHELOG}']}`,
			in:   `{"message":"10.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"bot \\\"x\\\" 1.0\""}`,
			want: map[string]any{"user_agent.original": `bot \`}},
		{name: "escaped quotes, anchored",
			step: `grok: {patterns: ['^%{COMBINEDAPACHELOG}$']}`,
			in:   `{"message":"10.0.0.1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"bot \\\"x\\\" 1.0\""}`,
			want: map[string]any{"user_agent.original": `bot \"x\" 1.0`}},
		{name: "Elastic's grok example, typed",
			step: `grok: {patterns: ['%{IP:source.ip} %{WORD:http.request.method} %{URIPATHPARAM:url.original} %{NUMBER:http.response.body.bytes:int} %{NUMBER:event.duration:double}']}`,
			in:   `{"message":"55.3.244.1 GET /index.html 15824 0.043"}`,
			want: map[string]any{"source.ip": "55.3.244.1", "http.request.method": "GET", "url.original": "/index.html",
				"http.response.body.bytes": int64(15824), "event.duration": 0.043}},
		{name: "a Java log line, with a definition of our own",
			step: `grok: {patterns: ['^%{TIMESTAMP_ISO8601:time} +%{LOGLEVEL:log.level} %{PID:process.pid:long} --- \[%{DATA:process.thread.name}\] %{JAVACLASS:log.logger} +: %{GREEDYDATA:message}$'], pattern_definitions: {PID: '\d+'}}`,
			in:   `{"message":"2026-12-07 10:00:00.123  INFO 4242 --- [           main] o.s.b.w.e.tomcat.TomcatWebServer         : Tomcat started on port(s): 8080 (http)"}`,
			want: map[string]any{"time": "2026-12-07 10:00:00.123", "log.level": "INFO", "process.pid": int64(4242),
				"process.thread.name": "           main", "log.logger": "o.s.b.w.e.tomcat.TomcatWebServer", "message": "Tomcat started on port(s): 8080 (http)"}},
		{name: "SYSLOGLINE",
			step: `grok: {patterns: ['%{SYSLOGLINE}']}`,
			in:   `{"message":"Dec  7 10:00:00 web-1 sshd[4242]: Accepted publickey for alice from 203.0.113.7 port 51234 ssh2"}`,
			want: map[string]any{"timestamp": "Dec  7 10:00:00", "host.name": "web-1", "message": "Accepted publickey for alice from 203.0.113.7 port 51234 ssh2"}},
		{name: "the first pattern that matches wins",
			step: `grok: {patterns: ['^%{IP:source.ip} %{INT:n:int}$', '^%{IP:source.ip} %{WORD:word}$', '^%{GREEDYDATA:rest}$']}`,
			in:   `{"message":"10.1.2.3 hello"}`,
			want: map[string]any{"source.ip": "10.1.2.3", "word": "hello"}, absent: []string{"n", "rest"}},
		{name: "a definition replaces the library's",
			step: `grok: {patterns: ['%{WORD:w}'], pattern_definitions: {WORD: '[a-z]+-[a-z]+'}}`,
			in:   `{"message":"x well-known y"}`,
			want: map[string]any{"w": "well-known"}},
		{name: "boolean",
			step: `grok: {patterns: ['ok=%{WORD:ok:boolean}']}`,
			in:   `{"message":"status ok=true"}`,
			want: map[string]any{"ok": true}},
		{name: "an optional capture that did not take part is not written",
			step:   `grok: {patterns: ['^%{WORD:a}(?: %{WORD:b})?$']}`,
			in:     `{"message":"alone"}`,
			want:   map[string]any{"a": "alone"},
			absent: []string{"b"}},
		{name: "a match of nothing",
			step: `grok: {patterns: ['%{SPACE:s}']}`,
			in:   `{"message":"x"}`, want: map[string]any{"message": "x"}, absent: []string{"s"}},
		{name: "no match", step: `grok: {patterns: ['^%{WORD:a}$']}`, in: `{"message":"two words"}`,
			wantErr: `pipeline p: processors[0] (grok): field message: pattern "^%{WORD:a}$" does not match`},
		{name: "no pattern matches", step: `grok: {patterns: ['^%{INT:a}$', '^%{IP:a}$']}`, in: `{"message":"x"}`,
			wantErr: "field message: none of the 2 patterns matches"},
		{name: "an int beyond int64", step: `grok: {patterns: ['%{INT:n:int}']}`, in: `{"message":"n=99999999999999999999"}`,
			wantErr: `field message: n: "99999999999999999999" is not an integer`},
		{name: "a field where a string is", step: `grok: {patterns: ['%{IP:source.ip}']}`, in: `{"message":"1.2.3.4","source":"x"}`,
			wantErr: "cannot set source.ip: source is a string, not an object"},
		{name: "missing", step: `grok: {field: line, patterns: ['%{WORD:w}']}`, in: `{"message":"x"}`, wantErr: "field line not found"},
		{name: "missing, ignored", step: `grok: {field: line, patterns: ['%{WORD:w}'], ignore_missing: true}`, in: `{"message":"x"}`,
			want: map[string]any{"message": "x"}, absent: []string{"w"}},
		{name: "not a string", step: `grok: {patterns: ['%{WORD:w}']}`, in: `{"message":["x"]}`, wantErr: "field message is an array, not a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := runStep(t, tt.step, tt.in)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			for path, want := range tt.want {
				got, _ := e.Get(path)
				require.Equal(t, want, got, path)
			}
			for _, path := range tt.absent {
				_, ok := e.Get(path)
				require.False(t, ok, path)
			}
		})
	}
}

func TestGrokConfig(t *testing.T) {
	// Definitions that refer twice to the one below: 2^25 copies of "x".
	var doubling strings.Builder
	doubling.WriteString(`grok: {patterns: ['%{D25}'], pattern_definitions: {D0: x`)
	for i := 1; i <= 25; i++ {
		fmt.Fprintf(&doubling, `, D%d: '%%{D%d}%%{D%d}'`, i, i-1, i-1)
	}
	doubling.WriteString(`}}`)
	tests := []struct{ name, step, want string }{
		{"no patterns", `grok: {}`, "pipeline p: processors[0] (grok): patterns: at least one is required"},
		{"an empty pattern", `grok: {patterns: ['']}`, `patterns[0] "": empty`},
		{"an unknown pattern", `grok: {patterns: ['%{IP:source.ip} %{NOPE:x}']}`, `patterns[0] "%{IP:source.ip} %{NOPE:x}": %{NOPE:x}: no pattern named NOPE`},
		{"an unknown pattern in a definition", `grok: {patterns: ['%{A}'], pattern_definitions: {A: '%{B}'}}`, `in the definition of A: %{B}: no pattern named B`},
		{"an unknown type", `grok: {patterns: ['%{INT:n:integer}']}`, `%{INT:n:integer}: type "integer": want int, long, float, double, bool, boolean or string`},
		{"a field go-grok cannot name", `grok: {patterns: ['\[%{HTTPDATE:@timestamp}\]']}`, `%{HTTPDATE:@timestamp}: not a reference go-grok reads`},
		{"a cycle", `grok: {patterns: ['%{A}'], pattern_definitions: {A: 'a%{B}', B: 'b%{A}'}}`, "in the definition of B: the definition of A refers to itself, through %{A}"},
		{"exponential definitions", doubling.String(), "expands to more than 1048576 bytes"},
		{"a bad regular expression", `grok: {patterns: ['%{WORD:a} (']}`, `patterns[0] "%{WORD:a} (": error parsing regexp: missing closing )`},
		{"a bad definition name", `grok: {patterns: ['%{WORD:a}'], pattern_definitions: {MY-PAT: x}}`, `pattern_definitions: "MY-PAT": a name is letters, digits and _`},
		{"an empty definition", `grok: {patterns: ['%{WORD:a}'], pattern_definitions: {A: ''}}`, `pattern_definitions: A: empty`},
		{"an unknown option", `grok: {patterns: ['%{WORD:a}'], match: x}`, "field match not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.ErrorContains(t, stepError(t, tt.step), tt.want)
		})
	}
}

// The library holds the standard patterns the issue names.
func TestGrokLibrary(t *testing.T) {
	for _, name := range []string{"COMBINEDAPACHELOG", "COMMONAPACHELOG", "IPORHOST", "IP", "NUMBER", "INT", "WORD", "DATA",
		"GREEDYDATA", "TIMESTAMP_ISO8601", "HTTPDATE", "SYSLOGTIMESTAMP", "SYSLOGLINE", "LOGLEVEL", "QS", "URIPATHPARAM", "JAVACLASS"} {
		_, err := compileGrok("%{"+name+":x}", nil)
		require.NoError(t, err, name)
	}
}

func BenchmarkGrok(b *testing.B) {
	line := `203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5120 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0"`
	for _, bc := range []struct{ name, step string }{
		{"COMBINEDAPACHELOG", `grok: {patterns: ['%{COMBINEDAPACHELOG}']}`},
		{"anchored", `grok: {patterns: ['^%{COMBINEDAPACHELOG}$']}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := stepPipeline(b, bc.step).steps[0].proc
			e := NewEvent(map[string]any{"message": line})
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Process(e); err != nil { // the same fields again
					b.Fatal(err)
				}
			}
		})
	}
}
