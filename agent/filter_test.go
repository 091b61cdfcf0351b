package agent

import (
	"encoding/json"
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

// validTask returns t validated, as the agent gets it.
func validTask(t testing.TB, task collect.Task) collect.Task {
	t.Helper()
	tasks, err := collect.ValidateTasks([]collect.Task{task})
	require.NoError(t, err)
	return tasks[0]
}

// TestLineFilterSemantics: Filebeat's include_lines / exclude_lines. With
// include_lines, only events matching one of them are kept; then events
// matching any exclude_lines are dropped, whether or not they were included.
func TestLineFilterSemantics(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		kept, dropped    []string
	}{
		{
			name:    "include only: any regexp",
			include: []string{"^ERR", "^WARN"},
			kept:    []string{"ERR disk full", "WARN slow", "WARNING too"},
			dropped: []string{"INFO ok", "DBG ERR not at the start", ""},
		},
		{
			name:    "exclude only: any regexp",
			exclude: []string{"^DBG", "healthz"},
			kept:    []string{"INFO ok", "ERR disk full", "", "DB migration"},
			dropped: []string{"DBG x", `GET /healthz 200`, "INFO healthz"},
		},
		{
			name:    "include first, then exclude",
			include: []string{"^ERR", "^WARN"},
			exclude: []string{"retrying"},
			kept:    []string{"ERR disk full", "WARN slow"},
			dropped: []string{"ERR timeout, retrying", "INFO ok", "INFO retrying"},
		},
		{
			name:    "unanchored regexps match anywhere, case-sensitive unless (?i)",
			include: []string{"error", "(?i)fatal"},
			kept:    []string{"an error", "FATAL", "Fatal: x"},
			dropped: []string{"an Error", "ERROR"},
		},
		{
			name:    "an event's text is matched whole: ^ and $ are its start and end",
			include: []string{"^2026-", `Exception$`},
			kept:    []string{"2026-01-02 boom\n\tat x.y", "x\nNullPointerException"},
			dropped: []string{"\tat x.y\n2026-01-02", "Exception\nat x.y"},
		},
		{
			name:    "(?m) matches line by line in a joined event",
			include: []string{`(?m)^Caused by:`},
			kept:    []string{"2026-01-02 boom\nCaused by: x"},
			dropped: []string{"2026-01-02 boom\n\tCaused by: x"},
		},
		{
			name:    "bytes that are not UTF-8 match as U+FFFD, as in Go's regexp",
			exclude: []string{`caf\x{fffd}`},
			kept:    []string{"café"},
			dropped: []string{"caf\xe9", "caf\uFFFD"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLineFilter(validTask(t, collect.Task{Path: "/a.log", Topic: "t", IncludeLines: tt.include, ExcludeLines: tt.exclude}))
			require.NotNil(t, f)
			for _, s := range tt.kept {
				require.True(t, f.keep([]byte(s)), "%q must be kept", s)
			}
			for _, s := range tt.dropped {
				require.False(t, f.keep([]byte(s)), "%q must be dropped", s)
			}
		})
	}
}

func TestLineFilterNone(t *testing.T) {
	require.Nil(t, newLineFilter(validTask(t, collect.Task{Path: "/a.log", Topic: "t"})), "no filter: nil, a nil check per event")
	require.Nil(t, newLineFilter(validTask(t, collect.Task{Path: "/a.log", Topic: "t", IncludeLines: []string{}, ExcludeLines: []string{}})))
	require.Panics(t, func() {
		newLineFilter(collect.Task{Path: "/a.log", Topic: "t", ExcludeLines: []string{"x"}})
	}, "a task that was not validated is a programming error")
}

// TestLineFilterAfterMultiline: filters see the joined event, so a stack
// trace is kept or dropped as a whole, by any of its lines.
func TestLineFilterAfterMultiline(t *testing.T) {
	task := validTask(t, collect.Task{
		Path: "/a.log", Topic: "t",
		Multiline:    &collect.Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after", Timeout: config.Duration(time.Second)},
		IncludeLines: []string{"Exception"},
	})
	f := newLineFilter(task)
	j := NewJoiner(task.Multiline, task.MaxLineBytes)
	var kept []string
	var dropped []int // lines of each dropped event
	emit := func(ev Event) {
		if f.keep(ev.Text) {
			kept = append(kept, string(ev.Text))
		} else {
			dropped = append(dropped, ev.Lines)
		}
	}
	var off int64
	for _, l := range []string{
		"2026-01-02 INFO started",
		"2026-01-02 ERROR request failed",
		"java.lang.IllegalStateException: boom",
		"\tat a.b(C.java:1)",
		"2026-01-02 INFO done",
		"\tmore",
	} {
		off += int64(len(l)) + 1
		j.Add(Line{Text: []byte(l), Offset: off}, emit)
	}
	j.Flush(emit)
	require.Equal(t, []string{"2026-01-02 ERROR request failed\njava.lang.IllegalStateException: boom\n\tat a.b(C.java:1)"}, kept)
	require.Equal(t, []int{1, 2}, dropped)
}

// The line filter allocates nothing per line. Under the race detector
// sync.Pool drops what is put back at random, so regexp makes its pooled
// matchers again: 4 allocations per run of the 3 lines (measured), from the
// 4 patterns. The test then bounds them at 5: a filter that allocated per
// line, such as by converting each line to a string, would add 3 per run.
func TestLineFilterAllocatesNothing(t *testing.T) {
	f := newLineFilter(validTask(t, collect.Task{
		Path: "/a.log", Topic: "t",
		IncludeLines: []string{`" (4|5)\d\d `, `(?i)error`}, ExcludeLines: []string{`GET /healthz`, `^10\.0\.`},
	}))
	lines := [][]byte{
		benchNginxLines(6)[:100], // cut: any bytes will do
		[]byte(`10.1.2.3 - - [25/Nov/2026:14:23:00 +0000] "GET /x HTTP/1.1" 500 12 "-" "curl/8"`),
		[]byte(`10.1.2.3 - - [25/Nov/2026:14:23:00 +0000] "GET /healthz HTTP/1.1" 503 12 "-" "curl/8"`),
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, l := range lines {
			f.keep(l)
		}
	})
	if raceEnabled {
		require.LessOrEqual(t, allocs, 5.0)
		return
	}
	require.Zero(t, allocs)
}

// TestEntrySkip: the rule for the offsets of filtered events. A filtered
// event's end offset is committed only once every record sent before it is
// acknowledged: at once when none is in flight, else by the acknowledgement
// of the last record sent before it (or of a later one).
func TestEntrySkip(t *testing.T) {
	// Each op: "ack N" (a record ending at N acknowledged), "skip S N" (an
	// event ending at N filtered, the last record sent before it ending at
	// S), "fail", "begin N"; then the committed offset expected.
	type op struct {
		do   string
		a, b int64
		want int64
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{name: "nothing in flight: committed at once", ops: []op{
			{do: "skip", a: 0, b: 10, want: 10},
			{do: "skip", a: 0, b: 25, want: 25},
		}},
		{name: "waits for the record before it", ops: []op{
			{do: "skip", a: 10, b: 30, want: 0},
			{do: "ack", a: 10, want: 30},
		}},
		{name: "waits for the last record before it, not an earlier one", ops: []op{
			{do: "skip", a: 20, b: 30, want: 0}, // records ending at 10 and 20 in flight
			{do: "ack", a: 10, want: 10},
			{do: "ack", a: 20, want: 30},
		}},
		{name: "record already acknowledged", ops: []op{
			{do: "ack", a: 10, want: 10},
			{do: "skip", a: 10, b: 30, want: 30},
		}},
		{name: "a later filtered event replaces the pending one", ops: []op{
			{do: "skip", a: 10, b: 20, want: 0},
			{do: "skip", a: 10, b: 30, want: 0},
			{do: "ack", a: 10, want: 30},
		}},
		{name: "records and filtered events interleaved", ops: []op{
			{do: "skip", a: 10, b: 20, want: 0},  // 10 sent, 20 filtered
			{do: "skip", a: 30, b: 40, want: 0},  // 30 sent, 40 filtered
			{do: "ack", a: 10, want: 10},         // 20 follows 10, but 40 waits for 30: no harm, 30's ack covers 20
			{do: "ack", a: 30, want: 40},         // every record before 40 acknowledged
			{do: "skip", a: 30, b: 50, want: 50}, // nothing in flight
			{do: "ack", a: 60, want: 60},
		}},
		{name: "a failed generation commits no filtered event", ops: []op{
			{do: "skip", a: 10, b: 20, want: 0},
			{do: "fail", want: 0},
			{do: "ack", a: 10, want: 0},
			{do: "skip", a: 0, b: 30, want: 0},
		}},
		{name: "a new generation forgets the pending one", ops: []op{
			{do: "skip", a: 10, b: 20, want: 0},
			{do: "begin", a: 5, want: 5},
			{do: "ack", a: 10, want: 10},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &entry{}
			gen := e.begin(0)
			for i, o := range tt.ops {
				switch o.do {
				case "ack":
					e.ack(gen, o.a)
				case "skip":
					e.skip(gen, o.a, o.b)
				case "fail":
					e.fail(gen)
				case "begin":
					old := gen
					gen = e.begin(o.a)
					e.skip(old, 0, 100) // the old generation's harvester is gone: ignored
				}
				require.Equal(t, o.want, e.committed(), "after op %d (%s %d %d)", i, o.do, o.a, o.b)
			}
		})
	}
}

// filterEvent is an event of a test file: its lines, and whether the task's
// filters keep it.
type filterEvent struct {
	lines []string
	kept  bool
}

// filterFile is what a test file holds and what the agent should make of it.
type filterFile struct {
	size    int64
	kept    []string // messages, in order
	starts  []int64  // their start offsets: the ids' second part
	lines   int      // lines in the file
	dropped int      // lines of filtered events
}

// appendEvents appends evs to path, whose size is f.size, and adds them to f.
func appendEvents(t *testing.T, path string, f *filterFile, evs []filterEvent) {
	t.Helper()
	var b strings.Builder
	for _, ev := range evs {
		start := f.size + int64(b.Len())
		for _, l := range ev.lines {
			b.WriteString(l + "\n")
		}
		f.lines += len(ev.lines)
		if ev.kept {
			f.kept = append(f.kept, strings.Join(ev.lines, "\n"))
			f.starts = append(f.starts, start)
		} else {
			f.dropped += len(ev.lines)
		}
	}
	w, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	_, err = w.WriteString(b.String())
	require.NoError(t, err)
	require.NoError(t, w.Close())
	f.size += int64(b.Len())
}

// fileEntry returns the registry entry of the file at path, once there is one.
func fileEntry(t *testing.T, ra *runningAgent, path string) *entry {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	id, ok := statID(fi)
	require.True(t, ok)
	var e *entry
	require.Eventually(t, func() bool { e = ra.reg.lookup(id); return e != nil }, 10*time.Second, 5*time.Millisecond)
	return e
}

// waitCommitted waits until the committed offset of path's file is want.
func waitCommitted(t *testing.T, ra *runningAgent, path string, want int64) {
	t.Helper()
	e := fileEntry(t, ra, path)
	require.Eventually(t, func() bool { return e.committed() == want }, 20*time.Second, 5*time.Millisecond,
		"committed offset %d, want %d (the end of the file)", e.committed(), want)
}

// savedOffset returns the offset of path in the registry file of dataDir.
func savedOffset(t *testing.T, dataDir, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dataDir, "registry.json"))
	require.NoError(t, err)
	var rf registryFile
	require.NoError(t, json.Unmarshal(data, &rf))
	for _, fe := range rf.Files {
		if fe.Path == path {
			return fe.Offset
		}
	}
	t.Fatalf("%s not in the registry:\n%s", path, data)
	return 0
}

// requireShipped checks that fp got exactly f.kept[from:], with ids
// "{epoch}-{start offset}" of the lines in the file.
func requireShipped(t *testing.T, fp *fakeProducer, f *filterFile, from int) {
	t.Helper()
	require.Equal(t, f.kept[from:], fp.messages(), "only the kept events, each once, in order")
	var starts []int64
	for _, id := range fp.eventIDs() {
		_, off := splitID(t, id)
		starts = append(starts, off)
	}
	require.Equal(t, f.starts[from:], starts, "ids carry the events' own start offsets")
}

// TestLineFiltersShip: a file with mixed lines, shipped with include_lines
// and exclude_lines: only the kept events reach Kafka, with their own ids;
// the rest is counted in logagent_lines_filtered_total; the committed offset
// reaches the end of the file even when its last lines are filtered; after
// a restart nothing is sent again, and new lines are filtered the same way.
func TestLineFiltersShip(t *testing.T) {
	if testing.Short() {
		t.Skip("ships filtered lines through kfake")
	}
	info := func(s string) filterEvent { return filterEvent{lines: []string{"INFO " + s}} }
	keep := func(lines ...string) filterEvent { return filterEvent{lines: lines, kept: true} }
	drop := func(lines ...string) filterEvent { return filterEvent{lines: lines} }
	tests := []struct {
		name          string
		task          collect.Task
		first, second []filterEvent // written before the first start, and after the restart
	}{
		{
			name: "include and exclude",
			task: collect.Task{IncludeLines: []string{"^ERROR", "^WARN"}, ExcludeLines: []string{"healthz"}},
			first: []filterEvent{
				info("started"), keep("ERROR disk full"), info("request"), drop("ERROR GET /healthz 503"),
				keep("WARN slow request"), info("a"), info("b"), keep("ERROR last line kept"),
			},
			second: []filterEvent{info("c"), keep("WARN after the restart"), info("d")},
		},
		{
			name: "last lines filtered",
			task: collect.Task{ExcludeLines: []string{"^DEBUG"}},
			first: []filterEvent{
				keep("INFO started"), drop("DEBUG a"), keep("INFO b"),
				drop("DEBUG c"), drop("DEBUG d"), drop("DEBUG e"),
			},
			second: []filterEvent{drop("DEBUG f"), keep("INFO g"), drop("DEBUG h")},
		},
		{
			name:   "every line filtered",
			task:   collect.Task{IncludeLines: []string{"^ERROR"}},
			first:  []filterEvent{info("a"), info("b"), info("c")},
			second: []filterEvent{info("d"), keep("ERROR e"), info("f")},
		},
		{
			name: "multiline then filter",
			task: collect.Task{
				Multiline:    &collect.Multiline{Pattern: `^\d{4}-`, Negate: true, Match: "after", Timeout: config.Duration(200 * time.Millisecond)},
				IncludeLines: []string{"Exception"}, ExcludeLines: []string{"retrying"},
			},
			first: []filterEvent{
				drop("2026-01-02 INFO started"),
				keep("2026-01-02 ERROR request failed", "java.lang.IllegalStateException: boom", "\tat a.b(C.java:1)"),
				drop("2026-01-02 WARN call failed, retrying", "java.io.IOException: reset", "\tat d.e(F.java:2)"),
				drop("2026-01-02 INFO done", "\tno exception here"),
			},
			// The last event is pending until the multiline timeout: it
			// is flushed, filtered and its offset committed then.
			second: []filterEvent{
				keep("2026-01-03 ERROR again", "java.lang.RuntimeException"),
				drop("2026-01-03 INFO idle", "\tsecond line"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.log")
			task := tt.task
			task.Path, task.Topic, task.StartPosition = path, "t", "beginning"
			var f filterFile
			appendEvents(t, path, &f, tt.first)
			cfg := fakeConfig(t)

			fp := &fakeProducer{}
			ra := startAgent(t, cfg, fp, task)
			waitCommitted(t, ra, path, f.size)
			requireShipped(t, fp, &f, 0)
			require.Equal(t, float64(f.dropped), testutil.ToFloat64(ra.m.LinesFiltered.WithLabelValues(path, "t")))
			require.Equal(t, float64(f.lines), testutil.ToFloat64(ra.m.LinesRead.WithLabelValues(path, "t")))
			require.Equal(t, float64(len(f.kept)), testutil.ToFloat64(ra.m.RecordsSent.WithLabelValues(path, "t")))
			ra.stop(t)
			require.Equal(t, f.size, savedOffset(t, cfg.DataDir, path), "saved at the end of the file")

			// Restarted: the file is not read again (it is not even
			// opened: its committed offset is its size).
			sent := len(f.kept)
			fp = &fakeProducer{}
			ra = startAgent(t, cfg, fp, task)
			time.Sleep(3 * cfg.Files.ScanFrequency.D())
			require.Empty(t, fp.messages(), "nothing sent again after a restart")
			require.Zero(t, testutil.ToFloat64(ra.m.LinesRead.WithLabelValues(path, "t")))

			appendEvents(t, path, &f, tt.second)
			waitCommitted(t, ra, path, f.size)
			requireShipped(t, fp, &f, sent)
			ra.stop(t)
			require.Equal(t, f.size, savedOffset(t, cfg.DataDir, path))
		})
	}
}

// TestFilteredOffsetWaitsForEarlierAcks: the offset of filtered lines is not
// committed while a record before them is unacknowledged (at-least-once): a
// crash then would lose that record. It moves once Kafka acknowledges it.
func TestFilteredOffsetWaitsForEarlierAcks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var f filterFile
	appendEvents(t, path, &f, []filterEvent{
		{lines: []string{"DEBUG a"}},
		{lines: []string{"INFO b"}, kept: true},
		{lines: []string{"DEBUG c"}},
		{lines: []string{"DEBUG d"}},
	})
	fp := &fakeProducer{hold: true}
	cfg := fakeConfig(t)
	ra := startAgent(t, cfg, fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning", ExcludeLines: []string{"^DEBUG"}})
	filtered := ra.m.LinesFiltered.WithLabelValues(path, "t")
	require.Eventually(t, func() bool { return testutil.ToFloat64(filtered) == 3 }, 10*time.Second, 5*time.Millisecond)
	e := fileEntry(t, ra, path)
	first := int64(len("DEBUG a\n"))
	require.Equal(t, first, e.committed(), "the first filtered line had nothing before it in flight")
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, first, e.committed(), "not past a record Kafka has not acknowledged")

	fp.release()
	waitCommitted(t, ra, path, f.size)
	requireShipped(t, fp, &f, 0)
	ra.stop(t)
	require.Equal(t, f.size, savedOffset(t, cfg.DataDir, path))
}

// TestFilteredOffsetAfterSendFailure: when the record before filtered lines
// fails, their offset is not committed; the file is read again from the
// committed offset, and the end is reached once every kept line is sent.
func TestFilteredOffsetAfterSendFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.log")
	var f filterFile
	appendEvents(t, path, &f, []filterEvent{
		{lines: []string{"ERROR a"}, kept: true},
		{lines: []string{"INFO b"}},
		{lines: []string{"ERROR c"}, kept: true},
		{lines: []string{"INFO d"}},
	})
	fp := &fakeProducer{failNext: 1}
	ra := startAgent(t, fakeConfig(t), fp, collect.Task{Path: path, Topic: "t", StartPosition: "beginning", IncludeLines: []string{"^ERROR"}})
	waitCommitted(t, ra, path, f.size)
	require.Subset(t, fp.messages(), f.kept, "every kept line is sent, at least once")
	require.NotContains(t, fp.messages(), "INFO b")
	require.NotContains(t, fp.messages(), "INFO d")
	require.Equal(t, float64(1), testutil.ToFloat64(ra.m.SendErrors.WithLabelValues(path, "t")))
}
