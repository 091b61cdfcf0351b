package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

const testCollectKey = "/logagent/10.0.0.1/collect_config"

// etcdLeakCheck registers a goroutine leak check that runs after every other
// cleanup (embedded etcd stopped, clients closed, Run returned), so it also
// checks that the embedded server and the clients stop everything. It
// ignores the goroutines that existed when the test started (other tests of
// the package).
func etcdLeakCheck(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// logBuffer collects log output for assertions, and shows it with -v.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if testing.Verbose() {
		os.Stderr.Write(p)
	}
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func etcdTestLog(t testing.TB) (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	var w io.Writer = b
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name()), b
}

type applyCall struct {
	tasks  []collect.Task
	source string
}

// topics summarizes a call as "source:path=topic,..." sorted by path.
func (c applyCall) String() string {
	parts := make([]string, len(c.tasks))
	for i, t := range c.tasks {
		parts[i] = filepath.Base(t.Path) + "=" + t.Topic
	}
	sort.Strings(parts)
	return c.source + ":" + strings.Join(parts, ",")
}

// sourceHarness runs an EtcdSource and records what it applies.
type sourceHarness struct {
	src      *EtcdSource
	m        *Metrics
	calls    chan applyCall
	applyErr atomic.Pointer[error] // returned by apply when set
	log      *logBuffer
}

func newSourceHarness(t *testing.T, cli *clientv3.Client, cacheFile string) *sourceHarness {
	log, buf := etcdTestLog(t)
	h := &sourceHarness{
		m:     NewMetrics(prometheus.NewRegistry()),
		calls: make(chan applyCall, 100),
		log:   buf,
	}
	h.src = NewEtcdSource(cli, EtcdSourceConfig{
		Key:            testCollectKey,
		CacheFile:      cacheFile,
		RetryInterval:  200 * time.Millisecond,
		RequestTimeout: 500 * time.Millisecond,
	}, log, h.m)
	return h
}

func (h *sourceHarness) apply(tasks []collect.Task, source string) error {
	if p := h.applyErr.Load(); p != nil {
		return *p
	}
	h.calls <- applyCall{tasks: tasks, source: source}
	return nil
}

// run starts Run; cleanup cancels it and checks it returned nil.
func (h *sourceHarness) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.src.Run(ctx, h.apply) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	})
}

func (h *sourceHarness) next(t *testing.T) applyCall {
	t.Helper()
	select {
	case c := <-h.calls:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no apply within 10s")
		return applyCall{}
	}
}

// none checks that nothing is applied for a while.
func (h *sourceHarness) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case c := <-h.calls:
		t.Fatalf("unexpected apply %s", c)
	case <-time.After(d):
	}
}

func (h *sourceHarness) reloads(result string) float64 {
	return testutil.ToFloat64(h.m.ConfigReloads.WithLabelValues(result))
}

func put(t *testing.T, cli *clientv3.Client, key, val string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Put(ctx, key, val)
	require.NoError(t, err)
	return resp.Header.Revision
}

func tasksJSON(pairs ...string) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"path":"/var/log/app/%s","topic":%q}`, pairs[i], pairs[i+1])
	}
	b.WriteString("]")
	return b.String()
}

func TestEtcdSourceFollowsChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("follows etcd changes")
	}
	etcdLeakCheck(t)
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	cache := filepath.Join(t.TempDir(), "data", "collect_config.json")
	initial := tasksJSON("a.log", "web")
	put(t, cli, testCollectKey, initial)

	h := newSourceHarness(t, cli, cache)
	h.run(t)
	require.Equal(t, "etcd:a.log=web", h.next(t).String())
	require.Equal(t, 1.0, testutil.ToFloat64(h.m.EtcdUp))
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(cache)
		return err == nil && string(b) == initial
	}, 5*time.Second, 10*time.Millisecond, "cache written")

	// Steps run in order against the same watch.
	steps := []struct {
		name     string
		value    string // put; "" deletes the key
		applyErr error  // apply fails
		want     string // applyCall.String(); "" = nothing applied
		wantErr  float64
		cached   bool // the cache holds value afterwards
	}{
		{name: "add a task", value: tasksJSON("a.log", "web", "b.log", "app"), want: "etcd:a.log=web,b.log=app", cached: true},
		{name: "remove a task", value: tasksJSON("b.log", "app"), want: "etcd:b.log=app", cached: true},
		{name: "change a topic", value: tasksJSON("b.log", "app2"), want: "etcd:b.log=app2", cached: true},
		{name: "invalid JSON", value: `[{"path":`, wantErr: 1},
		{name: "invalid task", value: `[{"path":"relative.log","topic":"x"}]`, wantErr: 1},
		{name: "null", value: `null`, wantErr: 1},
		{name: "same tasks, other formatting", value: ` [ {"topic":"app2", "path":"/var/log/app/b.log"} ] `},
		{name: "delete the key", value: ""},
		{name: "valid after invalid and delete", value: tasksJSON("c.log", "app3"), want: "etcd:c.log=app3", cached: true},
		{name: "apply fails", value: tasksJSON("d.log", "x"), applyErr: errors.New("boom"), wantErr: 1},
		{name: "same value again after a failed apply", value: tasksJSON("d.log", "x"), want: "etcd:d.log=x", cached: true},
		{name: "stop all tasks", value: `[]`, want: "etcd:", cached: true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.applyErr != nil {
				h.applyErr.Store(&st.applyErr)
				defer h.applyErr.Store(nil)
			}
			errBefore, okBefore := h.reloads("error"), h.reloads("ok")
			if st.value == "" {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := cli.Delete(ctx, testCollectKey)
				cancel()
				require.NoError(t, err)
			} else {
				put(t, cli, testCollectKey, st.value)
			}
			if st.want != "" {
				require.Equal(t, st.want, h.next(t).String())
				require.Eventually(t, func() bool { return h.reloads("ok") == okBefore+1 }, 5*time.Second, 10*time.Millisecond)
			} else {
				require.Eventually(t, func() bool { return h.reloads("error") == errBefore+st.wantErr }, 5*time.Second, 10*time.Millisecond)
				h.none(t, 300*time.Millisecond)
				require.Equal(t, okBefore, h.reloads("ok"))
			}
			require.Equal(t, errBefore+st.wantErr, h.reloads("error"))
			if st.cached {
				require.Eventually(t, func() bool {
					b, err := os.ReadFile(cache)
					return err == nil && string(b) == st.value
				}, 5*time.Second, 10*time.Millisecond, "cache holds the applied value")
			}
		})
	}
	logs := h.log.String()
	require.Contains(t, logs, "invalid collect config in etcd rejected")
	require.Contains(t, logs, "key="+testCollectKey)
	require.Contains(t, logs, "collect config key deleted in etcd")
	// No temp files left next to the cache.
	entries, err := os.ReadDir(filepath.Dir(cache))
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestEtcdSourceStartsWhileEtcdDown(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for etcd to come up")
	}
	tests := []struct {
		name      string
		cache     string // "" = no cache file
		wantFirst string // first apply while etcd is down; "" = none
		wantLog   string
	}{
		{name: "cache", cache: tasksJSON("old.log", "old"), wantFirst: "cache:old.log=old", wantLog: "using the cached collect config: etcd is unreachable"},
		{name: "no cache", wantLog: "no collect config: etcd is unreachable and there is no usable cache"},
		{name: "invalid cache", cache: `{"not":"an array"}`, wantLog: "cached collect config is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			etcdLeakCheck(t)
			e := testenv.StartEtcd(t)
			cli := e.Client(t)
			put(t, cli, testCollectKey, tasksJSON("new.log", "new"))
			e.Stop()

			cache := filepath.Join(t.TempDir(), "collect_config.json")
			if tt.cache != "" {
				require.NoError(t, os.WriteFile(cache, []byte(tt.cache), 0o600))
				old := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
				require.NoError(t, os.Chtimes(cache, old, old))
			}
			h := newSourceHarness(t, cli, cache)
			h.run(t)
			if tt.wantFirst != "" {
				require.Equal(t, tt.wantFirst, h.next(t).String())
				require.Contains(t, h.log.String(), "cached_at=2024-05-06T07:08:09Z")
			}
			h.none(t, time.Second) // several retries, nothing (more) applied
			require.Equal(t, 0.0, testutil.ToFloat64(h.m.EtcdUp))
			require.Contains(t, h.log.String(), tt.wantLog)

			require.NoError(t, e.Start())
			require.Equal(t, "etcd:new.log=new", h.next(t).String())
			require.Equal(t, 1.0, testutil.ToFloat64(h.m.EtcdUp))
			require.Eventually(t, func() bool {
				b, err := os.ReadFile(cache)
				return err == nil && string(b) == tasksJSON("new.log", "new")
			}, 5*time.Second, 10*time.Millisecond, "cache refreshed from etcd")

			// And it watches from there.
			put(t, cli, testCollectKey, tasksJSON("newer.log", "newer"))
			require.Equal(t, "etcd:newer.log=newer", h.next(t).String())
		})
	}
}

// Startup when etcd answers but has no usable value: the cache (what ran
// before) is used; without one nothing is applied until a valid put.
func TestEtcdSourceStartsWithoutUsableValue(t *testing.T) {
	tests := []struct {
		name      string
		value     string // "" = key missing
		cache     string
		wantFirst string
		wantErr   float64
	}{
		{name: "missing key, cache", cache: tasksJSON("old.log", "old"), wantFirst: "cache:old.log=old"},
		{name: "missing key, no cache"},
		{name: "invalid value, cache", value: `[{]`, cache: tasksJSON("old.log", "old"), wantFirst: "cache:old.log=old", wantErr: 1},
		{name: "invalid value, no cache", value: `[{]`, wantErr: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			etcdLeakCheck(t)
			e := testenv.StartEtcd(t)
			cli := e.Client(t)
			if tt.value != "" {
				put(t, cli, testCollectKey, tt.value)
			}
			cache := filepath.Join(t.TempDir(), "collect_config.json")
			if tt.cache != "" {
				require.NoError(t, os.WriteFile(cache, []byte(tt.cache), 0o600))
			}
			h := newSourceHarness(t, cli, cache)
			h.run(t)
			if tt.wantFirst != "" {
				require.Equal(t, tt.wantFirst, h.next(t).String())
			}
			h.none(t, 300*time.Millisecond)
			require.Equal(t, tt.wantErr, h.reloads("error"))
			require.Equal(t, 1.0, testutil.ToFloat64(h.m.EtcdUp))
			if tt.value == "" && tt.cache == "" {
				require.Contains(t, h.log.String(), "collect config key not found in etcd; running no tasks")
			}
			if tt.value == "" && tt.cache != "" {
				require.Contains(t, h.log.String(), "using the cached collect config: the key is missing in etcd")
			}

			put(t, cli, testCollectKey, tasksJSON("new.log", "new"))
			require.Equal(t, "etcd:new.log=new", h.next(t).String())
		})
	}
}

func TestEtcdSourceSurvivesEtcdRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restarts etcd")
	}
	etcdLeakCheck(t)
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	put(t, cli, testCollectKey, tasksJSON("a.log", "a"))
	h := newSourceHarness(t, cli, filepath.Join(t.TempDir(), "collect_config.json"))
	h.run(t)
	require.Equal(t, "etcd:a.log=a", h.next(t).String())

	e.Stop()
	// The probe (every 5 × RetryInterval) notices the outage.
	require.Eventually(t, func() bool { return testutil.ToFloat64(h.m.EtcdUp) == 0 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, e.Start())
	put(t, cli, testCollectKey, tasksJSON("b.log", "b"))
	require.Equal(t, "etcd:b.log=b", h.next(t).String())
	require.Eventually(t, func() bool { return testutil.ToFloat64(h.m.EtcdUp) == 1 }, 10*time.Second, 20*time.Millisecond)

	// Restart again, with a change made while the source is not looking
	// (another client writes right after the restart).
	e.Stop()
	require.NoError(t, e.Start())
	put(t, cli, testCollectKey, tasksJSON("c.log", "c"))
	require.Equal(t, "etcd:c.log=c", h.next(t).String())
	h.none(t, 300*time.Millisecond)
	require.Equal(t, 0.0, h.reloads("error"))
}

// A watch from a compacted revision fails with ErrCompacted; the source
// reads the key again and watches from the new revision. Forced
// deterministically by giving watchLoop a revision older than a compaction.
func TestEtcdSourceRelistsAfterCompaction(t *testing.T) {
	etcdLeakCheck(t)
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	put(t, cli, testCollectKey, tasksJSON("a.log", "a"))
	h := newSourceHarness(t, cli, filepath.Join(t.TempDir(), "collect_config.json"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rev, err := h.src.snapshot(ctx, h.apply)
	require.NoError(t, err)
	require.Equal(t, "etcd:a.log=a", h.next(t).String())

	put(t, cli, testCollectKey, tasksJSON("b.log", "b"))
	put(t, cli, testCollectKey, `[{"broken`)
	last := put(t, cli, testCollectKey, tasksJSON("c.log", "c"))
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	_, err = cli.Compact(cctx, last, clientv3.WithCompactPhysical())
	ccancel()
	require.NoError(t, err)

	done := make(chan struct{})
	go func() {
		defer close(done)
		h.src.watchLoop(ctx, rev, h.apply)
	}()
	defer func() {
		cancel()
		<-done
	}()
	// The intermediate revisions are gone: the re-list sees the latest.
	require.Equal(t, "etcd:c.log=c", h.next(t).String())
	require.Contains(t, h.log.String(), "watch revision compacted")
	require.Equal(t, 0.0, h.reloads("error"), "the compacted broken revision is never seen")
	put(t, cli, testCollectKey, tasksJSON("d.log", "d"))
	require.Equal(t, "etcd:d.log=d", h.next(t).String())
	h.none(t, 200*time.Millisecond)
}
