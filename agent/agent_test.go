package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/kafkaclient"
	"github.com/logcollect/logcollect/internal/testenv"
)

// testLog shows agent logs only with -v.
func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newFakeKafka(t testing.TB) []string {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func testConfig(t testing.TB, brokers []string, dataDir string) Config {
	cfg := Config{
		Kafka:   kafkaBrokers(brokers...),
		Host:    HostConfig{Name: "test-host", IP: "127.0.0.1"},
		DataDir: dataDir,
		// The tasks of the tests are applied as remote ones (source
		// "test"): their files, in t.TempDir(), must be allowed.
		Files: FilesConfig{ScanFrequency: Duration(100 * time.Millisecond), AllowedPaths: []string{filepath.Join(os.TempDir(), "**")}},
	}
	cfg.Kafka.Linger = Duration(time.Millisecond)
	require.NoError(t, cfg.Validate())
	return cfg
}

// runningAgent is an agent running in the background of a test.
type runningAgent struct {
	*Agent
	m      *Metrics
	cancel context.CancelFunc
	done   chan error
}

// startAgent runs an agent with tasks; a nil prod means a real client for
// cfg.Kafka.
func startAgent(t testing.TB, cfg Config, prod Producer, tasks ...collect.Task) *runningAgent {
	t.Helper()
	return startAgentLog(t, cfg, prod, testLog(t), tasks...)
}

// startAgentLog is startAgent with the agent's logger.
func startAgentLog(t testing.TB, cfg Config, prod Producer, log *slog.Logger, tasks ...collect.Task) *runningAgent {
	t.Helper()
	return startAgentFrom(t, cfg, prod, log, "test", tasks...)
}

// startAgentFrom is startAgentLog with the tasks' source: "file" for
// trusted tasks of the config file, anything else for remote ones.
func startAgentFrom(t testing.TB, cfg Config, prod Producer, log *slog.Logger, source string, tasks ...collect.Task) *runningAgent {
	t.Helper()
	if prod == nil {
		cl, err := kafkaclient.NewProducer(cfg.Kafka.ProducerConfig, log)
		require.NoError(t, err)
		t.Cleanup(cl.Close)
		prod = cl
	}
	a, err := New(cfg, prod, log, prometheus.NewRegistry())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ra := &runningAgent{Agent: a, m: a.Metrics(), cancel: cancel, done: make(chan error, 1)}
	go func() { ra.done <- a.Run(ctx) }()
	tasks, err = collect.ValidateTasks(tasks)
	require.NoError(t, err)
	require.NoError(t, a.Apply(tasks, source))
	t.Cleanup(func() { ra.stop(t) })
	return ra
}

func (ra *runningAgent) stop(t testing.TB) {
	ra.cancel()
	select {
	case err, ok := <-ra.done:
		if ok {
			require.NoError(t, err)
			close(ra.done)
		}
	case <-time.After(time.Minute):
		t.Fatal("agent did not stop")
	}
}

func newClient(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ProducerLinger(time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

type consumed struct {
	Key, Message, Path string
	Offset             int64
	Flags              []string
}

// consumeN returns the records of topic once it holds n (see testenv.ReadTopic: read to
// the end, so that duplicates are seen too), or what it holds after timeout.
func consumeN(t testing.TB, brokers []string, topic string, n int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	return testenv.ReadTopic(t, brokers, topic, n, timeout)
}

// messages decodes the JSON records and groups their messages by file.
func messagesByFile(t testing.TB, recs []*kgo.Record) map[string][]string {
	t.Helper()
	out := make(map[string][]string)
	for _, r := range recs {
		var doc struct {
			Message string
			Log     struct{ File struct{ Path string } }
		}
		require.NoError(t, json.Unmarshal(r.Value, &doc))
		out[doc.Log.File.Path] = append(out[doc.Log.File.Path], doc.Message)
	}
	return out
}

func appendLines(t testing.TB, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "line %d of %s\n", i, filepath.Base(path))
	}
	_, err = f.WriteString(b.String())
	require.NoError(t, err)
}

func wantLines(path string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, "line "+strconv.Itoa(i)+" of "+filepath.Base(path))
	}
	return out
}

func TestShipsEveryLineOncePerFileInOrder(t *testing.T) {
	brokers := newFakeKafka(t)
	dir := t.TempDir()
	files := []string{filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), filepath.Join(dir, "c.log")}
	for _, f := range files {
		appendLines(t, f, 0, 100) // present before the first start: skipped with start_position end
	}
	cfg := testConfig(t, brokers, t.TempDir())
	startAgent(t, cfg, nil, collect.Task{Path: filepath.Join(dir, "*.log"), Topic: "web"})
	time.Sleep(300 * time.Millisecond) // first scan positions at the end

	var wg sync.WaitGroup
	for _, f := range files {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 100; i < 1100; i += 100 {
				appendLines(t, f, i, i+100)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	recs := consumeN(t, brokers, "web", 3000, 30*time.Second)
	require.Len(t, recs, 3000)
	byFile := messagesByFile(t, recs)
	keys := make(map[string]map[string]bool)
	for _, r := range recs {
		var doc struct {
			Log struct{ File struct{ Path string } }
		}
		require.NoError(t, json.Unmarshal(r.Value, &doc))
		if keys[doc.Log.File.Path] == nil {
			keys[doc.Log.File.Path] = map[string]bool{}
		}
		keys[doc.Log.File.Path][string(r.Key)+"/"+strconv.Itoa(int(r.Partition))] = true
	}
	for _, f := range files {
		require.Equal(t, wantLines(f, 100, 1100), byFile[f], "file %s: every line once, in order", f)
		require.Len(t, keys[f], 1, "one key and one partition per file")
	}
}

func TestRestartResumesAtCommittedOffset(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts the agent")
	}
	brokers := newFakeKafka(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendLines(t, path, 0, 500)
	cfg := testConfig(t, brokers, t.TempDir())
	task := collect.Task{Path: path, Topic: "app", StartPosition: "beginning"}

	ra := startAgent(t, cfg, nil, task)
	require.Len(t, consumeN(t, brokers, "app", 500, 20*time.Second), 500)
	ra.stop(t)

	appendLines(t, path, 500, 1000) // written while the agent is down
	startAgent(t, cfg, nil, task)
	appendLines(t, path, 1000, 1200)
	recs := consumeN(t, brokers, "app", 1200, 20*time.Second)
	require.Equal(t, wantLines(path, 0, 1200), messagesByFile(t, recs)[path])
	require.Len(t, recs, 1200, "no duplicates after a clean restart")
}

func TestPartialLineWaitsForItsNewline(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a partial line")
	}
	brokers := newFakeKafka(t)
	path := filepath.Join(t.TempDir(), "app.log")
	require.NoError(t, os.WriteFile(path, nil, 0o644))
	startAgent(t, testConfig(t, brokers, t.TempDir()), nil, collect.Task{Path: path, Topic: "p"})
	time.Sleep(300 * time.Millisecond)

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteString("first\nsec")
	require.NoError(t, err)
	require.Len(t, consumeN(t, brokers, "p", 1, 10*time.Second), 1, "the first line is shipped")
	recs := consumeN(t, brokers, "p", 2, 2*time.Second)
	require.Len(t, recs, 1, "the unterminated line is not shipped")
	_, err = f.WriteString("ond\n")
	require.NoError(t, err)
	recs = consumeN(t, brokers, "p", 2, 10*time.Second)
	require.Equal(t, []string{"first", "second"}, messagesByFile(t, recs)[path])
}

// TestRotation writes continuously while rotating. With a glob that only
// matches the live name, a rotated file must have been found before it is
// renamed again (rotation slower than scan_frequency); with a glob that also
// matches rotated names, any pace works, without duplicates.
func TestRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("rotates files for seconds")
	}
	tests := []struct {
		name  string
		mode  string
		glob  string
		pause time.Duration
	}{
		{name: "rename", mode: "rename", glob: "app.log", pause: 150 * time.Millisecond},
		{name: "rename fast, rotated names matched", mode: "rename", glob: "app.log*"},
		// copytruncate loses by itself what is written between copy and
		// truncate, and what the agent had not read yet: the rotation
		// waits until the agent has read every line written so far, and
		// no read pass has started for a while (a pass that looked at the
		// file before the truncation reads the new lines from the old
		// offset: copytruncate's own race, which no tailer closes).
		{name: "copytruncate", mode: "copytruncate", glob: "app.log"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			brokers := newFakeKafka(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			require.NoError(t, os.WriteFile(path, nil, 0o644))
			task := collect.Task{Path: filepath.Join(dir, tt.glob), Topic: "rot"}
			ra := startAgent(t, testConfig(t, brokers, t.TempDir()), nil, task)
			linesRead := ra.m.LinesRead.WithLabelValues(task.Path, task.Topic)
			time.Sleep(300 * time.Millisecond)

			const total, every = 20000, 2000
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
			require.NoError(t, err)
			for i := 0; i < total; i++ {
				fmt.Fprintf(f, "line %d of app.log\n", i)
				if i%every != every-1 {
					continue
				}
				time.Sleep(tt.pause)
				rotated := fmt.Sprintf("%s.%d", path, i/every)
				switch tt.mode {
				case "rename":
					require.NoError(t, os.Rename(path, rotated))
					require.NoError(t, f.Close())
					f, err = os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
					require.NoError(t, err)
				case "copytruncate":
					require.Eventually(t, func() bool { return testutil.ToFloat64(linesRead) == float64(i+1) }, 10*time.Second, time.Millisecond)
					waitNoReadPass(t, 50*time.Millisecond)
					data, err := os.ReadFile(path)
					require.NoError(t, err)
					require.NoError(t, os.WriteFile(rotated, data, 0o644))
					require.NoError(t, f.Truncate(0))
				}
			}
			require.NoError(t, f.Close())
			recs := consumeN(t, brokers, "rot", total, 30*time.Second)
			got := map[string]int{}
			for _, msgs := range messagesByFile(t, recs) {
				for _, m := range msgs {
					got[m]++
				}
			}
			var lost []int
			for i := 0; i < total; i++ {
				if got[fmt.Sprintf("line %d of app.log", i)] == 0 {
					lost = append(lost, i)
				}
			}
			require.Empty(t, lost, "%d lines lost of %d; %d records", len(lost), total, len(recs))
			require.Len(t, recs, total, "no duplicates")
		})
	}
}

// waitNoReadPass waits until no read pass has started for quiet.
func waitNoReadPass(t *testing.T, quiet time.Duration) {
	t.Helper()
	passes, since := readPassCount.Load(), time.Now()
	require.Eventually(t, func() bool {
		if n := readPassCount.Load(); n != passes {
			passes, since = n, time.Now()
		}
		return time.Since(since) >= quiet
	}, 10*time.Second, time.Millisecond)
}
