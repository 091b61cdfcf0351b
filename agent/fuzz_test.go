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

// FuzzContainerJoin feeds the lines of the input, as CRI or json-file
// records, to a containerJoiner and checks that it never panics, that the
// lines it passes on have strictly increasing offsets that account for
// every record (the last one's, once flushed), that joined lines respect
// maxBytes, that their Lines count every record once, and that without
// truncation the messages of the records (a record that does not parse
// counts as a whole) are all there, in order.
func FuzzContainerJoin(f *testing.F) {
	f.Add([]byte("2026-12-07T10:00:00Z stdout P ab\n2026-12-07T10:00:01Z stdout P cd\n2026-12-07T10:00:02Z stdout F ef\n"), false, uint16(0))
	f.Add([]byte("t stdout P a\nt stderr P b\nt stdout F c\nt stderr F:x d\nt stdout P\nt stdout F \n"), false, uint16(0))
	f.Add([]byte("t stdout P abc\xff\xfe\nt stdout F \xe2\x82\nt stdout F z\n"), false, uint16(24))
	f.Add([]byte("garbage\nt stdin P x\nt stdout X y\n\nt stdout P"), false, uint16(0))
	f.Add([]byte(`{"log":"a","stream":"stdout","time":"t0"}`+"\n"+`{"log":"b\n","stream":"stdout","time":"t1"}`+"\n"), true, uint16(0))
	f.Add([]byte(`{"log":"a","stream":"stdout","attrs":{"k":"v"},"time":"t0"}`+"\n"+`{"log":"e\n","stream":"stderr","time":"t1"}`+"\n"+`{"log":"b\u00e9\n","stream":"stdout"}`+"\n"), true, uint16(0))
	f.Add([]byte(`{"log":"x\\n","stream":"stdout","time":"t0"}`+"\n"+`{"log":"\ufffd\xff`+"\n"+`[1]`+"\n"+`{"log":"y\n"}`), true, uint16(60))
	f.Fuzz(func(t *testing.T, data []byte, docker bool, maxBytes uint16) {
		format := "cri"
		if docker {
			format = "docker"
		}
		c := newContainerJoiner(format, int(maxBytes))
		content := func(l []byte) []byte {
			if docker {
				var rec dockerRecord
				if json.Unmarshal(l, &rec) == nil && rec.Log != nil {
					return []byte(*rec.Log)
				}
				return l
			}
			if _, _, _, msg, ok := parseCRI(l); ok {
				return msg
			}
			return l
		}
		var in, out []byte
		var offsets []int64
		truncated := false
		records, covered := 0, 0
		next := func(l Line) {
			covered += max(l.Lines, 1)
			if len(offsets) > 0 {
				require.Greater(t, l.Offset, offsets[len(offsets)-1])
			}
			offsets = append(offsets, l.Offset)
			if maxBytes > 0 && !docker {
				require.LessOrEqual(t, len(l.Text), int(maxBytes))
			}
			truncated = truncated || l.Truncated
			out = append(out, content(l.Text)...)
		}
		var scratch []byte
		var offset int64
		for rest := data; len(rest) > 0; {
			line, after, found := bytes.Cut(rest, []byte("\n"))
			offset += int64(len(line)) + 1
			if !found {
				offset--
			}
			rest = after
			l := Line{Text: line, Offset: offset}
			if maxBytes > 0 && len(line) > int(maxBytes) {
				// As the line reader does.
				l.Text, l.Truncated = line[:maxBytes], true
			}
			in = append(in, content(l.Text)...)
			records++
			// A buffer overwritten after the call, as the reader's is.
			scratch = append(scratch[:0], l.Text...)
			l.Text = scratch
			c.Add(l, next)
			for i := range scratch {
				scratch[i] = '#'
			}
		}
		c.Flush(next)
		require.False(t, c.Pending())
		require.Equal(t, records, covered, "every record counted in one Line's Lines")
		if offset > 0 {
			require.NotEmpty(t, offsets)
			require.Equal(t, offset, offsets[len(offsets)-1], "every record is accounted for")
		}
		if !truncated {
			require.Equal(t, string(in), string(out), "every message byte, in order")
		}
	})
}
