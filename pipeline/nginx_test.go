package pipeline

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNginxAccess(t *testing.T) {
	runPresetCases(t, "nginx: {}", []presetCase{
		{name: "combined",
			line: `203.0.113.7 - - [07/Dec/2026:10:00:00 +0100] "GET /index.html?q=1&p=2 HTTP/1.1" 200 612 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"`,
			want: `{"message":"203.0.113.7 - - [07/Dec/2026:10:00:00 +0100] \"GET /index.html?q=1&p=2 HTTP/1.1\" 200 612 \"https://example.com/start\" \"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\"",
				"@timestamp":"2026-12-07T09:00:00Z",
				"source":{"address":"203.0.113.7","ip":"203.0.113.7"},
				"http":{"request":{"method":"GET","referrer":"https://example.com/start"},"version":"1.1","response":{"status_code":200,"body":{"bytes":612}}},
				"url":{"original":"/index.html?q=1&p=2"},
				"user_agent":{"original":"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"}}`},
		{name: "IPv6, a user, HTTP/2.0, - referrer",
			line: `2001:db8::1 - alice [07/Dec/2026:10:00:00 -0500] "POST /api/v1/items HTTP/2.0" 201 0 "-" "curl/8.5.0"`,
			want: `{"message":"2001:db8::1 - alice [07/Dec/2026:10:00:00 -0500] \"POST /api/v1/items HTTP/2.0\" 201 0 \"-\" \"curl/8.5.0\"",
				"@timestamp":"2026-12-07T15:00:00Z",
				"source":{"address":"2001:db8::1","ip":"2001:db8::1"},"user":{"name":"alice"},
				"http":{"request":{"method":"POST"},"version":"2.0","response":{"status_code":201,"body":{"bytes":0}}},
				"url":{"original":"/api/v1/items"},"user_agent":{"original":"curl/8.5.0"}}`},
		{name: "every optional field -",
			line: `10.0.0.1 - - [31/Dec/2026:23:59:59 +0000] "HEAD / HTTP/1.0" 304 0 "-" "-"`,
			want: `{"message":"10.0.0.1 - - [31/Dec/2026:23:59:59 +0000] \"HEAD / HTTP/1.0\" 304 0 \"-\" \"-\"",
				"@timestamp":"2026-12-31T23:59:59Z","source":{"address":"10.0.0.1","ip":"10.0.0.1"},
				"http":{"request":{"method":"HEAD"},"version":"1.0","response":{"status_code":304,"body":{"bytes":0}}},"url":{"original":"/"}}`},
		{name: "escaped quotes, nginx's \\x22 and Apache's \\\"",
			line: `192.0.2.4 - - [07/Dec/2026:10:00:00 +0000] "GET /search?q=\x22a b\x22 HTTP/1.1" 200 5 "-" "Mozilla/5.0 \"quoted\" agent\\"`,
			want: `{"message":"192.0.2.4 - - [07/Dec/2026:10:00:00 +0000] \"GET /search?q=\\x22a b\\x22 HTTP/1.1\" 200 5 \"-\" \"Mozilla/5.0 \\\"quoted\\\" agent\\\\\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"192.0.2.4","ip":"192.0.2.4"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":5}}},
				"url":{"original":"/search?q=\\x22a b\\x22"},"user_agent":{"original":"Mozilla/5.0 \\\"quoted\\\" agent\\\\"}}`},
		{name: "a TLS handshake on the plain port: no method, no URL",
			line: `45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] "\x16\x03\x01\x00\xF1\x01\x00\x00\xED\x03\x03" 400 157 "-" "-"`,
			want: `{"message":"45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] \"\\x16\\x03\\x01\\x00\\xF1\\x01\\x00\\x00\\xED\\x03\\x03\" 400 157 \"-\" \"-\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"45.9.20.1","ip":"45.9.20.1"},
				"http":{"response":{"status_code":400,"body":{"bytes":157}}}}`},
		{name: "request -",
			line: `45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] "-" 400 0 "-" "-"`,
			want: `{"message":"45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] \"-\" 400 0 \"-\" \"-\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"45.9.20.1","ip":"45.9.20.1"},
				"http":{"response":{"status_code":400,"body":{"bytes":0}}}}`},
		{name: "a request without a protocol is not split",
			line: `45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] "GET /" 400 0 "-" "-"`,
			want: `{"message":"45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /\" 400 0 \"-\" \"-\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"45.9.20.1","ip":"45.9.20.1"},
				"http":{"response":{"status_code":400,"body":{"bytes":0}}}}`},
		{name: "a URI with a space, as sent",
			line: `45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] "GET /a b HTTP/1.1" 400 0 "-" "-"`,
			want: `{"message":"45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] \"GET /a b HTTP/1.1\" 400 0 \"-\" \"-\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"45.9.20.1","ip":"45.9.20.1"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":400,"body":{"bytes":0}}},"url":{"original":"/a b"}}`},
		{name: "fields appended after the user agent",
			line: `203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] "GET /x HTTP/1.1" 200 1 "-" "curl/8.5.0" "198.51.100.2, 10.0.0.1" 0.003 rt=0.004`,
			want: `{"message":"203.0.113.7 - - [07/Dec/2026:10:00:00 +0000] \"GET /x HTTP/1.1\" 200 1 \"-\" \"curl/8.5.0\" \"198.51.100.2, 10.0.0.1\" 0.003 rt=0.004",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"203.0.113.7","ip":"203.0.113.7"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":1}}},
				"url":{"original":"/x"},"user_agent":{"original":"curl/8.5.0"}}`},
		{name: "common log format, Apache's - bytes",
			line: `localhost - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 -`,
			want: `{"message":"localhost - frank [10/Oct/2000:13:55:36 -0700] \"GET /apache_pb.gif HTTP/1.0\" 200 -",
				"@timestamp":"2000-10-10T20:55:36Z","source":{"address":"localhost"},"user":{"name":"frank"},
				"http":{"request":{"method":"GET"},"version":"1.0","response":{"status_code":200}},"url":{"original":"/apache_pb.gif"}}`},
		{name: "an IPv6 address with a zone is no ip",
			line: `fe80::1%eth0 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
			want: `{"message":"fe80::1%eth0 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"fe80::1%eth0"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":1}}},"url":{"original":"/"}}`},
		{name: "IPv4-mapped IPv6",
			line: `::ffff:192.0.2.1 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`,
			want: `{"message":"::ffff:192.0.2.1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
				"@timestamp":"2026-12-07T10:00:00Z","source":{"address":"::ffff:192.0.2.1","ip":"::ffff:192.0.2.1"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":1}}},"url":{"original":"/"}}`},
		{name: "the agent's record: host, log and fields stay",
			in: `{"@timestamp":"2026-12-08T00:00:01.5Z","message":"198.51.100.9 - - [07/Dec/2026:23:59:59 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
				"host":{"name":"web1","ip":["10.0.0.5"]},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":42},"fields":{"env":"prod"}}`,
			want: `{"@timestamp":"2026-12-07T23:59:59Z","message":"198.51.100.9 - - [07/Dec/2026:23:59:59 +0000] \"GET / HTTP/1.1\" 200 1 \"-\" \"-\"",
				"host":{"name":"web1","ip":["10.0.0.5"]},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":42},"fields":{"env":"prod"},
				"source":{"address":"198.51.100.9","ip":"198.51.100.9"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":1}}},"url":{"original":"/"}}`},
		{name: "another field", processor: "nginx: {field: raw, format: access}",
			in: `{"raw":"192.0.2.1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1"}`,
			want: `{"raw":"192.0.2.1 - - [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1","@timestamp":"2026-12-07T10:00:00Z","source":{"address":"192.0.2.1","ip":"192.0.2.1"},
				"http":{"request":{"method":"GET"},"version":"1.1","response":{"status_code":200,"body":{"bytes":1}}},"url":{"original":"/"}}`},

		{name: "not an access line", line: `hello world`, wantErr: `access log: expected "$remote_addr - $remote_user [" at the start`},
		{name: "JSON", line: `{"remote_addr":"1.2.3.4"}`, wantErr: `access log: expected "$remote_addr - $remote_user [" at the start`},
		{name: "no ]", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000 "GET / HTTP/1.1" 200 1`, wantErr: "access log: no ] after [$time_local"},
		{name: "bad time", line: `1.2.3.4 - - [07/Dez/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1`,
			wantErr: `access log: $time_local "07/Dez/2026:10:00:00 +0000" is not 02/Jan/2006:15:04:05 -0700`},
		{name: "no request", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] 200 1`, wantErr: `access log: expected "$request" after [$time_local]`},
		{name: "cut in the request", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] "GET /very/long`, wantErr: "access log: a quoted field has no closing quote"},
		{name: "cut in the user agent", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "Mozilla/5.0 (X11`, wantErr: "access log: a quoted field has no closing quote"},
		{name: "status not a number", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" OK 1`, wantErr: "access log: expected $status $body_bytes_sent after \"$request\""},
		{name: "signed bytes", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 +1`, wantErr: "access log: expected $status $body_bytes_sent after \"$request\""},
		{name: "no bytes", line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200`, wantErr: "access log: expected $status $body_bytes_sent after \"$request\""},
		{name: "an error line read as access", processor: "nginx: {format: access}",
			line: `2026/12/07 10:00:00 [error] 1#1: x`, wantErr: `access log: expected "$remote_addr - $remote_user [" at the start`},
		{name: "no message", in: `{"msg":"x"}`, wantErr: "field message not found"},
		{name: "message not a string", in: `{"message":{"a":1}}`, wantErr: "field message is an object, not a string"},
		{name: "user is not an object", in: `{"message":"1.2.3.4 - bob [07/Dec/2026:10:00:00 +0000] \"GET / HTTP/1.1\" 200 1","user":"x"}`,
			wantErr: "cannot set user.name: user is a string, not an object"},
	})
}

func TestNginxError(t *testing.T) {
	runPresetCases(t, "nginx: {}", []presetCase{
		{name: "a request's error",
			line: `2026/12/07 10:00:00 [error] 123#456: *7 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 192.0.2.1, server: example.com, request: "GET /favicon.ico HTTP/1.1", host: "example.com", referrer: "https://example.com/"`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","log":{"level":"error"},"process":{"pid":123,"thread":{"id":456}},"nginx":{"error":{"connection_id":7}},
				"message":"open() \"/usr/share/nginx/html/favicon.ico\" failed (2: No such file or directory), client: 192.0.2.1, server: example.com, request: \"GET /favicon.ico HTTP/1.1\", host: \"example.com\", referrer: \"https://example.com/\""}`},
		{name: "no connection",
			line: `2026/12/07 10:00:00 [notice] 1#1: signal process started`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","log":{"level":"notice"},"process":{"pid":1,"thread":{"id":1}},"message":"signal process started"}`},
		{name: "in the configured zone", processor: "nginx: {format: error, timezone: Europe/Berlin}",
			line: `2026/07/01 12:00:00 [emerg] 7#7: bind() to 0.0.0.0:80 failed (98: Address already in use)`,
			want: `{"@timestamp":"2026-07-01T10:00:00Z","log":{"level":"emerg"},"process":{"pid":7,"thread":{"id":7}},"message":"bind() to 0.0.0.0:80 failed (98: Address already in use)"}`},
		{name: "an empty message",
			line: `2026/12/07 10:00:00 [warn] 1#2:`,
			want: `{"@timestamp":"2026-12-07T10:00:00Z","log":{"level":"warn"},"process":{"pid":1,"thread":{"id":2}},"message":""}`},
		{name: "no level", line: `2026/12/07 10:00:00 1#2: x`, wantErr: "error log: expected [level] after the time"},
		{name: "no pid", line: `2026/12/07 10:00:00 [error] x: y`, wantErr: "error log: expected pid#tid: after [level]"},
		{name: "bad time", line: `2026/13/07 10:00:00 [error] 1#1: y`, wantErr: `error log: time "2026/13/07 10:00:00": not 2006/01/02 15:04:05`},
		{name: "an access line read as error", processor: "nginx: {format: error}",
			line: `1.2.3.4 - - [07/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1`, wantErr: `error log: expected "2006/01/02 15:04:05 [level] pid#tid: " at the start`},
	})
}

func TestNginxConfig(t *testing.T) {
	presetConfigErrors(t, map[string]string{
		"nginx: {format: combined}":  `format "combined": want access, error or auto`,
		"nginx: {timezone: Mars/X}":  `timezone "Mars/X": unknown time zone Mars/X`,
		"nginx: {fields: [message]}": "field fields not found",
	})
}

// parseNginxTime agrees with time.Parse on FormatNginx.
func TestParseNginxTime(t *testing.T) {
	for _, s := range []string{
		"07/Dec/2026:10:00:00 +0000", "29/Feb/2028:23:59:59 -0930", "01/Jan/1970:00:00:00 +1400",
		"31/Apr/2026:10:00:00 +0000", "29/Feb/2026:10:00:00 +0000", "00/Dec/2026:10:00:00 +0000",
		"07/Dec/2026:24:00:00 +0000", "07/Dec/2026:10:60:00 +0000", "07/Dec/2026:10:00:60 +0000",
		"07/Dec/2026:10:00:00 0000", "07/Dec/2026:10:00:00 +00:0", "7/Dec/2026:10:00:00 +0000",
		"07/dec/2026:10:00:00 +0000", // time.Parse takes any case; nginx writes Dec
	} {
		got, ok := parseNginxTime(s)
		want, err := time.Parse(FormatNginx, s)
		if ok {
			require.NoError(t, err, s)
			require.True(t, want.Equal(got), "%s: got %s, want %s", s, got, want)
		} else if s != "07/dec/2026:10:00:00 +0000" {
			require.Error(t, err, s)
		}
	}
}

func FuzzNginx(f *testing.F) {
	for _, s := range []string{
		`203.0.113.7 - - [07/Dec/2026:10:00:00 +0100] "GET /index.html HTTP/1.1" 200 612 "https://example.com/" "Mozilla/5.0"`,
		`2001:db8::1 - alice [07/Dec/2026:10:00:00 -0500] "POST /a HTTP/2.0" 201 0 "-" "curl/8.5.0" "x" 0.003`,
		`45.9.20.1 - - [07/Dec/2026:10:00:00 +0000] "\x16\x03\x01" 400 157 "-" "a \"b\" c\\"`,
		`localhost - frank [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 -`,
		`2026/12/07 10:00:00 [error] 123#456: *7 open() failed, client: 1.2.3.4`,
		`2026/12/07 10:00:00 [warn] 1#2:`,
		``,
	} {
		f.Add(s)
	}
	proc := newPreset(f, "nginx", "{}")
	f.Fuzz(func(t *testing.T, line string) {
		fuzzProcess(t, proc, line)
		if a, err := parseNginxAccess(line); err == nil {
			require.GreaterOrEqual(t, a.status, int64(0))
			require.GreaterOrEqual(t, a.bytes, int64(0))
			require.Contains(t, line, a.request)
			if a.method != "" {
				require.Contains(t, a.request, a.url)
			}
		}
		if len(line) >= 26 {
			if got, ok := parseNginxTime(line[:26]); ok {
				want, err := time.Parse(FormatNginx, line[:26])
				require.NoError(t, err)
				require.True(t, want.Equal(got))
			}
		}
	})
}

func BenchmarkNginxAccess(b *testing.B) {
	benchPreset(b, newPreset(b, "nginx", "{}"), "message",
		`203.0.113.7 - - [07/Dec/2026:10:00:00 +0100] "GET /index.html?q=1 HTTP/1.1" 200 612 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"`)
}

func BenchmarkNginxError(b *testing.B) {
	benchPreset(b, newPreset(b, "nginx", "{}"), "message",
		`2026/12/07 10:00:00 [error] 123#456: *7 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 192.0.2.1, server: example.com, request: "GET /favicon.ico HTTP/1.1", host: "example.com"`)
}
