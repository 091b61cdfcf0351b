package agent

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/record"
)

// fuzzMultilines are the multiline configs FuzzJoiner picks from.
var fuzzMultilines = []*collect.Multiline{
	nil,
	{Pattern: `^[[:space:]]`, Match: "after"},
	{Pattern: `^\d{4}-`, Negate: true, Match: "after"},
	{Pattern: `\\$`, Match: "before"},
	{Pattern: `;$`, Negate: true, Match: "before"},
	{Pattern: `^$`, Match: "after"},
}

// FuzzJoiner feeds the lines of the input to a Joiner and checks that it never
// panics, that event offsets strictly increase and account for every line,
// that caps hold, and that without truncation the events hold exactly the
// input lines.
func FuzzJoiner(f *testing.F) {
	f.Add([]byte("Exception in thread main\n\tat a.B(B.java:1)\n\tat c.D(D.java:2)\nnext\n"), uint8(1), uint8(0), uint16(0))
	f.Add([]byte("2024-01-01 a\n detail\ndetail\n2024-01-02 b\n"), uint8(2), uint8(2), uint16(0))
	f.Add([]byte("one \\\ntwo \\\nthree\nfour"), uint8(3), uint8(0), uint16(8))
	f.Add([]byte("SELECT 1\nFROM t;\n\n\n"), uint8(4), uint8(1), uint16(3))
	f.Add([]byte("a\n\nb\n\n\nc"), uint8(5), uint8(0), uint16(0))
	f.Add([]byte("ab\xe2\x82\xac\xff\n\xe2\x82"), uint8(0), uint8(0), uint16(4))
	f.Add([]byte(""), uint8(1), uint8(0), uint16(0))
	// configs[mode][maxLines], validated once.
	configs := make([][8]*collect.Multiline, len(fuzzMultilines))
	for i, base := range fuzzMultilines {
		for n := range 8 {
			if base != nil {
				c := *base
				c.MaxLines = n // 0: the default
				configs[i][n] = validMultiline(f, &c)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, mode, maxLines uint8, maxBytes uint16) {
		j := NewJoiner(configs[int(mode)%len(configs)][maxLines%8], int(maxBytes))

		var lines [][]byte
		var events []Event
		truncated := false
		emit := func(e Event) {
			require.Positive(t, e.Lines)
			require.Equal(t, e.Lines > 1, e.Multiline)
			if maxBytes > 0 {
				require.LessOrEqual(t, len(e.Text), int(maxBytes))
			}
			if len(events) > 0 {
				require.Greater(t, e.Offset, events[len(events)-1].Offset)
			}
			truncated = truncated || e.Truncated
			e.Text = bytes.Clone(e.Text)
			events = append(events, e)
		}
		var scratch []byte
		var offset int64
		for rest := data; len(rest) > 0; {
			line, after, found := bytes.Cut(rest, []byte("\n"))
			offset += int64(len(line))
			if found {
				offset++
			}
			rest = after
			lines = append(lines, line)
			// Hand the joiner a buffer that is overwritten after the call, as
			// a reader reusing its buffer would.
			scratch = append(scratch[:0], line...)
			j.Add(Line{Text: scratch, Offset: offset}, emit)
			for i := range scratch {
				scratch[i] = 0xAA
			}
		}
		j.Flush(emit)
		require.False(t, j.Pending())

		covered := 0
		for _, e := range events {
			covered += e.Lines
		}
		require.Equal(t, len(lines), covered, "every line is in exactly one event")
		if len(events) > 0 {
			require.Equal(t, offset, events[len(events)-1].Offset)
		}
		if !truncated {
			var texts [][]byte
			for _, e := range events {
				texts = append(texts, e.Text)
			}
			require.Equal(t, string(bytes.Join(lines, []byte("\n"))), string(bytes.Join(texts, []byte("\n"))))
		}
	})
}

// FuzzEncodeRecord: whatever the line, the file path, the host and the task's
// fields, the record is one valid JSON object whose message, path, host and
// fields decode to what went in (invalid UTF-8 as \xNN text, flagged).
func FuzzEncodeRecord(f *testing.F) {
	f.Add([]byte("GET / 200"), "/var/log/app.log", "web-1", "env", "prod", false, false)
	f.Add([]byte("a\"b\\c\x00\r\n\xff\u2028"), "/var/log/\xfe\"x.log", "h\"ost", "k\x00", "v\xff", true, true)
	f.Fuzz(func(t *testing.T, text []byte, path, host, key, value string, truncated, multiline bool) {
		enc := newEncoder(FormatJSON, host, "10.0.0.7", map[string]string{key: value})
		ts := appendTime(nil, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
		out := enc.encode(nil, Event{Text: text, Truncated: truncated, Multiline: multiline}, record.AppendJSONString(nil, []byte(path)), ts, 7)
		var doc struct {
			Message string `json:"message"`
			Host    struct{ Name string }
			Log     struct {
				File   struct{ Path string }
				Offset int64
				Flags  []string
			}
			Fields map[string]string
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if utf8.Valid(text) != !slices.Contains(doc.Log.Flags, "invalid_utf8") {
			t.Fatalf("flags %v for %q", doc.Log.Flags, text)
		}
		if truncated != slices.Contains(doc.Log.Flags, "truncated") || multiline != slices.Contains(doc.Log.Flags, "multiline") {
			t.Fatalf("flags %v, want truncated=%t multiline=%t", doc.Log.Flags, truncated, multiline)
		}
		if utf8.Valid(text) && doc.Message != string(text) {
			t.Fatalf("message %q decodes to %q", text, doc.Message)
		}
		for _, s := range []struct{ in, got string }{{path, doc.Log.File.Path}, {host, doc.Host.Name}, {value, doc.Fields[key]}} {
			if utf8.ValidString(s.in) && utf8.ValidString(key) && s.in != s.got {
				t.Fatalf("%q decodes to %q in %s", s.in, s.got, out)
			}
		}
		if doc.Log.Offset != 7 {
			t.Fatalf("offset %d", doc.Log.Offset)
		}
	})
}
