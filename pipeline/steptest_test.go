package pipeline

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// stepPipeline builds pipeline "p" of one processor, step being its YAML
// (`dissect: {pattern: '%{a} %{b}'}`), failing the test if it does not
// compile.
func stepPipeline(t testing.TB, step string) *Pipeline {
	t.Helper()
	p, err := New(stepConfig(t, step))
	require.NoError(t, err)
	return p
}

// stepConfig reads pipeline "p" of one processor; New's error is the
// test's to check.
func stepConfig(t testing.TB, step string) Config {
	t.Helper()
	return stepsConfig(t, "\n    - "+step)[0]
}

// stepError returns the error of building pipeline "p" of one processor.
func stepError(t testing.TB, step string) error {
	t.Helper()
	_, err := New(stepConfig(t, step))
	return err
}

// runStep runs pipeline "p" of one processor on the event in (JSON) and
// returns the event and Run's error. On an error it checks the rule every
// processor keeps: the event comes back as it came in, with error.message
// (Run's error) and the _pipeline_error tag.
func runStep(t testing.TB, step, in string) (*Event, error) {
	t.Helper()
	e := event(t, in)
	err := stepPipeline(t, step).Run(e)
	if err != nil {
		msg, _ := e.GetString("error.message")
		require.Equal(t, err.Error(), msg)
		require.Equal(t, []any{PipelineErrorTag}, e.Fields["tags"])
		back := NewEvent(clone(e.Fields))
		back.Delete("error")
		back.Delete("tags")
		require.JSONEq(t, in, jsonOf(t, back), "the event as it came in")
	}
	return e, err
}

// One compiled pipeline runs on many goroutines (logtransfer's partitions
// share it): the parsers keep no state between events, which the race
// detector checks here.
func TestParsersConcurrent(t *testing.T) {
	cfgs := stepsConfig(t, `
    - json: {target: doc}
    - grok: {field: doc.line, patterns: ['^%{IP:source.ip} %{WORD:verb} %{INT:n:int} %{GREEDYDATA:rest}$']}
    - dissect: {field: rest, pattern: '%{a} [%{time}]'}
    - timestamp: {field: time, formats: [nginx], timezone: Europe/Berlin}
    - convert: {fields: {source.ip: ip, a: integer}}`)
	pl, err := New(cfgs[0])
	require.NoError(t, err)
	const workers, events = 4, 200
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var err error
			for i := range events {
				e := NewEvent(map[string]any{"message": `{"line":"10.0.0.1 GET 7 42 [07/Dec/2026:10:00:00 +0000]"}`})
				if err = pl.Run(e); err != nil {
					break
				}
				if got, _ := e.Get("a"); got != int64(42) {
					err = fmt.Errorf("worker %d, event %d: a = %v", w, i, got)
					break
				}
			}
			errs <- err
		}()
	}
	for range workers {
		require.NoError(t, <-errs)
	}
}

// stepsConfig reads pipeline "p" of the processors in steps (YAML list
// items, indented by four spaces).
func stepsConfig(t testing.TB, steps string) []Config {
	t.Helper()
	var cfgs []Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte("- name: p\n  topics: [t]\n  processors:" + steps + "\n")))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&cfgs), "YAML of %s", steps)
	return cfgs
}

// The app pipeline, on a line of a JSON app log.
func TestAppPipeline(t *testing.T) {
	cfgs := parseConfigs(t, `
- name: app
  topics: [app_log]
  processors:
    - json: {field: message, target: ""}
    - timestamp: {field: time, formats: [RFC3339Nano, "2006-01-02 15:04:05.000"], timezone: UTC}
    - rename: {fields: {level: log.level}}
    - remove: {fields: [time]}
`)
	p, err := New(cfgs[0])
	require.NoError(t, err)
	e := event(t, `{"@timestamp":"2026-12-08T00:00:03.5Z","message":"{\"time\":\"2026-12-07 23:59:59.250\",\"level\":\"error\",\"message\":\"payment declined\",\"order\":{\"id\":4711,\"total\":99.5}}","log":{"file":{"path":"/var/log/app.json"}}}`)
	require.NoError(t, p.Run(e))
	require.JSONEq(t, `{"@timestamp":"2026-12-07T23:59:59.25Z","message":"payment declined","order":{"id":4711,"total":99.5},
		"log":{"file":{"path":"/var/log/app.json"},"level":"error"}}`, jsonOf(t, e))
}
