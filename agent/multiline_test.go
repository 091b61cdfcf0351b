package agent

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
)

// validMultiline returns m validated, with defaults, as a task would hold it.
func validMultiline(t testing.TB, m *collect.Multiline) *collect.Multiline {
	t.Helper()
	if m == nil {
		return nil
	}
	tasks, err := collect.ValidateTasks([]collect.Task{{Path: "/x.log", Topic: "t", Multiline: m}})
	require.NoError(t, err)
	return tasks[0].Multiline
}

// joined is an Event with its text copied, and the call that emitted it: the
// index of the line passed to Add, or -1 for the final Flush.
type joined struct {
	at        int
	text      string
	offset    int64
	lines     int
	truncated bool
	multiline bool
}

func TestJoiner(t *testing.T) {
	tests := []struct {
		name      string
		multiline *collect.Multiline
		maxBytes  int
		lines     []string
		truncated map[int]bool // lines read as truncated
		want      []joined
	}{
		{
			name:  "no multiline: one event per line",
			lines: []string{"a", "bb", ""},
			want: []joined{
				{at: 0, text: "a", offset: 2, lines: 1},
				{at: 1, text: "bb", offset: 5, lines: 1},
				{at: 2, text: "", offset: 6, lines: 1},
			},
		},
		{
			name:      "no multiline: truncated line stays flagged",
			lines:     []string{"cut", "whole"},
			truncated: map[int]bool{0: true},
			want: []joined{
				{at: 0, text: "cut", offset: 4, lines: 1, truncated: true},
				{at: 1, text: "whole", offset: 10, lines: 1},
			},
		},
		{
			name:     "no multiline: max bytes",
			maxBytes: 3,
			lines:    []string{"abcdef", "abc"},
			want: []joined{
				{at: 0, text: "abc", offset: 7, lines: 1, truncated: true},
				{at: 1, text: "abc", offset: 11, lines: 1},
			},
		},
		{
			name:      "java stack trace: indented lines go after",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
			lines: []string{
				`Exception in thread "main" java.lang.NullPointerException`,
				"\tat com.example.Foo.bar(Foo.java:10)",
				"\tat com.example.Main.main(Main.java:5)",
				"next event",
				"last event",
			},
			want: []joined{
				{at: 3, text: "Exception in thread \"main\" java.lang.NullPointerException\n\tat com.example.Foo.bar(Foo.java:10)\n\tat com.example.Main.main(Main.java:5)", offset: 134, lines: 3, multiline: true},
				{at: 4, text: "next event", offset: 145, lines: 1},
				{at: -1, text: "last event", offset: 156, lines: 1},
			},
		},
		{
			name:      "java stack trace with Caused by",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]+(at|\.{3})[[:space:]]+\b|^Caused by:`, Match: "after"},
			lines: []string{
				"java.lang.IllegalStateException: outer",
				"    at a.B.c(B.java:1)",
				"Caused by: java.io.IOException: inner",
				"    ... 3 more",
				"done",
			},
			want: []joined{
				{at: 4, text: "java.lang.IllegalStateException: outer\n    at a.B.c(B.java:1)\nCaused by: java.io.IOException: inner\n    ... 3 more", offset: 115, lines: 4, multiline: true},
				{at: -1, text: "done", offset: 120, lines: 1},
			},
		},
		{
			name:      "a continuation first starts an event",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
			lines:     []string{" orphan", " more", "head"},
			want: []joined{
				{at: 2, text: " orphan\n more", offset: 14, lines: 2, multiline: true},
				{at: -1, text: "head", offset: 19, lines: 1},
			},
		},
		{
			name:      "negate: lines without a timestamp go after",
			multiline: &collect.Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after"},
			lines: []string{
				"preamble",
				"2024-05-01 12:00:00 ERROR boom",
				"  detail 1",
				"detail 2",
				"2024-05-01 12:00:01 INFO ok",
			},
			want: []joined{
				{at: 1, text: "preamble", offset: 9, lines: 1},
				{at: 4, text: "2024-05-01 12:00:00 ERROR boom\n  detail 1\ndetail 2", offset: 60, lines: 3, multiline: true},
				{at: -1, text: "2024-05-01 12:00:01 INFO ok", offset: 88, lines: 1},
			},
		},
		{
			name:      "before: backslash continues onto the next line",
			multiline: &collect.Multiline{Pattern: `\\$`, Match: "before"},
			lines:     []string{`first \`, `second \`, "third", "single"},
			want: []joined{
				{at: 2, text: "first \\\nsecond \\\nthird", offset: 23, lines: 3, multiline: true},
				{at: 3, text: "single", offset: 30, lines: 1},
			},
		},
		{
			name:      "before: unfinished continuation is flushed",
			multiline: &collect.Multiline{Pattern: `\\$`, Match: "before"},
			lines:     []string{"one", `two \`},
			want: []joined{
				{at: 0, text: "one", offset: 4, lines: 1},
				{at: -1, text: `two \`, offset: 10, lines: 1},
			},
		},
		{
			name:      "before with negate: lines up to a terminator",
			multiline: &collect.Multiline{Pattern: `;$`, Negate: true, Match: "before"},
			lines:     []string{"SELECT *", "FROM t", "WHERE x;", "COMMIT;"},
			want: []joined{
				{at: 2, text: "SELECT *\nFROM t\nWHERE x;", offset: 25, lines: 3, multiline: true},
				{at: 3, text: "COMMIT;", offset: 33, lines: 1},
			},
		},
		{
			name:      "max lines: later lines are dropped, offsets advance",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after", MaxLines: 2},
			lines:     []string{"E", " 1", " 2", " 3", "F"},
			want: []joined{
				{at: 4, text: "E\n 1", offset: 11, lines: 4, truncated: true, multiline: true},
				{at: -1, text: "F", offset: 13, lines: 1},
			},
		},
		{
			name:      "max lines reached exactly is not truncated",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after", MaxLines: 2},
			lines:     []string{"E", " 1"},
			want:      []joined{{at: -1, text: "E\n 1", offset: 5, lines: 2, multiline: true}},
		},
		{
			name:      "max bytes: joined text is capped at a line boundary",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
			maxBytes:  10,
			lines:     []string{"ERROR", " abc", " defgh", "next"},
			want: []joined{
				{at: 3, text: "ERROR\n abc", offset: 18, lines: 3, truncated: true, multiline: true},
				{at: -1, text: "next", offset: 23, lines: 1},
			},
		},
		{
			name:      "max bytes: joined text is cut inside a line",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
			maxBytes:  8,
			lines:     []string{"ERROR", " abcdef", " more"},
			want:      []joined{{at: -1, text: "ERROR\n a", offset: 20, lines: 3, truncated: true, multiline: true}},
		},
		{
			name:      "max bytes: no dangling separator",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
			maxBytes:  6,
			lines:     []string{"ERROR", " x"},
			want:      []joined{{at: -1, text: "ERROR", offset: 9, lines: 2, truncated: true, multiline: true}},
		},
		{
			name:     "max bytes: no split UTF-8 sequence",
			maxBytes: 4,
			lines:    []string{"ab€", "a€"},
			want: []joined{
				{at: 0, text: "ab", offset: 6, lines: 1, truncated: true},
				{at: 1, text: "a€", offset: 11, lines: 1},
			},
		},
		{
			name:      "truncated line marks the joined event",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
			lines:     []string{"E", " cut"},
			truncated: map[int]bool{1: true},
			want:      []joined{{at: -1, text: "E\n cut", offset: 7, lines: 2, truncated: true, multiline: true}},
		},
		{
			name:      "no lines, nothing to flush",
			multiline: &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJoiner(validMultiline(t, tt.multiline), tt.maxBytes)
			var got []joined
			at := 0
			emit := func(e Event) {
				got = append(got, joined{at: at, text: string(e.Text), offset: e.Offset, lines: e.Lines, truncated: e.Truncated, multiline: e.Multiline})
			}
			var offset int64
			for i, s := range tt.lines {
				offset += int64(len(s)) + 1
				at = i
				buf := []byte(s)
				j.Add(Line{Text: buf, Offset: offset, Truncated: tt.truncated[i]}, emit)
				clear(buf) // the joiner must have copied the text
			}
			at = -1
			j.Flush(emit)
			require.False(t, j.Pending())
			require.Equal(t, tt.want, got)
		})
	}
}

func TestJoinerPending(t *testing.T) {
	j := NewJoiner(validMultiline(t, &collect.Multiline{Pattern: `^[[:space:]]`, Match: "after"}), 0)
	var n int
	emit := func(Event) { n++ }
	require.False(t, j.Pending())
	j.Add(Line{Text: []byte("head"), Offset: 5}, emit)
	require.True(t, j.Pending())
	j.Add(Line{Text: []byte(" cont"), Offset: 11}, emit)
	require.True(t, j.Pending())
	require.Zero(t, n)
	j.Flush(emit)
	require.False(t, j.Pending())
	require.Equal(t, 1, n)
	j.Flush(emit)
	require.Equal(t, 1, n)
}

func TestJoinerUnvalidatedMultilinePanics(t *testing.T) {
	require.Panics(t, func() { NewJoiner(&collect.Multiline{Pattern: "x", Match: "after"}, 0) })
}

func TestJoinerNoAllocs(t *testing.T) {
	j := NewJoiner(nil, 1<<20)
	line := Line{Text: []byte("2024-05-01 12:00:00 INFO request served in 12ms"), Offset: 0}
	var total int
	emit := func(e Event) { total += len(e.Text) }
	allocs := testing.AllocsPerRun(1000, func() {
		line.Offset += int64(len(line.Text)) + 1
		j.Add(line, emit)
	})
	require.Zero(t, allocs)
	require.Positive(t, total)
}

func BenchmarkJoiner(b *testing.B) {
	for _, bc := range []struct {
		name      string
		multiline *collect.Multiline
	}{
		{name: "single", multiline: nil},
		{name: "multiline", multiline: &collect.Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			j := NewJoiner(validMultiline(b, bc.multiline), 1<<20)
			lines := [][]byte{[]byte("2024-05-01 12:00:00 ERROR boom"), []byte("\tat a.B.c(B.java:1)")}
			emit := func(Event) {}
			b.ReportAllocs()
			var off int64
			for i := 0; b.Loop(); i++ {
				l := lines[i%2]
				off += int64(len(l)) + 1
				j.Add(Line{Text: l, Offset: off}, emit)
			}
		})
	}
}
