package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/config"
)

// containerLine is a Line passed on by a containerJoiner, its text copied.
type containerLine struct {
	Text      string
	Offset    int64
	Truncated bool
}

// runContainerJoiner feeds lines (each ending at the sum of the lengths so
// far, newline included) and flushes at the end when flush is set.
func runContainerJoiner(c *containerJoiner, lines []string, truncated map[int]bool, flush bool) []containerLine {
	var got []containerLine
	next := func(l Line) { got = append(got, containerLine{string(l.Text), l.Offset, l.Truncated}) }
	var off int64
	for i, l := range lines {
		off += int64(len(l)) + 1
		c.Add(Line{Text: []byte(l), Offset: off, Truncated: truncated[i]}, next)
	}
	if flush {
		c.Flush(next)
	}
	return got
}

const t0, t1, t2 = "2026-12-07T10:00:00.000000001Z", "2026-12-07T10:00:01.5Z", "2026-12-07T10:00:02Z"

func TestContainerJoinCRI(t *testing.T) {
	tests := []struct {
		name      string
		lines     []string
		truncated map[int]bool
		maxBytes  int
		flush     bool
		want      []containerLine
		pending   bool
	}{
		{
			name:  "F alone is passed as it is",
			lines: []string{t0 + " stdout F hello", t1 + " stderr F:x oops"},
			want:  []containerLine{{t0 + " stdout F hello", 0, false}, {t1 + " stderr F:x oops", 1, false}},
		},
		{
			name:  "P P F: one line, the first prefix with F",
			lines: []string{t0 + " stdout P abc", t1 + " stdout P def", t2 + " stdout F ghi"},
			want:  []containerLine{{t0 + " stdout F abcdefghi", 2, false}},
		},
		{
			name:  "tags after the P are kept",
			lines: []string{t0 + " stdout P:a,b abc", t1 + " stdout F:c def"},
			want:  []containerLine{{t0 + " stdout F:a,b abcdef", 1, false}},
		},
		{
			name:  "empty messages",
			lines: []string{t0 + " stdout P", t1 + " stdout P ", t2 + " stdout F"},
			want:  []containerLine{{t0 + " stdout F ", 2, false}},
		},
		{
			name:    "a P at the end waits",
			lines:   []string{t0 + " stdout P abc"},
			want:    nil,
			pending: true,
		},
		{
			name:  "a P flushed is a partial record",
			lines: []string{t0 + " stdout P abc", t1 + " stdout P def"},
			flush: true,
			want:  []containerLine{{t0 + " stdout P abcdef", 1, false}},
		},
		{
			name:  "stream change mid-join flushes the pending join",
			lines: []string{t0 + " stdout P abc", t1 + " stderr F err", t2 + " stdout F def"},
			want: []containerLine{
				{t0 + " stdout P abc", 0, false},
				{t1 + " stderr F err", 1, false},
				{t2 + " stdout F def", 2, false},
			},
		},
		{
			name:  "stream change to another P starts a new join",
			lines: []string{t0 + " stdout P abc", t1 + " stderr P e1", t2 + " stderr F e2"},
			want:  []containerLine{{t0 + " stdout P abc", 0, false}, {t1 + " stderr F e1e2", 2, false}},
		},
		{
			name:  "a line that is not CRI flushes and passes",
			lines: []string{t0 + " stdout P abc", "garbage", t0 + " stdout X y", t0 + " stdin F z", ""},
			want: []containerLine{
				{t0 + " stdout P abc", 0, false},
				{"garbage", 1, false},
				{t0 + " stdout X y", 2, false},
				{t0 + " stdin F z", 3, false},
				{"", 4, false},
			},
		},
		{
			name:  "invalid UTF-8 in a part is kept",
			lines: []string{t0 + " stdout P a\xff\xfe", t1 + " stdout F \xc3"},
			want:  []containerLine{{t0 + " stdout F a\xff\xfe\xc3", 1, false}},
		},
		{
			name:      "a truncated part flags the line",
			lines:     []string{t0 + " stdout P abc", t1 + " stdout F def"},
			truncated: map[int]bool{0: true},
			want:      []containerLine{{t0 + " stdout F abcdef", 1, true}},
		},
		{
			name:     "capped at max_line_bytes, the rest dropped",
			lines:    []string{t0 + " stdout P abcdef", t1 + " stdout P ghé", t2 + " stdout F end", t0 + " stdout F next"},
			maxBytes: len(t0) + len(" stdout F abcdefgh") + 1, // cuts in the middle of é
			want: []containerLine{
				{t0 + " stdout F abcdefgh", 2, true},
				{t0 + " stdout F next", 3, false},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContainerJoiner("cri", tt.maxBytes)
			got := runContainerJoiner(c, tt.lines, tt.truncated, tt.flush)
			// want's Offset is the index of the line the event ends with.
			ends := make([]int64, len(tt.lines))
			var off int64
			for i, l := range tt.lines {
				off += int64(len(l)) + 1
				ends[i] = off
			}
			for i := range tt.want {
				tt.want[i].Offset = ends[tt.want[i].Offset]
			}
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.pending, c.Pending())
		})
	}
}

func TestContainerJoinDocker(t *testing.T) {
	rec := func(log, stream, time string) string {
		return `{"log":` + jsonString(log) + `,"stream":"` + stream + `","time":"` + time + `"}`
	}
	tests := []struct {
		name     string
		lines    []string
		maxBytes int
		flush    bool
		want     []string
		trunc    []bool
		pending  bool
	}{
		{
			name:  "whole lines are passed as they are",
			lines: []string{rec("a\n", "stdout", t0), `{"stream":"stderr","log":"b\n","time":"` + t1 + `"}`, rec("q\"\\\n", "stdout", t2)},
			want:  []string{rec("a\n", "stdout", t0), `{"stream":"stderr","log":"b\n","time":"` + t1 + `"}`, rec("q\"\\\n", "stdout", t2)},
		},
		{
			name:  "parts containerLine: first time and stream",
			lines: []string{rec("ab", "stdout", t0), rec("c\\\"d", "stdout", t1), rec("é\n", "stdout", t2)},
			want:  []string{rec("abc\\\"dé\n", "stdout", t0)},
		},
		{
			name:  "attrs of the first part are kept",
			lines: []string{`{"log":"a","stream":"stdout","attrs":{"tag":"x"},"time":"` + t0 + `"}`, rec("b\n", "stdout", t1)},
			want:  []string{`{"log":"ab\n","stream":"stdout","time":"` + t0 + `","attrs":{"tag":"x"}}`},
		},
		{
			name:  "a log ending in an escaped backslash and n is partial",
			lines: []string{rec(`x\n`, "stdout", t0), rec("y\n", "stdout", t1)},
			want:  []string{rec("x\\ny\n", "stdout", t0)},
		},
		{
			name:  "stream change mid-join flushes",
			lines: []string{rec("ab", "stdout", t0), rec("err\n", "stderr", t1), rec("c\n", "stdout", t2)},
			want:  []string{rec("ab", "stdout", t0), rec("err\n", "stderr", t1), rec("c\n", "stdout", t2)},
		},
		{
			name:    "a part at the end waits",
			lines:   []string{rec("ab", "stdout", t0)},
			pending: true,
		},
		{
			name:  "not JSON flushes and passes",
			lines: []string{rec("ab", "stdout", t0), `{"log":"cut`, `[1]`},
			want:  []string{rec("ab", "stdout", t0), `{"log":"cut`, `[1]`},
		},
		{
			name:  "invalid UTF-8 in a part",
			lines: []string{`{"log":"a` + "\xff" + `","stream":"stdout","time":"` + t0 + `"}`, rec("b\n", "stdout", t1)},
			want:  []string{rec("a\uFFFDb\n", "stdout", t0)},
		},
		{
			name:     "capped at max_line_bytes, newline kept",
			lines:    []string{rec("0123456789", "stdout", t0), rec("abcdefghij\n", "stdout", t1)},
			maxBytes: len(rec("0123456789abc\n", "stdout", t0)),
			want:     []string{rec("0123456789abc\n", "stdout", t0)},
			trunc:    []bool{true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContainerJoiner("docker", tt.maxBytes)
			got := runContainerJoiner(c, tt.lines, nil, tt.flush)
			var texts []string
			var trunc []bool
			for _, g := range got {
				texts = append(texts, g.Text)
				trunc = append(trunc, g.Truncated)
			}
			require.Equal(t, tt.want, texts)
			if tt.trunc == nil {
				tt.trunc = make([]bool, len(tt.want))
			}
			if len(tt.want) == 0 {
				tt.trunc = nil
			}
			require.Equal(t, tt.trunc, trunc)
			require.Equal(t, tt.pending, c.Pending())
			if len(got) > 0 && !tt.pending {
				var end int64
				for _, l := range tt.lines {
					end += int64(len(l)) + 1
				}
				require.Equal(t, end, got[len(got)-1].Offset)
			}
		})
	}
}

func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestContainerJoinNone(t *testing.T) {
	require.Nil(t, newContainerJoiner("", 100))
}

// TestContainerJoinAllocatesNothing: whole records and CRI parts, once the
// buffer has grown, cost no allocation.
func TestContainerJoinAllocatesNothing(t *testing.T) {
	cri := newContainerJoiner("cri", 1<<20)
	docker := newContainerJoiner("docker", 1<<20)
	full := []byte(t0 + " stdout F GET /healthz 200")
	p := []byte(t0 + " stdout P GET /healthz 200")
	dfull := []byte(`{"log":"GET /healthz 200\n","stream":"stdout","time":"` + t0 + `"}`)
	next := func(Line) {}
	allocs := testing.AllocsPerRun(100, func() {
		cri.Add(Line{Text: full, Offset: 1}, next)
		cri.Add(Line{Text: p, Offset: 2}, next)
		cri.Add(Line{Text: full, Offset: 3}, next)
		docker.Add(Line{Text: dfull, Offset: 1}, next)
	})
	require.Zero(t, allocs)
}

// criFile builds a CRI log file: records, and the events the agent should
// ship from them (message and start offset).
type criFile struct {
	size   int64
	text   strings.Builder // records not yet written
	want   []string
	starts []int64
}

// record appends a CRI record; ship, when not empty, is the event it ends
// and start that event's first record's offset (-1: this record's).
func (f *criFile) record(rec string, ship string, start int64) int64 {
	at := f.size + int64(f.text.Len())
	f.text.WriteString(rec + "\n")
	if ship != "" {
		if start < 0 {
			start = at
		}
		f.want = append(f.want, ship)
		f.starts = append(f.starts, start)
	}
	return at
}

func (f *criFile) write(t *testing.T, path string) {
	t.Helper()
	appendRaw(t, path, f.text.String())
	f.size += int64(f.text.Len())
	f.text.Reset()
}

func appendRaw(t *testing.T, path, s string) {
	t.Helper()
	w, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = w.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

// TestContainerJoinShips: a CRI file with partial records, read by a task
// with container_format cri, exclude_lines and multiline: each joined line
// is one event with the first record's prefix and start offset (its id),
// the filter sees the joined line, a partial record at the end of the file
// is not shipped nor committed; after a restart nothing is sent again, the
// pending partial is joined with its end, and nothing is lost.
func TestContainerJoinShips(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pod.log")
	var f criFile
	f.record(t0+" stdout F hello", t0+" stdout F hello", -1)
	p := f.record(t0+" stdout P GET /lo", "", 0)
	f.record(t1+" stdout P ng/pa", "", 0)
	f.record(t2+" stdout F th 200", t0+" stdout F GET /long/path 200", p)
	// Interleaved streams: the stderr join is flushed as a partial record.
	p = f.record(t0+" stderr P err-a", t0+" stderr P err-a", -1)
	f.record(t1+" stdout F out", t1+" stdout F out", -1)
	f.record(t2+" stderr F err-b", t2+" stderr F err-b", -1)
	// The filter sees the joined line: "healthz" is in no record.
	f.record(t0+" stdout P GET /heal", "", 0)
	f.record(t1+" stdout F thz 200", "", 0)
	f.record(t1+" stdout F after", t1+" stdout F after", -1)
	committed := f.size + int64(f.text.Len())
	pending := f.record(t2+" stdout P tai", "", 0)
	f.write(t, path)

	task := collect.Task{
		Path: path, Topic: "t", StartPosition: "beginning", ContainerFormat: "cri",
		ExcludeLines: []string{"healthz"},
		// Every joined line starts a multiline event (the timeout ships it).
		Multiline: &collect.Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after", Timeout: config.Duration(100 * time.Millisecond)},
	}
	cfg := fakeConfig(t)
	fp := &fakeProducer{}
	ra := startAgent(t, cfg, fp, task)
	waitCommitted(t, ra, path, committed)
	requireCRIShipped(t, fp, &f, 0)
	// Lines count records: the joined line filtered out was two.
	require.Equal(t, 2.0, testutil.ToFloat64(ra.m.LinesFiltered.WithLabelValues(path, "t")))
	require.Equal(t, 11.0, testutil.ToFloat64(ra.m.LinesRead.WithLabelValues(path, "t")))
	time.Sleep(300 * time.Millisecond)
	require.Equal(t, committed, fileEntry(t, ra, path).committed(), "the partial record at the end waits")
	ra.stop(t)
	require.Equal(t, committed, savedOffset(t, cfg.DataDir, path))

	sent := len(f.want)
	fp = &fakeProducer{}
	ra = startAgent(t, cfg, fp, task)
	f.record(t0+" stdout F l-end", t2+" stdout F tail-end", pending)
	f.record(t1+" stdout F bye", t1+" stdout F bye", -1)
	f.write(t, path)
	waitCommitted(t, ra, path, f.size)
	requireCRIShipped(t, fp, &f, sent)
	ra.stop(t)
	require.Equal(t, f.size, savedOffset(t, cfg.DataDir, path))
}

func requireCRIShipped(t *testing.T, fp *fakeProducer, f *criFile, from int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(fp.messages()) >= len(f.want)-from }, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, f.want[from:], fp.messages(), "one event per joined line, each once, in order")
	var starts []int64
	for _, id := range fp.eventIDs() {
		_, off := splitID(t, id)
		starts = append(starts, off)
	}
	require.Equal(t, f.starts[from:], starts, "ids carry the first record's offset")
}
