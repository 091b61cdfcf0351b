package pipeline

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// accessLine is an Apache/nginx common log line, as in Elasticsearch's
// dissect documentation; accessLineJSON is it as a JSON string.
const (
	accessLine     = `1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] "GET /english/venues/cities/images/montpellier/18.gif HTTP/1.0" 200 3171`
	accessLineJSON = `"1.2.3.4 - - [30/Apr/1998:22:00:52 +0000] \"GET /english/venues/cities/images/montpellier/18.gif HTTP/1.0\" 200 3171"`
)

func TestDissect(t *testing.T) {
	tests := []struct {
		name, step, in string
		want           string // the event, as JSON
		wantErr        string
	}{
		// The examples of Elasticsearch's dissect processor documentation.
		{name: "docs: the access line",
			step: `dissect: {pattern: '%{clientip} %{ident} %{auth} [%{@timestamp}] "%{verb} %{request} HTTP/%{httpversion}" %{status} %{size}'}`,
			in:   `{"message":` + accessLineJSON + `}`,
			want: `{"message":` + accessLineJSON + `,"clientip":"1.2.3.4","ident":"-","auth":"-","@timestamp":"30/Apr/1998:22:00:52 +0000",
				"verb":"GET","request":"/english/venues/cities/images/montpellier/18.gif","httpversion":"1.0","status":"200","size":"3171"}`},
		{name: "docs: right padding",
			step: `dissect: {pattern: '%{ts->} %{level}'}`,
			in:   `{"message":"1998-08-10T17:15:42,466          WARN"}`,
			want: `{"message":"1998-08-10T17:15:42,466          WARN","ts":"1998-08-10T17:15:42,466","level":"WARN"}`},
		{name: "docs: right padding of an empty key",
			step: `dissect: {pattern: '[%{ts}]%{->}[%{level}]'}`,
			in:   `{"message":"[1998-08-10T17:15:42,466]            [WARN]"}`,
			want: `{"message":"[1998-08-10T17:15:42,466]            [WARN]","ts":"1998-08-10T17:15:42,466","level":"WARN"}`},
		{name: "docs: append",
			step: `dissect: {pattern: '%{+name} %{+name} %{+name} %{+name}', append_separator: " "}`,
			in:   `{"message":"john jacob jingleheimer schmidt"}`,
			want: `{"message":"john jacob jingleheimer schmidt","name":"john jacob jingleheimer schmidt"}`},
		{name: "docs: append with order",
			step: `dissect: {pattern: '%{+name/2} %{+name/4} %{+name/3} %{+name/1}', append_separator: ","}`,
			in:   `{"message":"john jacob jingleheimer schmidt"}`,
			want: `{"message":"john jacob jingleheimer schmidt","name":"schmidt,john,jingleheimer,jacob"}`},
		{name: "docs: named skip, and the rest after the last delimiter is ignored",
			step: `dissect: {pattern: '%{clientip} %{?ident} %{?auth} [%{@timestamp}]'}`,
			in:   `{"message":` + accessLineJSON + `}`,
			want: `{"message":` + accessLineJSON + `,"clientip":"1.2.3.4","@timestamp":"30/Apr/1998:22:00:52 +0000"}`},
		{name: "docs: reference keys",
			step: `dissect: {pattern: '[%{ts}] [%{level}] %{*p1}:%{&p1} %{*p2}:%{&p2}'}`,
			in:   `{"message":"[2018-08-10T17:15:42,466] [ERR] ip:1.2.3.4 error:REFUSED"}`,
			want: `{"message":"[2018-08-10T17:15:42,466] [ERR] ip:1.2.3.4 error:REFUSED","ts":"2018-08-10T17:15:42,466","level":"ERR","ip":"1.2.3.4","error":"REFUSED"}`},

		// ECS names, target_prefix, the message replaced.
		{name: "ECS names nest",
			step: `dissect: {pattern: '%{source.ip} %{?ident} %{user.name} [%{time}] "%{http.request.method} %{url.original} HTTP/%{http.version}" %{http.response.status_code} %{http.response.body.bytes}'}`,
			in:   `{"message":"2001:db8::7 - alice [07/Dec/2026:10:00:00 +0100] \"POST /api/orders HTTP/2.0\" 201 17"}`,
			want: `{"message":"2001:db8::7 - alice [07/Dec/2026:10:00:00 +0100] \"POST /api/orders HTTP/2.0\" 201 17","source":{"ip":"2001:db8::7"},"user":{"name":"alice"},
				"time":"07/Dec/2026:10:00:00 +0100","http":{"request":{"method":"POST"},"version":"2.0","response":{"status_code":"201","body":{"bytes":"17"}}},"url":{"original":"/api/orders"}}`},
		{name: "target_prefix, as Filebeat's",
			step: `dissect: {pattern: '%{a} %{*k}=%{&k}', target_prefix: dissect}`,
			in:   `{"message":"x level=warn"}`,
			want: `{"message":"x level=warn","dissect":{"a":"x","level":"warn"}}`},
		{name: "the message replaced by its rest",
			step: `dissect: {pattern: '%{log.level} %{message}'}`,
			in:   `{"message":"WARN disk 91% full"}`,
			want: `{"message":"disk 91% full","log":{"level":"WARN"}}`},
		{name: "a plain key joins the appends of its name",
			step: `dissect: {field: line, pattern: '%{date} %{+date} %{msg}', append_separator: "T"}`,
			in:   `{"line":"2026-12-07 10:00:00 started"}`,
			want: `{"line":"2026-12-07 10:00:00 started","date":"2026-12-07T10:00:00","msg":"started"}`},

		// Edge cases.
		{name: "empty values between delimiters",
			step: `dissect: {pattern: '%{a},%{b},%{c},%{d}'}`,
			in:   `{"message":"foo,,,"}`,
			want: `{"message":"foo,,,","a":"foo","b":"","c":"","d":""}`},
		{name: "right padding skips repeated delimiters",
			step: `dissect: {pattern: '%{a->},%{b}'}`,
			in:   `{"message":"foo,,,,,,bar"}`,
			want: `{"message":"foo,,,,,,bar","a":"foo","b":"bar"}`},
		{name: "right padding with a delimiter of two bytes",
			step: `dissect: {pattern: '%{a->}  %{b}'}`,
			in:   `{"message":"x      y"}`,
			want: `{"message":"x      y","a":"x","b":"y"}`},
		{name: "right padding on the last key",
			step: `dissect: {pattern: '%{a} %{b->}'}`,
			in:   `{"message":"x y  "}`,
			want: `{"message":"x y  ","a":"x","b":"y  "}`},
		{name: "a delimiter at the end of the pattern",
			step: `dissect: {pattern: '<%{pri}>'}`,
			in:   `{"message":"<34>Oct 11 22:14:15 mymachine su: 'su root' failed"}`,
			want: `{"message":"<34>Oct 11 22:14:15 mymachine su: 'su root' failed","pri":"34"}`},
		{name: "a delimiter at the end of the value",
			step: `dissect: {pattern: '%{a}|%{b}|'}`,
			in:   `{"message":"x||"}`,
			want: `{"message":"x||","a":"x","b":""}`},
		{name: "the last key empty",
			step: `dissect: {pattern: '%{a} %{b}'}`,
			in:   `{"message":"x "}`,
			want: `{"message":"x ","a":"x","b":""}`},
		{name: "the first delimiter found is the one taken",
			step: `dissect: {pattern: '%{a}:%{b}'}`,
			in:   `{"message":"[::1]:8080"}`,
			want: `{"message":"[::1]:8080","a":"[","b":":1]:8080"}`},
		{name: "unicode delimiters, values and names",
			step: `dissect: {pattern: '%{ville} → %{城市}｜%{émoji}'}`,
			in:   `{"message":"Zürich → 東京｜😀 ok"}`,
			want: `{"message":"Zürich → 東京｜😀 ok","ville":"Zürich","城市":"東京","émoji":"😀 ok"}`},
		{name: "a delimiter with a percent sign and a brace",
			step: `dissect: {pattern: '%{a} 100% {%{b}}'}`,
			in:   `{"message":"x 100% {y}"}`,
			want: `{"message":"x 100% {y}","a":"x","b":"y"}`},

		// Failures.
		{name: "a delimiter not found",
			step:    `dissect: {pattern: '%{a} [%{b}]'}`,
			in:      `{"message":"x [y"}`,
			wantErr: `pipeline p: processors[0] (dissect): field message: pattern "%{a} [%{b}]" does not match: no "]" after %{b}`},
		{name: "the text before the first key",
			step:    `dissect: {pattern: '<%{pri}>%{rest}'}`,
			in:      `{"message":"34> x"}`,
			wantErr: `field message: pattern "<%{pri}>%{rest}" does not match: the value does not start with "<"`},
		{name: "an empty value",
			step:    `dissect: {pattern: '%{a} %{b}'}`,
			in:      `{"message":""}`,
			wantErr: `does not match: no " " after %{a}`},
		{name: "a reference to an empty name",
			step:    `dissect: {pattern: '%{*k}=%{&k}'}`,
			in:      `{"message":"=v"}`,
			wantErr: `field message: %{*k} matched "", which is not a field name`},
		{name: "a field where a string is",
			step:    `dissect: {pattern: '%{source.ip} %{b}'}`,
			in:      `{"message":"1.2.3.4 y","source":"x"}`,
			wantErr: "cannot set source.ip: source is a string, not an object"},
		{name: "missing", step: `dissect: {field: line, pattern: '%{a} %{b}'}`, in: `{"message":"x y"}`,
			wantErr: "field line not found"},
		{name: "missing, ignored", step: `dissect: {field: line, pattern: '%{a} %{b}', ignore_missing: true}`, in: `{"message":"x y"}`,
			want: `{"message":"x y"}`},
		{name: "not a string", step: `dissect: {pattern: '%{a} %{b}'}`, in: `{"message":42}`,
			wantErr: "field message is a number, not a string"},
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
		})
	}
}

func TestDissectConfig(t *testing.T) {
	tests := []struct{ step, want string }{
		{`dissect: {}`, "pipeline p: processors[0] (dissect): pattern: required"},
		{`dissect: {pattern: 'no keys'}`, `pattern "no keys": no %{key} in it`},
		{`dissect: {pattern: '%{a} %{b'}`, `pattern "%{a} %{b": "%{b"…: %{ is not closed by }`},
		{`dissect: {pattern: '%{a}%{b}'}`, `%{a} is followed by another key with no text between them`},
		{`dissect: {pattern: '%{} %{?x}'}`, "every key is skipped, so it yields no field"},
		{`dissect: {pattern: '%{a} %{a}'}`, "%{a} is given twice; append with %{+a}"},
		{`dissect: {pattern: '%{*k} %{b}'}`, `reference keys of "k": want one %{*k} (the field name) and one %{&k} (its value), found 1 and 0`},
		{`dissect: {pattern: '%{*k} %{&k} %{&k}'}`, "found 1 and 2"},
		{`dissect: {pattern: '%{a+b} %{c}'}`, "%{a+b}: a name cannot hold + * & ? or /"},
		{`dissect: {pattern: '%{a/1} %{c}'}`, "%{a/1}: a name cannot hold"},
		{`dissect: {pattern: '%{+a/x} %{c}'}`, "%{+a/x}: the append order after / must be a number"},
		{`dissect: {pattern: '%{+} %{c}'}`, "%{+}: a name is required after +"},
		{`dissect: {pattern: '%{&} %{c}'}`, "%{&}: a name is required after &"},
		{`dissect: {pattern: '%{a..b} %{c}'}`, `%{a..b}: "a..b" is not a field name`},
		{`dissect: {pattern: '%{a} %{a.b}'}`, "%{a} and %{a.b}: a cannot be both a value and an object"},
		{`dissect: {pattern: '%{a} %{b}', target_prefix: .x}`, `target_prefix: ".x" is not a field name`},
		{`dissect: {pattern: '%{a} %{b}', field: ""}`, "field: must not be empty"},
		{`dissect: {pattern: '%{a} %{b}', tokenizer: x}`, "field tokenizer not found"},
	}
	for _, tt := range tests {
		t.Run(tt.step, func(t *testing.T) {
			require.ErrorContains(t, stepError(t, tt.step), tt.want)
		})
	}
}

// FuzzDissect: any pattern that compiles, on any value, never panics; a
// value matches exactly when Process finds no "does not match"; and a match
// is consistent: no value holds the delimiter that ends it (the first one
// is taken), and the text before the first key, the values and the
// delimiters put back together (without padding) begin the value, or are
// the value when the pattern ends with a key.
func FuzzDissect(f *testing.F) {
	f.Add(`%{clientip} %{ident} %{auth} [%{@timestamp}] "%{verb} %{request} HTTP/%{httpversion}" %{status} %{size}`, accessLine)
	f.Add(`%{ts->} %{level}`, "1998-08-10T17:15:42,466          WARN")
	f.Add(`%{+name/2} %{+name/4} %{+name/3} %{+name/1}`, "john jacob jingleheimer schmidt")
	f.Add(`[%{ts}] [%{level}] %{*p1}:%{&p1} %{*p2}:%{&p2}`, "[2018-08-10T17:15:42,466] [ERR] ip:1.2.3.4 error:REFUSED")
	f.Add(`<%{pri}>%{?x} %{a.b}|`, "<1>2 3|")
	f.Add(`%{a},%{b},%{c}`, "foo,,")
	f.Add(`%{a} → %{b}`, "Zürich → 東京")
	f.Fuzz(func(t *testing.T, pattern, value string) {
		dp, err := compileDissect(pattern, "", "-")
		if err != nil {
			return
		}
		vals := make([]string, len(dp.keys))
		failed := dp.match(value, vals)
		perr := (&dissectProc{field: "message", pattern: dp}).Process(NewEvent(map[string]any{"message": value}))
		if failed != dissectMatched {
			require.ErrorContains(t, perr, "does not match")
			return
		}
		if perr != nil {
			require.NotContains(t, perr.Error(), "does not match")
		}
		padded := false
		rebuilt := dp.prefix
		for i, k := range dp.keys {
			if k.delim != "" {
				require.NotContains(t, vals[i], k.delim, "value of %%{%s}", k.spec)
			}
			padded = padded || k.pad
			rebuilt += vals[i] + k.delim
		}
		if padded {
			return
		}
		require.True(t, strings.HasPrefix(value, rebuilt), "%q does not begin %q", rebuilt, value)
		if dp.keys[len(dp.keys)-1].delim == "" {
			require.Equal(t, value, rebuilt)
		}
	})
}

func BenchmarkDissect(b *testing.B) {
	p := stepPipeline(b, `dissect: {pattern: '%{source.address} %{?ident} %{user.name} [%{nginx.time_local}] "%{http.request.method} %{url.original} HTTP/%{http.version}" %{http.response.status_code} %{http.response.body.bytes} "%{http.request.referrer}" "%{user_agent.original}"'}`).steps[0].proc
	e := NewEvent(map[string]any{"message": `203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5120 "https://example.com/" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0"`})
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Process(e); err != nil { // the same fields again
			b.Fatal(err)
		}
	}
}
