package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

// exec runs logctl with args and returns its exit status and output. Its
// stdin is a file holding stdin, as a terminal it is a file: exec.Cmd hands
// it to the editor as it is instead of copying it into a pipe.
func exec(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	in, err := os.Open(writeFile(t, "stdin", stdin))
	require.NoError(t, err)
	defer in.Close()
	var out, errOut bytes.Buffer
	code = logctl(args, in, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o755))
	return p
}

// registerAgent registers an agent as a running logagent does, with the
// agent's Registrar; it is deregistered at the end of the test.
func registerAgent(t *testing.T, cli *clientv3.Client, info collect.AgentInfo) {
	t.Helper()
	r := agent.NewRegistrar(cli, 5*time.Second, discardLog())
	r.Update(info)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool {
		resp, err := cli.Get(context.Background(), collect.RegistrationKey(info.IP))
		return err == nil && len(resp.Kvs) == 1
	}, 10*time.Second, 20*time.Millisecond)
}

const (
	good  = `[{"path":"/var/log/nginx/access.log","topic":"web_log"}]`
	good2 = `[{"path":"/var/log/app/*.log","topic":"app_log","fields":{"env":"prod"}}]`
	bad   = `[{"path":"/var/log/x.log","topic":"web log"}]`
)

func TestConfigCommands(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	t.Setenv("LOGCTL_ETCD", e.Endpoints()[0])
	goodFile, good2File, badFile := writeFile(t, "good.json", good), writeFile(t, "good2.json", good2), writeFile(t, "bad.json", bad)
	key := "/logagent/10.0.0.7/collect_config"

	type step struct {
		name    string
		stdin   string
		args    []string
		code    int
		stdout  string // regexp
		stderr  string // regexp
		want    string // the key's value after the step, "" to skip
		setup   func(t *testing.T)
		wantErr bool
	}
	steps := []step{
		{name: "validate ok", args: []string{"config", "validate", goodFile}, stdout: `^.*good.json: ok, 1 task\(s\)\n$`},
		{name: "validate bad", args: []string{"config", "validate", badFile}, code: 1,
			stderr: `^logctl: .*bad.json: task 0 \(path "/var/log/x.log"\): topic "web log": must match`},
		{name: "validate missing file", args: []string{"config", "validate", "/nonexistent.json"}, code: 1, stderr: `no such file`},
		{name: "get missing", args: []string{"config", "get", "10.0.0.7"}, code: 1,
			stderr: `^logctl: no collect config for 10.0.0.7: /logagent/10.0.0.7/collect_config does not exist\n$`},
		{name: "set bad writes nothing", args: []string{"config", "set", "10.0.0.7", badFile}, code: 1, stderr: `invalid collect config, nothing written`},
		{name: "set", args: []string{"config", "set", "10.0.0.7", goodFile}, stdout: `^10\.0\.0\.7: /logagent/10\.0\.0\.7/collect_config: written \(revision \d+\); logtransfer now also consumes web_log \(/logtransfer/topics\)\n$`, want: good},
		{name: "get", args: []string{"config", "get", "10.0.0.7"}, stdout: `^\Q` + good + `\E\n$`},
		{name: "get json", args: []string{"config", "get", "10.0.0.7", "-o", "json"},
			stdout: `"ip": "10.0.0.7",\n  "key": "/logagent/10.0.0.7/collect_config",\n  "revision": \d+,\n  "tasks": \[`},
		{name: "set with a stale revision", args: []string{"config", "set", "10.0.0.7", good2File, "--revision", "1"}, code: 1,
			stderr: `^logctl: /logagent/10.0.0.7/collect_config was changed by someone else \(revision 1 when read, now \d+\): nothing written`, want: good},
		{name: "flags after arguments, edit with EDITOR",
			setup: func(t *testing.T) {
				t.Setenv("VISUAL", "")
				t.Setenv("EDITOR", writeFile(t, "ed.sh", "#!/bin/sh\necho '"+good2+"' > \"$1\"\n"))
			},
			args: []string{"config", "edit", "10.0.0.7", "--timeout", "5s"}, stdout: `written \(revision \d+\)`, want: good2},
		{name: "edit without change exits 0",
			setup: func(t *testing.T) { t.Setenv("VISUAL", "true") },
			args:  []string{"config", "edit", "10.0.0.7"}, stderr: `^logctl: no changes: nothing written\n$`, want: good2},
		{name: "edit invalid, then abort",
			setup: func(t *testing.T) {
				t.Setenv("VISUAL", writeFile(t, "ed.sh", "#!/bin/sh\necho '"+bad+"' > \"$1\"\n"))
			},
			stdin: "n\n", args: []string{"config", "edit", "10.0.0.7"}, code: 1,
			stderr: `(?s)invalid collect config: task 0.*re-open the editor\? \[Y/n\] logctl: invalid collect config, nothing written`, want: good2},
		{name: "edit invalid, re-open, fixed",
			setup: func(t *testing.T) {
				dir := t.TempDir()
				// First run: invalid; second run: valid.
				t.Setenv("VISUAL", writeFile(t, "ed.sh", "#!/bin/sh\nif [ -e "+dir+"/ran ]; then echo '"+good+"' > \"$1\"; else touch "+dir+"/ran; echo '"+bad+"' > \"$1\"; fi\n"))
			},
			stdin: "y\n", args: []string{"config", "edit", "10.0.0.7"},
			stdout: `written \(revision \d+\)`, stderr: `(?s)^invalid collect config: task 0.*re-open the editor\? \[Y/n\] $`, want: good},
		{name: "set --all without agents", args: []string{"config", "set", "--all", goodFile}, code: 1, stderr: `no agent is registered`},
		{name: "set --all",
			setup: func(*testing.T) { // registered until the end of TestConfigCommands
				for _, ip := range []string{"10.0.0.7", "10.0.0.8"} {
					registerAgent(t, cli, collect.AgentInfo{Hostname: "web-" + ip[len(ip)-1:], IP: ip, Version: "1.0.0", StartTime: time.Now()})
				}
			},
			args:   []string{"config", "set", "--all", goodFile},
			stdout: `^10\.0\.0\.7: /logagent/10\.0\.0\.7/collect_config: written \(revision \d+\)\n10\.0\.0\.8: /logagent/10\.0\.0\.8/collect_config: written \(revision \d+\)\n$`, want: good},
		{name: "get --all", args: []string{"config", "get", "--all"},
			stdout: `^# 10\.0\.0\.7 /logagent/10\.0\.0\.7/collect_config \(revision \d+\)\n\Q` + good + `\E\n# 10\.0\.0\.8 .*\n\Q` + good + `\E\n$`},
		{name: "--all and --revision", args: []string{"config", "set", "--all", goodFile, "--revision", "5"}, code: 1, stderr: `--revision is for one HOST`},
		{name: "--all and HOST", args: []string{"config", "get", "--all", "10.0.0.7"}, code: 1, stderr: `with --all, get takes 0 argument\(s\), got 1`},
		{name: "another collect key", args: []string{"config", "get", "10.0.0.7", "--collect-key", "/collect/{ip}"}, code: 1,
			stderr: `^logctl: no collect config for 10.0.0.7: /collect/10.0.0.7 does not exist\n$`},
		{name: "a new topic, --topics-key \"\": logtransfer's topics left alone",
			args:   []string{"config", "set", "10.0.0.7", writeFile(t, "db.json", `[{"path":"/var/log/db.log","topic":"db_log"}]`), "--topics-key", ""},
			stdout: `^10\.0\.0\.7: /logagent/10\.0\.0\.7/collect_config: written \(revision \d+\)\n$`},
		{name: "bad output format", args: []string{"config", "get", "10.0.0.7", "-o", "yaml"}, code: 1, stderr: `-o "yaml": want json or table`},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if st.setup != nil {
				st.setup(t)
			}
			code, stdout, stderr := exec(t, st.stdin, st.args...)
			require.Equal(t, st.code, code, "stdout: %s\nstderr: %s", stdout, stderr)
			if st.stdout != "" {
				require.Regexp(t, st.stdout, stdout)
			}
			if st.stderr != "" {
				require.Regexp(t, st.stderr, stderr)
			} else {
				require.Empty(t, stderr)
			}
			if st.want != "" {
				resp, err := cli.Get(context.Background(), key)
				require.NoError(t, err)
				require.Len(t, resp.Kvs, 1)
				require.JSONEq(t, st.want, string(resp.Kvs[0].Value))
			}
		})
	}
}

func TestAgentsCommand(t *testing.T) {
	e := testenv.StartEtcd(t)
	cli := e.Client(t)
	registerAgent(t, cli, collect.AgentInfo{Hostname: "web-1", IP: "10.0.0.7", Version: "1.2.3", StartTime: time.Now().Add(-90 * time.Second), Tasks: 3})

	code, stdout, stderr := exec(t, "", "agents", "--etcd", e.Endpoints()[0])
	require.Equal(t, 0, code, stderr)
	require.Regexp(t, `^HOST +IP +VERSION +UPTIME +TASKS\nweb-1 +10\.0\.0\.7 +1\.2\.3 +1m3\ds +3\n$`, stdout)

	code, stdout, stderr = exec(t, "", "agents", "--etcd", e.Endpoints()[0], "-o", "json")
	require.Equal(t, 0, code, stderr)
	var got []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &got))
	require.Len(t, got, 1)
	require.Equal(t, "web-1", got[0]["hostname"])
	require.EqualValues(t, 3, got[0]["tasks"])
}

// Each command exits 1 with the service, its address and the reason when
// its server is not there.
func TestUnreachableServers(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for connection timeouts")
	}
	addr := testenv.FreeAddr(t)
	refused := fmt.Sprintf(`cannot connect \(dial tcp %s: connect: connection refused\)`, addr)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "config get", args: []string{"config", "get", "10.0.0.7", "--etcd", addr}, want: `^logctl: etcd ` + addr + `: ` + refused + `: get /logagent/10.0.0.7/collect_config: `},
		{name: "agents", args: []string{"agents", "--etcd", addr}, want: `^logctl: etcd ` + addr + `: ` + refused + `: list /logagent/agents/: `},
		{name: "lag", args: []string{"lag", "--brokers", addr}, want: `^logctl: kafka ` + addr + `: ` + refused + `: lag of group logtransfer: `},
		{name: "search", args: []string{"search", "--es", "http://" + addr, "error"}, want: `^logctl: elasticsearch http://` + addr + `: ` + refused + `: search \*-\*: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := exec(t, "", append(tt.args, "--timeout", "1s")...)
			require.Equal(t, 1, code)
			require.Empty(t, stdout)
			require.Regexp(t, tt.want, stderr)
		})
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
