package pipeline

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// presetCase is a table row of the presets' tests: one processor (YAML, as
// in a pipeline's processors list) on one event.
type presetCase struct {
	name      string
	processor string // such as `nginx: {}`; the test's default when empty
	line      string // the event is {"message": line} ...
	in        string // ... unless in, a whole event in JSON, is set
	want      string // the event after the processor, JSON
	wantErr   string // or the processor's error (without the pipeline's prefix)
}

// runPresetCases runs each case through a pipeline of one step, def when the
// case names no processor. On an error, the event must come back as it
// came, flagged.
func runPresetCases(t *testing.T, def string, cases []presetCase) {
	t.Helper()
	runPresetCasesWith(t, def, nil, cases)
}

// runPresetCasesWith is runPresetCases with setup called on each processor
// before it runs (to fix its clock).
func runPresetCasesWith(t *testing.T, def string, setup func(Processor), cases []presetCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			proc := tc.processor
			if proc == "" {
				proc = def
			}
			cfgs := parseConfigs(t, "[{name: p, topics: [t], processors: [{"+proc+"}]}]")
			p, err := New(cfgs[0])
			require.NoError(t, err)
			if setup != nil {
				setup(p.steps[0].proc)
			}
			in := tc.in
			if in == "" {
				b, err := json.Marshal(map[string]any{"message": tc.line})
				require.NoError(t, err)
				in = string(b)
			}
			e := event(t, in)
			err = p.Run(e)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.JSONEq(t, tc.want, jsonOf(t, e))
				return
			}
			var perr *ProcessorError
			require.ErrorAs(t, err, &perr)
			require.EqualError(t, perr.Err, tc.wantErr)
			e.Delete("error")
			e.Delete("tags")
			require.JSONEq(t, in, jsonOf(t, e), "the event as it came in")
		})
	}
}

// presetConfigErrors checks that each processor YAML is refused with an
// error containing the string it maps to.
func presetConfigErrors(t *testing.T, cases map[string]string) {
	t.Helper()
	for proc, want := range cases {
		t.Run(proc, func(t *testing.T) {
			_, err := Parse([]byte("[{name: p, topics: [t], processors: [{" + proc + "}]}]"))
			require.ErrorContains(t, err, want)
		})
	}
}

// benchPreset measures proc on line: each op builds the event
// {"message": line, "@timestamp": ...} (2 allocations of the figures) and
// processes it.
func benchPreset(b *testing.B, proc Processor, field, line string) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		e := NewEvent(map[string]any{field: line, "@timestamp": "2026-12-07T10:00:01.5Z"})
		if err := proc.Process(e); err != nil {
			b.Fatal(err)
		}
	}
}

// newPreset builds a processor from its options in YAML, for benchmarks
// and fuzz targets.
func newPreset(tb testing.TB, typ, opts string) Processor {
	tb.Helper()
	cfgs, err := Parse([]byte("[{name: p, topics: [t], processors: [{" + typ + ": " + opts + "}]}]"))
	require.NoError(tb, err)
	p, err := New(cfgs[0])
	require.NoError(tb, err)
	return p.steps[0].proc
}

// fuzzProcess runs proc on line as the message of an event and checks what
// every preset must keep: no panic, an error leaves a reason, and a success
// leaves an event that encodes to JSON.
func fuzzProcess(t *testing.T, proc Processor, line string) {
	e := NewEvent(map[string]any{"message": line, "@timestamp": "2026-12-07T10:00:01Z"})
	err := proc.Process(e)
	if err != nil {
		require.NotEmpty(t, err.Error())
		return
	}
	_, err = json.Marshal(e.Fields)
	require.NoError(t, err)
}

// The presets keep no state between events: one processor runs on several
// goroutines at once (go test -race checks them).
func TestPresetsConcurrent(t *testing.T) {
	id := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct{ typ, field, value string }{
		{"nginx", "message", `203.0.113.7 - - [07/Dec/2026:10:00:00 +0100] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"`},
		{"nginx", "message", `2026/12/07 10:00:00 [error] 123#456: *7 open() failed`},
		{"syslog", "message", "Dec  7 10:00:00 web1 sshd[4242]: Accepted publickey for deploy"},
		{"syslog", "message", `<165>1 2026-12-07T10:00:00.003Z h app 42 ID47 [a@1 b="c"] msg`},
		{"cri", "message", "2026-12-07T10:00:00.123456789Z stdout P part"},
		{"docker", "message", `{"log":"x\n","stream":"stdout","time":"2026-12-07T10:00:00Z"}`},
		{"kubernetes", "path", "/var/log/containers/p_n_c-" + id + ".log"},
	} {
		proc := newPreset(t, tc.typ, "{field: "+tc.field+"}")
		want := NewEvent(map[string]any{tc.field: tc.value})
		require.NoError(t, proc.Process(want))
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 50 {
					e := NewEvent(map[string]any{tc.field: tc.value})
					assert.NoError(t, proc.Process(e))
					assert.Equal(t, want.Fields, e.Fields)
				}
			})
		}
		wg.Wait()
	}
}
