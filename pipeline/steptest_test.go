package pipeline

import (
	"bytes"
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
	cfgs, err := parseStep(step)
	require.NoError(t, err, "YAML of %s", step)
	return cfgs[0]
}

// stepError returns the error of building pipeline "p" of one processor.
func stepError(t testing.TB, step string) error {
	t.Helper()
	_, err := New(stepConfig(t, step))
	return err
}

// parseStep reads the YAML of pipeline "p" of one processor, without
// compiling it.
func parseStep(step string) ([]Config, error) {
	var cfgs []Config
	dec := yaml.NewDecoder(bytes.NewReader([]byte("- name: p\n  topics: [t]\n  processors:\n    - " + step + "\n")))
	dec.KnownFields(true)
	err := dec.Decode(&cfgs)
	return cfgs, err
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
