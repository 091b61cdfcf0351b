package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

// policyDirs makes root/log (the allowed root, returned as logs) and
// root/secret/shadow holding a secret line, with root's symlinks resolved.
func policyDirs(t *testing.T) (logs, secret string) {
	root, err := filepath.EvalSymlinks(t.TempDir())
	require.NoError(t, err)
	logs = filepath.Join(root, "log")
	require.NoError(t, os.MkdirAll(filepath.Join(logs, "sub"), 0o755))
	require.NoError(t, os.Mkdir(filepath.Join(root, "secret"), 0o755))
	secret = filepath.Join(root, "secret", "shadow")
	require.NoError(t, os.WriteFile(secret, []byte("root:SECRET:19000::::::\n"), 0o600))
	return logs, secret
}

// policyConfig is fakeConfig with files.allowed_paths [logs/**].
func policyConfig(t *testing.T, logs string) Config {
	cfg := fakeConfig(t)
	cfg.Files.AllowedPaths = []string{filepath.Join(logs, "**")}
	require.NoError(t, cfg.Validate())
	return cfg
}

func requireNoSecret(t *testing.T, msgs []string) {
	t.Helper()
	for _, m := range msgs {
		require.NotContains(t, m, "SECRET", "a file outside files.allowed_paths was shipped")
	}
}

// The files of a task from etcd are opened only when, with every symlink
// resolved, they are inside files.allowed_paths: a symlink in the log
// directory pointing to a secret, or a symlinked directory, is skipped with
// one log line and one count; a symlink that stays inside is read.
func TestRemoteTaskFilesOnlyInsideAllowedPaths(t *testing.T) {
	logs, secret := policyDirs(t)
	good := filepath.Join(logs, "good.log")
	appendLines(t, good, 0, 5)
	inner := filepath.Join(logs, "sub", "inner.log")
	appendLines(t, inner, 0, 5)
	require.NoError(t, os.Symlink(inner, filepath.Join(logs, "link-in.log")))
	require.NoError(t, os.Symlink(secret, filepath.Join(logs, "link-out.log")))
	require.NoError(t, os.Symlink(filepath.Dir(secret), filepath.Join(logs, "dirlink")))

	log, logBuf := etcdTestLog(t)
	fp := &fakeProducer{}
	cfg := policyConfig(t, logs)
	byGlob := filepath.Join(logs, "*.log")
	throughDir := filepath.Join(logs, "dirlink", "*")
	ra := startAgentLog(t, cfg, fp, log, // source "test": remote, restricted
		collect.Task{Path: byGlob, Topic: "t", StartPosition: "beginning"},
		collect.Task{Path: throughDir, Topic: "t", StartPosition: "beginning"})
	got := fp.waitFor(t, 10)
	require.ElementsMatch(t, append(wantLines(good, 0, 5), wantLines(inner, 0, 5)...), got, "good.log and the link staying inside")

	require.Eventually(t, func() bool {
		return testutil.ToFloat64(ra.m.FileErrors.WithLabelValues(byGlob, "t")) == 1 &&
			testutil.ToFloat64(ra.m.FileErrors.WithLabelValues(throughDir, "t")) == 1
	}, 10*time.Second, 10*time.Millisecond, "link-out.log and dirlink/shadow counted once each")
	time.Sleep(3 * cfg.Files.ScanFrequency.D()) // more scans: still nothing from the secret
	requireNoSecret(t, fp.messages())
	out := logBuf.String()
	for task, p := range map[string]string{byGlob: filepath.Join(logs, "link-out.log"), throughDir: filepath.Join(logs, "dirlink", "shadow")} {
		line := `msg="file outside files.allowed_paths, skipped" test=` + t.Name() + " task=" + task + " topic=t path=" + p +
			` err="resolves to \"` + secret + `\", outside files.allowed_paths [\"` + logs + `/**\"]"`
		require.Equal(t, 1, strings.Count(out, line), "once in the log: %s\n%s", line, out)
	}
}

// A task of the config file is not restricted: the operator wrote it on the
// host. The same symlink is read.
func TestConfigFileTasksAreNotRestricted(t *testing.T) {
	logs, secret := policyDirs(t)
	require.NoError(t, os.Symlink(secret, filepath.Join(logs, "link-out.log")))
	fp := &fakeProducer{}
	startAgentFrom(t, policyConfig(t, logs), fp, testLog(t), "file",
		collect.Task{Path: filepath.Join(logs, "*.log"), Topic: "t", StartPosition: "beginning"})
	require.Equal(t, []string{"root:SECRET:19000::::::"}, fp.waitFor(t, 1))
}

// A collect config from etcd naming a file or a topic the host does not
// allow is refused as a whole, like an invalid one: the running tasks keep
// running, logagent_config_reloads_total{result="error"} counts it and the
// log line names the task and the rule. It is not cached, and a cached
// config the policy no longer allows is not applied at the next start.
func TestEtcdConfigOutsidePolicyKeepsRunningTasks(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	logs, secret := policyDirs(t)
	good := filepath.Join(logs, "good.log")
	appendLines(t, good, 0, 5)
	cfg := policyConfig(t, logs)
	cfg.Kafka.AllowedTopics = []string{"web_*"}
	log, logBuf := etcdTestLog(t)
	fp := &fakeProducer{}
	ra := startAgentLog(t, cfg, fp, log)
	cache := filepath.Join(t.TempDir(), "collect_config.json")
	stop := runAgentSource(t, cli, ra, cache, log)

	valid := `[{"path":"` + good + `","topic":"web_log","start_position":"beginning"}]`
	put(t, cli, testCollectKey, valid)
	require.Equal(t, wantLines(good, 0, 5), fp.waitFor(t, 5))
	reloads := func(r string) float64 { return testutil.ToFloat64(ra.m.ConfigReloads.WithLabelValues(r)) }
	require.Equal(t, 1.0, reloads("ok"))

	rule := `files.allowed_paths [\"` + logs + `/**\"]`
	for i, tt := range []struct {
		name, value, wantLog string
	}{
		{
			name:    "a secret next to the running task",
			value:   `[{"path":"` + good + `","topic":"web_log"},{"path":"` + secret + `","topic":"web_log","start_position":"beginning"}]`,
			wantLog: `refused by this host's policy: task 1 (path \"` + secret + `\"): path is outside ` + rule,
		},
		{
			name:    "a symlinked directory",
			value:   `[{"path":"` + filepath.Join(logs, "dirlink", "*") + `","topic":"web_log"}]`,
			wantLog: `task 0 (path \"` + filepath.Join(logs, "dirlink", "*") + `\"): path resolves to \"` + filepath.Join(filepath.Dir(secret), "*") + `\", outside ` + rule,
		},
		{
			name:    "dot-dot",
			value:   `[{"path":"` + logs + `/../secret/shadow","topic":"web_log"}]`,
			wantLog: `path: must not contain \"..\" under ` + rule,
		},
		{
			name:    "a topic outside",
			value:   `[{"path":"` + good + `","topic":"secrets"}]`,
			wantLog: `task 0 (path \"` + good + `\"): topic \"secrets\" is outside kafka.allowed_topics [\"web_*\"]`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if i == 1 {
				require.NoError(t, os.Symlink(filepath.Dir(secret), filepath.Join(logs, "dirlink")))
			}
			put(t, cli, testCollectKey, tt.value)
			require.Eventually(t, func() bool { return reloads("error") == float64(i+1) }, 10*time.Second, 10*time.Millisecond)
			// The counter moves before the line is logged: wait for the line too.
			require.Eventually(t, func() bool {
				l := logBuf.String()
				return strings.Contains(l, `msg="invalid collect config in etcd rejected; keeping the running tasks"`) && strings.Contains(l, tt.wantLog)
			}, 10*time.Second, 10*time.Millisecond, "the log names what was refused: %s", tt.wantLog)
			// The task of the last good config still runs.
			appendLines(t, good, 5*(i+1), 5*(i+2))
			require.Equal(t, wantLines(good, 0, 5*(i+2)), fp.waitFor(t, 5*(i+2)))
			require.Equal(t, 1.0, testutil.ToFloat64(ra.m.Tasks))
			require.Equal(t, 1.0, reloads("ok"))
			cached, err := os.ReadFile(cache)
			require.NoError(t, err)
			require.Equal(t, valid, string(cached), "only a config the host allows is cached")
		})
	}
	requireNoSecret(t, fp.messages())

	// The policy tightened since the cache was written, etcd down: the
	// cache is not applied.
	stop()
	e.Stop()
	tight := policyConfig(t, filepath.Join(logs, "sub"))
	strict := startAgentLog(t, tight, &fakeProducer{}, log)
	stop = runAgentSource(t, cli, strict, cache, log)
	require.Eventually(t, func() bool {
		return strings.Contains(logBuf.String(), `msg="cached collect config is invalid; ignoring it"`)
	}, 10*time.Second, 10*time.Millisecond)
	require.Contains(t, logBuf.String(), `refused by this host's policy: task 0 (path \"`+good+`\"): path is outside files.allowed_paths`)
	require.Equal(t, 0.0, testutil.ToFloat64(strict.m.Tasks))
	stop()
}

// runAgentSource runs an EtcdSource of testCollectKey with ra's policy,
// applying to ra, until stop (also called at cleanup).
func runAgentSource(t *testing.T, cli *clientv3.Client, ra *runningAgent, cache string, log *slog.Logger) (stop func()) {
	src := NewEtcdSource(cli, EtcdSourceConfig{
		Key: testCollectKey, CacheFile: cache, Policy: ra.Policy(),
		RetryInterval: 200 * time.Millisecond, RequestTimeout: 2 * time.Second,
	}, log, ra.m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, ra.Apply) }()
	stop = sync.OnceFunc(func() {
		cancel()
		require.NoError(t, <-done)
	})
	t.Cleanup(stop)
	return stop
}
