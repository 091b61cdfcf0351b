package agent

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/record"
)

func TestEncoderJSON(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	tests := []struct {
		name    string
		ev      Event
		fields  map[string]string
		message string
		flags   []string
	}{
		{name: "plain", ev: Event{Text: []byte("GET / 200")}, message: "GET / 200"},
		{name: "escapes", ev: Event{Text: []byte("a\"b\\c\td\x01\u2028")}, message: "a\"b\\c\td\x01\u2028"},
		{name: "invalid utf8 kept as text", ev: Event{Text: []byte("ok \xff\xfe end")}, message: `ok \xff\xfe end`, flags: []string{"invalid_utf8"}},
		{name: "truncated multiline", ev: Event{Text: []byte("a\nb"), Truncated: true, Multiline: true}, message: "a\nb", flags: []string{"truncated", "multiline"}},
		{name: "empty line", ev: Event{Text: nil}, message: ""},
		{name: "fields", ev: Event{Text: []byte("x")}, fields: map[string]string{"env": "prod", "app": "web"}, message: "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := newEncoder(FormatJSON, "web-1", "10.0.0.7", tt.fields)
			out := enc.encode(nil, tt.ev, record.AppendJSONString(nil, []byte("/var/log/app.log")), appendTime(nil, ts), 42)
			var doc struct {
				Timestamp string `json:"@timestamp"`
				Message   string `json:"message"`
				Host      struct{ Name, IP string }
				Log       struct {
					File   struct{ Path string }
					Offset int64
					Flags  []string
				}
				Fields map[string]string
			}
			require.NoError(t, json.Unmarshal(out, &doc), string(out))
			require.Equal(t, "2026-11-25T10:00:00.123456789Z", doc.Timestamp)
			require.Equal(t, tt.message, doc.Message)
			require.Equal(t, "web-1", doc.Host.Name)
			require.Equal(t, "10.0.0.7", doc.Host.IP)
			require.Equal(t, "/var/log/app.log", doc.Log.File.Path)
			require.EqualValues(t, 42, doc.Log.Offset)
			require.Equal(t, tt.flags, doc.Log.Flags)
			if tt.fields != nil {
				require.Equal(t, tt.fields, doc.Fields)
			}
			require.False(t, strings.ContainsRune(string(out), '\u2028'), "U+2028 must be escaped")
		})
	}
}

func TestEncoderRaw(t *testing.T) {
	enc := newEncoder(FormatRaw, "h", "1.2.3.4", map[string]string{"a": "b"})
	out := enc.encode(nil, Event{Text: []byte("bare \xff line")}, nil, nil, 0)
	require.Equal(t, "bare \xff line", string(out))
}

func BenchmarkEncodeJSON(b *testing.B) {
	enc := newEncoder(FormatJSON, "web-1", "10.0.0.7", nil)
	line := []byte(`127.0.0.1 - - [25/Nov/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 5120 "-" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0"`)
	ts := appendTime(nil, time.Now())
	path := record.AppendJSONString(nil, []byte("/var/log/nginx/access.log"))
	buf := make([]byte, 0, 512)
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		buf = enc.encode(buf[:0], Event{Text: line}, path, ts, 1234)
	}
}
