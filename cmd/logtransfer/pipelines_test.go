package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/transfer/transfertest"
)

// withPipelines appends a pipelines: section to the config file at path.
func withPipelines(t *testing.T, path, pipelines string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("pipelines:\n" + pipelines)
	require.NoError(t, err)
}

// versionPipeline is a pipeline setting version: v on topic.
func versionPipeline(topic string, v int) string {
	return fmt.Sprintf("  - name: %s\n    topics: [%s]\n    processors:\n      - set: {fields: {version: %d}}\n", topic, topic, v)
}

// docVersions returns the version field of each document, by log.offset.
func docVersions(t *testing.T, es *transfertest.ES) map[int]int {
	t.Helper()
	out := map[int]int{}
	for key, body := range es.Docs() {
		var d struct {
			Version int `json:"version"`
			Log     struct {
				Offset int `json:"offset"`
			} `json:"log"`
		}
		require.NoError(t, json.Unmarshal(body, &d), key)
		out[d.Log.Offset] = d.Version
	}
	return out
}

// SIGHUP reloads the pipelines of the config file, and only them: the
// next records get the new pipeline, a change to another key is logged as
// waiting for a restart, and a file whose pipelines do not compile (or
// that is not YAML) is refused, logged naming the pipeline and the
// processor, and counted, while the running pipelines stay.
func TestBinarySIGHUPReload(t *testing.T) {
	brokers := startKfake(t, 2)
	es := transfertest.NewES(t)
	config, metricsAddr := writeConfig(t, brokers, es.URL(), "web")
	base, err := os.ReadFile(config)
	require.NoError(t, err)
	withPipelines(t, config, versionPipeline("web", 1))
	p := startProc(t, config, metricsAddr)

	step := 0
	// produceAndCheck produces 100 records and waits until they are
	// indexed with version want.
	produceAndCheck := func(want int) {
		t.Helper()
		from := step * 100
		step++
		produce(t, brokers, "web", from, from+100)
		require.Eventually(t, func() bool { return es.Count() == from+100 }, 20*time.Second, 20*time.Millisecond)
		v := docVersions(t, es)
		for i := from; i < from+100; i++ {
			require.Equal(t, want, v[i*100], "record %d", i)
		}
	}
	hangup := func(wantLog string) {
		t.Helper()
		before := strings.Count(p.Log(), wantLog)
		require.NoError(t, p.Cmd.Process.Signal(syscall.SIGHUP))
		require.Eventually(t, func() bool { return strings.Count(p.Log(), wantLog) > before }, 10*time.Second, 20*time.Millisecond,
			"log line %q after SIGHUP", wantLog)
	}
	reloads := func(result string) string {
		return fmt.Sprintf(`logtransfer_pipeline_reloads_total{result=%q,source="file"}`, result)
	}
	produceAndCheck(1)

	// The pipeline changes, and so does bulk.actions: the pipeline applies,
	// bulk.actions waits for a restart.
	require.NoError(t, os.WriteFile(config, []byte(strings.Replace(string(base), "actions: 2000", "actions: 1000", 1)+
		"pipelines:\n"+versionPipeline("web", 2)), 0o644))
	hangup("pipelines reloaded from the config file")
	require.Contains(t, p.Log(), `keys other than pipelines changed in the config file; they apply at the next restart" keys=[bulk.actions]`)
	require.Contains(t, p.body("/metrics"), reloads("ok")+" 1")
	produceAndCheck(2)

	// Pipelines that do not compile: refused, the error names the pipeline
	// and the processor.
	require.NoError(t, os.WriteFile(config, append(append([]byte{}, base...),
		"pipelines:\n  - name: web\n    topics: [web]\n    processors:\n      - rename: {fields: {}}\n"...), 0o644))
	hangup("SIGHUP: pipelines not reloaded; the running ones stay")
	require.Contains(t, p.Log(), "pipeline web: processors[0] (rename): fields: at least one from: to pair is required")
	// A file that is not YAML: refused too.
	require.NoError(t, os.WriteFile(config, []byte("pipelines: [\n"), 0o644))
	hangup("SIGHUP: pipelines not reloaded; the running ones stay")
	require.Contains(t, p.body("/metrics"), reloads("error")+" 2")
	produceAndCheck(2)

	// No pipelines in the file: none run.
	require.NoError(t, os.WriteFile(config, base, 0o644))
	hangup("pipelines reloaded from the config file")
	produceAndCheck(0)
	p.stop()
}

// kill -9 the binary repeatedly while it runs records through a pipeline
// that drops some and reshapes the others: afterwards the index holds every
// record the pipeline keeps exactly once, none that it drops, and the
// group's offsets are committed to the end (dropped records included).
func TestBinaryKill9Pipelines(t *testing.T) {
	n := 60000
	if testing.Short() {
		n = 20000
	}
	brokers := startKfake(t, 4)
	es := transfertest.NewES(t)
	config, metricsAddr := writeConfig(t, brokers, es.URL(), "piped")
	// Record i has log.offset i*100: one record in 10 is dropped.
	withPipelines(t, config, `  - name: piped
    topics: [piped]
    processors:
      - drop: {if: 'log.offset % 1000 == 0'}
      - set: {fields: {event.dataset: app}}
      - rename: {fields: {host.name: host.hostname}}
`)
	produce(t, brokers, "piped", 0, n)
	kept := n - n/10
	start := time.Now()
	kills := 0
	for kills < 4 {
		p := startProc(t, config, metricsAddr)
		before := es.Count()
		require.Eventually(t, func() bool { return es.Count() > before+kept/10 || es.Count() == kept }, 30*time.Second, 5*time.Millisecond)
		if es.Count() == kept {
			break
		}
		p.kill9()
		kills++
	}
	p := startProc(t, config, metricsAddr)
	require.Eventually(t, func() bool { return es.Count() == kept }, 60*time.Second, 20*time.Millisecond)
	requireAllCommitted(t, brokers, "logtransfer", "piped")
	p.stop()
	require.Equal(t, kept, es.Count(), "every kept record exactly once by id")
	t.Logf("%d records (%d kept), %d kill -9, %d index writes, %s", n, kept, kills, es.Writes(), time.Since(start))
	require.GreaterOrEqual(t, kills, 2)

	for key, body := range es.Docs() {
		var d struct {
			Event struct{ Dataset string }  `json:"event"`
			Host  struct{ Hostname string } `json:"host"`
			Log   struct{ Offset int }      `json:"log"`
			Kafka struct {
				Partition int
				Offset    int
			} `json:"kafka"`
		}
		require.NoError(t, json.Unmarshal(body, &d), key)
		require.NotZero(t, d.Log.Offset%1000, "a dropped record was indexed: %s", key)
		require.Equal(t, "app", d.Event.Dataset, key)
		require.Equal(t, "web-1", d.Host.Hostname, key)
		require.True(t, strings.HasSuffix(key, fmt.Sprintf("/piped-%d-%d", d.Kafka.Partition, d.Kafka.Offset)), key)
	}
}
