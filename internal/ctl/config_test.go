package ctl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

const (
	validConfig   = `[{"path":"/var/log/nginx/access.log","topic":"web_log"}]`
	validConfig2  = `[{"path":"/var/log/app/*.log","topic":"app_log"}]`
	invalidConfig = `[{"path":"var/log/x.log","topic":"web_log"}]`
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		tasks   int
		wantErr string
	}{
		{name: "one task", data: validConfig, tasks: 1},
		{name: "empty list", data: `[]`, tasks: 0},
		{name: "relative path", data: invalidConfig, wantErr: `task 0 (path "var/log/x.log"): path: must be absolute`},
		{name: "unknown field", data: `[{"path":"/a.log","topic":"t","colour":"red"}]`, wantErr: "colour"},
		{name: "null", data: `null`, wantErr: "got null"},
		{name: "not json", data: `[{`, wantErr: "JSON"},
		{name: "duplicate path", data: `[{"path":"/a.log","topic":"t"},{"path":"/a.log","topic":"u"}]`, wantErr: "duplicate of task 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tasks, err := Validate([]byte(tt.data))
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Len(t, tasks, tt.tasks)
		})
	}
}

// register registers an agent with the agent's own Registrar, as a running
// logagent does, and waits until the key is there. stop stops it, as a
// logagent shutting down does.
func register(t *testing.T, cli *clientv3.Client, info collect.AgentInfo) (stop func()) {
	t.Helper()
	r := agent.NewRegistrar(cli, 5*time.Second, slog.New(slog.DiscardHandler))
	r.Update(info)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	require.Eventually(t, func() bool {
		resp, err := cli.Get(context.Background(), collect.RegistrationKey(info.IP))
		return err == nil && len(resp.Kvs) == 1
	}, 10*time.Second, 20*time.Millisecond)
	return stop
}

func put(t *testing.T, cli *clientv3.Client, key, value string) int64 {
	t.Helper()
	resp, err := cli.Put(context.Background(), key, value)
	require.NoError(t, err)
	return resp.Header.Revision
}

func TestConfigStore(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	s := NewConfigStore(cli, "", 5*time.Second)
	ctx := context.Background()

	t.Run("get missing key", func(t *testing.T) {
		c, err := s.Get(ctx, "10.0.0.1")
		require.NoError(t, err)
		require.Equal(t, CollectConfig{IP: "10.0.0.1", Key: "/logagent/10.0.0.1/collect_config"}, c)
	})

	t.Run("set then get", func(t *testing.T) {
		r, err := s.Set(ctx, "10.0.0.2", []byte(validConfig), -1)
		require.NoError(t, err)
		require.Equal(t, "/logagent/10.0.0.2/collect_config", r.Key)
		c, err := s.Get(ctx, "10.0.0.2")
		require.NoError(t, err)
		require.Equal(t, r.Revision, c.Revision)
		require.JSONEq(t, validConfig, string(c.Value))
	})

	t.Run("invalid config is not written", func(t *testing.T) {
		rev := put(t, cli, "/logagent/10.0.0.3/collect_config", validConfig)
		_, err := s.Set(ctx, "10.0.0.3", []byte(invalidConfig), -1)
		require.ErrorContains(t, err, "path: must be absolute")
		c, err := s.Get(ctx, "10.0.0.3")
		require.NoError(t, err)
		require.Equal(t, rev, c.Revision)
		require.JSONEq(t, validConfig, string(c.Value))
	})

	t.Run("compare and swap", func(t *testing.T) {
		key := "/logagent/10.0.0.4/collect_config"
		tests := []struct {
			name     string
			existing bool
			rev      func(current int64) int64
			conflict bool
		}{
			{name: "current revision", existing: true, rev: func(cur int64) int64 { return cur }},
			{name: "stale revision", existing: true, rev: func(cur int64) int64 { return cur - 1 }, conflict: true},
			{name: "0 on an existing key", existing: true, rev: func(int64) int64 { return 0 }, conflict: true},
			{name: "0 on a missing key", rev: func(int64) int64 { return 0 }},
			{name: "revision on a missing key", rev: func(int64) int64 { return 1 }, conflict: true},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := cli.Delete(ctx, key)
				require.NoError(t, err)
				cur := int64(0)
				if tt.existing {
					put(t, cli, key, validConfig)
					cur = put(t, cli, key, validConfig) // ModRevision > CreateRevision
				}
				_, err = s.Set(ctx, "10.0.0.4", []byte(validConfig2), tt.rev(cur))
				c, gerr := s.Get(ctx, "10.0.0.4")
				require.NoError(t, gerr)
				if !tt.conflict {
					require.NoError(t, err)
					require.JSONEq(t, validConfig2, string(c.Value))
					return
				}
				var ce *ConflictError
				require.ErrorAs(t, err, &ce)
				require.Equal(t, &ConflictError{Key: key, Expected: tt.rev(cur), Actual: cur}, ce)
				require.Contains(t, err.Error(), "changed by someone else")
				require.Equal(t, cur, c.Revision, "nothing written")
			})
		}
	})

	t.Run("concurrent writers: one wins", func(t *testing.T) {
		key := "/logagent/10.0.0.5/collect_config"
		rev := put(t, cli, key, validConfig)
		errs := make(chan error, 2)
		for _, v := range []string{validConfig2, `[]`} {
			go func() {
				_, err := s.Put(ctx, key, []byte(v), rev)
				errs <- err
			}()
		}
		e1, e2 := <-errs, <-errs
		require.True(t, (e1 == nil) != (e2 == nil), "exactly one write succeeds: %v, %v", e1, e2)
		var ce *ConflictError
		require.ErrorAs(t, cmpErr(e1, e2), &ce)
	})

	t.Run("hostname in the key template", func(t *testing.T) {
		register(t, cli, collect.AgentInfo{Hostname: "db-1", IP: "10.0.1.9", Version: "1.0.0", StartTime: time.Now()})
		hs := NewConfigStore(cli, "/logagent/{hostname}/{ip}/tasks", 5*time.Second)
		key, err := hs.Key(ctx, "10.0.1.9")
		require.NoError(t, err)
		require.Equal(t, "/logagent/db-1/10.0.1.9/tasks", key)
		_, err = hs.Key(ctx, "10.9.9.9")
		require.ErrorContains(t, err, "no agent registered under /logagent/agents/10.9.9.9")
	})
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func TestConfigStoreAll(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	s := NewConfigStore(cli, "", 5*time.Second)
	ctx := context.Background()

	_, err := s.SetAll(ctx, []byte(validConfig))
	require.ErrorContains(t, err, "no agent is registered")

	for _, ip := range []string{"10.0.0.8", "10.0.0.7"} {
		register(t, cli, collect.AgentInfo{Hostname: "web-" + ip[len(ip)-1:], IP: ip, Version: "1.0.0", StartTime: time.Now()})
	}
	put(t, cli, "/logagent/10.0.0.7/collect_config", validConfig)

	rs, err := s.SetAll(ctx, []byte(validConfig2))
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, []string{"10.0.0.7", "10.0.0.8"}, []string{rs[0].IP, rs[1].IP})
	cfgs, err := s.GetAll(ctx)
	require.NoError(t, err)
	require.Len(t, cfgs, 2)
	for i, c := range cfgs {
		require.JSONEq(t, validConfig2, string(c.Value), c.IP)
		require.Equal(t, rs[i].Revision, c.Revision)
	}

	_, err = s.SetAll(ctx, []byte(invalidConfig))
	require.ErrorContains(t, err, "invalid collect config")
	cfgs, err = s.GetAll(ctx)
	require.NoError(t, err)
	require.JSONEq(t, validConfig2, string(cfgs[0].Value), "nothing written")

	// Many hosts written at once, each adding the same new topic to
	// logtransfer's topics key: every host written, the topic added once,
	// the key's other topics kept.
	for i := range 60 {
		ip := fmt.Sprintf("10.0.1.%d", i)
		register(t, cli, collect.AgentInfo{Hostname: "many-" + ip, IP: ip, Version: "1.0.0", StartTime: time.Now()})
	}
	put(t, cli, "/logtransfer/topics", `["old"]`)
	s = NewConfigStore(cli, "", 5*time.Second).WithTopicsKey("/logtransfer/topics")
	const many = `[{"path":"/var/log/many.log","topic":"many"}]`
	rs, err = s.SetAll(ctx, []byte(many))
	require.NoError(t, err)
	require.Len(t, rs, 62)
	added := 0
	for _, r := range rs {
		require.NoError(t, r.Err, r.IP)
		added += len(r.TopicsAdded)
	}
	require.Equal(t, 1, added, "the topic added by one write")
	require.True(t, slices.IsSortedFunc(rs, func(a, b SetResult) int { return strings.Compare(a.IP, b.IP) }), "results in the agents' order")
	cfgs, err = s.GetAll(ctx)
	require.NoError(t, err)
	require.Len(t, cfgs, 62)
	for _, c := range cfgs {
		require.JSONEq(t, many, string(c.Value), c.IP)
	}
	resp, err := cli.Get(ctx, "/logtransfer/topics")
	require.NoError(t, err)
	require.JSONEq(t, `["old","many"]`, string(resp.Kvs[0].Value))
}

// editorScript writes a fake $EDITOR: a shell script run with the file to
// edit as its last argument. Its n-th run (from 1) copies step[n-1] into the
// file; "FAIL" makes it exit 1, "KEEP" leaves the file as it is.
func editorScript(t *testing.T, steps ...string) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("#!/bin/sh\nset -e\ndir=" + dir + "\nn=$(cat $dir/n 2>/dev/null || echo 0)\nn=$((n+1))\necho $n > $dir/n\n")
	for i, s := range steps {
		p := filepath.Join(dir, "step"+string(rune('1'+i)))
		require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
		switch s {
		case "FAIL":
			b.WriteString("[ $n = " + string(rune('1'+i)) + " ] && exit 1\n")
		case "KEEP":
		default:
			b.WriteString("[ $n = " + string(rune('1'+i)) + " ] && cp " + p + ` "$1"` + "\n")
		}
	}
	b.WriteString("exit 0\n")
	path := filepath.Join(dir, "editor.sh")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o755))
	return path
}

func TestEdit(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	s := NewConfigStore(cli, "", 5*time.Second)
	ctx := context.Background()
	const ip = "10.0.0.9"
	key := "/logagent/" + ip + "/collect_config"

	tests := []struct {
		name    string
		initial string // "" → no key
		steps   []string
		answers string
		want    string // the key's value after the edit
		wantErr string
		prompts int // "re-open the editor?" questions
	}{
		{name: "valid edit", initial: validConfig, steps: []string{validConfig2}, want: validConfig2},
		{name: "creates a missing key", steps: []string{validConfig}, want: validConfig},
		{name: "invalid, re-opened, fixed", initial: validConfig, steps: []string{invalidConfig, validConfig2}, answers: "y\n", want: validConfig2, prompts: 1},
		{name: "invalid twice, enter re-opens", initial: validConfig, steps: []string{invalidConfig, `[`, validConfig2}, answers: "\n\n", want: validConfig2, prompts: 2},
		{name: "invalid, aborted", initial: validConfig, steps: []string{invalidConfig}, answers: "n\n", want: validConfig, wantErr: "invalid collect config, nothing written", prompts: 1},
		{name: "invalid, end of input aborts", initial: validConfig, steps: []string{invalidConfig}, want: validConfig, wantErr: "path: must be absolute", prompts: 1},
		{name: "unchanged", initial: validConfig, steps: []string{"KEEP"}, want: validConfig, wantErr: ErrNoChange.Error()},
		{name: "editor fails", initial: validConfig, steps: []string{"FAIL"}, want: validConfig, wantErr: "failed, nothing written"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cli.Delete(ctx, key)
			require.NoError(t, err)
			if tt.initial != "" {
				put(t, cli, key, tt.initial)
			}
			var prompts strings.Builder
			_, err = s.Edit(ctx, ip, Editor{
				Command: editorScript(t, tt.steps...),
				Stdin:   strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
				Answers: bufio.NewReader(strings.NewReader(tt.answers)), Prompts: &prompts,
			})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tt.prompts, strings.Count(prompts.String(), "re-open the editor?"), prompts.String())
			if tt.prompts > 0 {
				require.Contains(t, prompts.String(), "path: must be absolute")
			}
			c, err := s.Get(ctx, ip)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(c.Value))
		})
	}

	t.Run("conflict while the editor is open", func(t *testing.T) {
		before := put(t, cli, key, validConfig)
		dir := t.TempDir()
		// The editor waits until the test has written the key behind its back.
		script := filepath.Join(dir, "editor.sh")
		require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\ntouch "+dir+"/opened\nwhile [ ! -e "+dir+"/go ]; do sleep 0.02; done\necho '"+validConfig2+"' > \"$1\"\n"), 0o755))
		done := make(chan error, 1)
		go func() {
			_, err := s.Edit(ctx, ip, Editor{Command: script, Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard,
				Answers: bufio.NewReader(strings.NewReader("")), Prompts: io.Discard})
			done <- err
		}()
		require.Eventually(t, func() bool { _, err := os.Stat(filepath.Join(dir, "opened")); return err == nil }, 10*time.Second, 10*time.Millisecond)
		other := put(t, cli, key, `[]`)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go"), nil, 0o644))
		err := <-done
		var ce *ConflictError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, &ConflictError{Key: key, Expected: before, Actual: other}, ce)
		require.Contains(t, err.Error(), "your edit is kept in ")
		kept := strings.TrimSuffix(err.Error()[strings.LastIndex(err.Error(), " ")+1:], ")")
		data, rerr := os.ReadFile(kept)
		require.NoError(t, rerr)
		require.JSONEq(t, validConfig2, string(data))
		require.NoError(t, os.Remove(kept))
		c, gerr := s.Get(ctx, ip)
		require.NoError(t, gerr)
		require.JSONEq(t, `[]`, string(c.Value), "the other operator's write stays")
	})
}

// TestConfigStoreAddsTopics: a collect config written with a topics key adds
// its new topics to logtransfer's list in the same transaction, keeps the
// topics already there, and writes nothing at all when the config is refused.
func TestConfigStoreAddsTopics(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	ctx := context.Background()
	const topicsKey = "/logtransfer/topics"
	s := NewConfigStore(cli, "", 5*time.Second).WithTopicsKey(topicsKey)
	tasks := func(topics ...string) []byte {
		var ts []string
		for i, tp := range topics {
			ts = append(ts, fmt.Sprintf(`{"path":"/var/log/f%d.log","topic":%q}`, i, tp))
		}
		return []byte("[" + strings.Join(ts, ",") + "]")
	}
	get := func(key string) (string, int64) {
		resp, err := cli.Get(ctx, key)
		require.NoError(t, err)
		if len(resp.Kvs) == 0 {
			return "", 0
		}
		return string(resp.Kvs[0].Value), resp.Kvs[0].ModRevision
	}

	tests := []struct {
		name       string
		topics     string // the topics key before; "" for none
		config     []byte
		rev        int64 // of the collect key; -1: the current one
		wantAdded  []string
		wantTopics string // the topics key after
		wantErr    string
	}{
		{name: "no topics key yet", config: tasks("web_log", "app_log", "web_log"), rev: -1,
			wantAdded: []string{"web_log", "app_log"}, wantTopics: `["web_log","app_log"]`},
		{name: "a new topic is appended, the others kept", topics: `["web_log","other"]`, config: tasks("web_log", "new_log"), rev: -1,
			wantAdded: []string{"new_log"}, wantTopics: `["web_log","other","new_log"]`},
		{name: "every topic listed: the key is not written", topics: `["web_log","app_log"]`, config: tasks("app_log"), rev: -1,
			wantTopics: `["web_log","app_log"]`},
		{name: "a removed task's topic stays", topics: `["gone"]`, config: tasks(), rev: -1, wantTopics: `["gone"]`},
		{name: "an invalid topics key: nothing written", topics: `web_log`, config: tasks("x_log"), rev: -1,
			wantTopics: `web_log`, wantErr: "logtransfer's topics key /logtransfer/topics is not a JSON list"},
		{name: "a conflict on the collect key: nothing written", topics: `["web_log"]`, config: tasks("x_log"), rev: 1,
			wantTopics: `["web_log"]`, wantErr: "changed by someone else"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip := fmt.Sprintf("10.0.1.%d", i)
			key := "/logagent/" + ip + "/collect_config"
			before := put(t, cli, key, validConfig)
			_, err := cli.Delete(ctx, topicsKey)
			require.NoError(t, err)
			if tt.topics != "" {
				put(t, cli, topicsKey, tt.topics)
			}
			_, topicsRev := get(topicsKey)
			r, err := s.Set(ctx, ip, tt.config, tt.rev)
			got, gotRev := get(topicsKey)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, tt.wantTopics, got)
				_, rev := get(key)
				require.Equal(t, before, rev, "the collect key is not written")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantAdded, r.TopicsAdded)
			require.JSONEq(t, tt.wantTopics, got)
			if len(tt.wantAdded) == 0 {
				require.Equal(t, topicsRev, gotRev, "the topics key is not written")
				require.Empty(t, r.TopicsKey)
			} else {
				require.Equal(t, r.Revision, gotRev, "one transaction")
				require.Equal(t, topicsKey, r.TopicsKey)
			}
			value, _ := get(key)
			require.JSONEq(t, string(tt.config), value)
		})
	}

	t.Run("no topics key: left alone", func(t *testing.T) {
		put(t, cli, topicsKey, `["web_log"]`)
		r, err := NewConfigStore(cli, "", 5*time.Second).Set(ctx, "10.0.2.1", tasks("other_log"), -1)
		require.NoError(t, err)
		require.Empty(t, r.TopicsAdded)
		got, _ := get(topicsKey)
		require.Equal(t, `["web_log"]`, got)
	})
}

// TestConfigStoreTopicsKeyPermission: an etcd user allowed the collect keys
// but not logtransfer's topics key gets an error that says what to grant, or
// to give --topics-key "", and nothing is written; with no topics key the
// write goes through.
func TestConfigStoreTopicsKeyPermission(t *testing.T) {
	const rootPW, opsPW = "root-pw-4f1c", "ops-pw-9a2e"
	e := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{RootPassword: rootPW})
	root := e.Client(t)
	ctx := context.Background()
	_, err := root.RoleAdd(ctx, "collect")
	require.NoError(t, err)
	_, err = root.RoleGrantPermission(ctx, "collect", "/logagent/", clientv3.GetPrefixRangeEnd("/logagent/"), clientv3.PermissionType(clientv3.PermReadWrite))
	require.NoError(t, err)
	_, err = root.UserAdd(ctx, "ops", opsPW)
	require.NoError(t, err)
	_, err = root.UserGrantRole(ctx, "ops", "collect")
	require.NoError(t, err)
	ops, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), Username: "ops", Password: opsPW, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	defer ops.Close()

	_, err = NewConfigStore(ops, "", 5*time.Second).WithTopicsKey(DefaultTopicsKey).Set(ctx, "10.0.0.1", []byte(validConfig), -1)
	require.ErrorContains(t, err, "permission denied")
	require.ErrorContains(t, err, `logctl also adds new topics to logtransfer's /logtransfer/topics; grant this etcd user read and write on it, or give --topics-key "" to leave it alone`)
	resp, err := root.Get(ctx, "/logagent/10.0.0.1/collect_config")
	require.NoError(t, err)
	require.Empty(t, resp.Kvs, "nothing written")

	r, err := NewConfigStore(ops, "", 5*time.Second).Set(ctx, "10.0.0.1", []byte(validConfig), -1)
	require.NoError(t, err)
	require.Empty(t, r.TopicsAdded)
}
