package ctl

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/testenv"
)

// With etcd authentication on (a real embedded etcd, TLS with client
// certificates), each host's identity from `logctl etcd-auth host` reaches
// only its own keys: host A (a password) and host B (a certificate CN)
// cannot read or change each other's collect key or registration, nor list
// the registrations; the operator can. The agent's own code works with
// A's identity: the Registrar registers with a lease and revokes it, the
// EtcdSource reads the config, follows a change and caches it.
func TestEtcdAuthPerHostIdentities(t *testing.T) {
	certs := testenv.NewCerts(t)
	e := testenv.StartEtcdWithOptions(t, testenv.EtcdOptions{Certs: certs, ClientCertAuth: true})
	ctx := context.Background()
	const timeout = 30 * time.Second // bcrypt is slow on a loaded machine
	const ipA, ipB = "10.0.0.1", "10.0.0.2"

	adm := NewEtcdAuthAdmin(e.Client(t), "", timeout)
	idA, err := adm.Host(ctx, ipA, "", "", IdentityOptions{})
	require.NoError(t, err)
	require.Len(t, idA.Password, 24)
	idB, err := adm.Host(ctx, ipB, "", "", IdentityOptions{Cert: true})
	require.NoError(t, err)
	require.Empty(t, idB.Password)
	op, err := adm.Operator(ctx, "", IdentityOptions{})
	require.NoError(t, err)
	root, err := adm.Enable(ctx)
	require.NoError(t, err)
	require.True(t, root.Created)

	client := func(user, password, cn string) *clientv3.Client {
		cert, key := certs.ClientCert, certs.ClientKey
		if cn != "" {
			cert, key = certs.NewClientCert(t, cn)
		}
		cli, err := NewSecureEtcdClient(e.Endpoints(), timeout, EtcdAuth{CAFile: certs.CA, CertFile: cert, KeyFile: key, Username: user, Password: password})
		require.NoError(t, err)
		t.Cleanup(func() { cli.Close() })
		return cli
	}
	cliA := client(idA.User, idA.Password, "")
	cliB := client("", "", idB.User) // no password: the certificate's CN is the user
	cliOp := client(op.User, op.Password, "")

	// Run again as root: idempotent, passwords kept, auth already on.
	again := NewEtcdAuthAdmin(client("root", root.Password, ""), "", timeout)
	idA2, err := again.Host(ctx, ipA, "", "", IdentityOptions{})
	require.NoError(t, err)
	require.False(t, idA2.Created)
	require.Empty(t, idA2.Password, "an existing user keeps its password")
	_, err = again.Enable(ctx)
	require.NoError(t, err)

	store := NewConfigStore(cliOp, "", timeout)
	cfgA := `[{"path":"/var/log/a.log","topic":"a"}]`
	cfgB := `[{"path":"/var/log/b.log","topic":"b"}]`
	_, err = store.Set(ctx, ipA, []byte(cfgA), -1)
	require.NoError(t, err)
	_, err = store.Set(ctx, ipB, []byte(cfgB), -1)
	require.NoError(t, err)

	keyA, keyB := collect.ExpandCollectKey(collect.DefaultCollectKey, ipA, ""), collect.ExpandCollectKey(collect.DefaultCollectKey, ipB, "")
	regA, regB, agents := collect.RegistrationKey(ipA), collect.RegistrationKey(ipB), collect.RegistrationKey("")
	get := func(key string, opts ...clientv3.OpOption) func(*clientv3.Client) error {
		return func(c *clientv3.Client) error { _, err := c.Get(ctx, key, opts...); return err }
	}
	put := func(key string) func(*clientv3.Client) error {
		return func(c *clientv3.Client) error { _, err := c.Put(ctx, key, "[]"); return err }
	}
	del := func(key string) func(*clientv3.Client) error {
		return func(c *clientv3.Client) error { _, err := c.Delete(ctx, key); return err }
	}
	for _, tt := range []struct {
		name    string
		cli     *clientv3.Client
		do      func(*clientv3.Client) error
		allowed bool
	}{
		{"A reads its collect key", cliA, get(keyA), true},
		{"A reads B's collect key", cliA, get(keyB), false},
		{"A writes B's collect key", cliA, put(keyB), false},
		{"A deletes B's collect key", cliA, del(keyB), false},
		{"A writes its own collect key", cliA, put(keyA), false},
		{"A writes its registration", cliA, put(regA), true},
		{"A writes B's registration", cliA, put(regB), false},
		{"A reads B's registration", cliA, get(regB), false},
		{"A lists the registrations", cliA, get(agents, clientv3.WithPrefix()), false},
		{"A reads every key", cliA, get("/", clientv3.WithPrefix()), false},
		{"B reads its collect key", cliB, get(keyB), true},
		{"B reads A's collect key", cliB, get(keyA), false},
		{"B writes A's collect key", cliB, put(keyA), false},
		{"B writes A's registration", cliB, put(regA), false},
		{"the operator lists the registrations", cliOp, get(agents, clientv3.WithPrefix()), true},
		{"the operator writes a collect key", cliOp, put(keyB), true},
		{"the operator writes elsewhere", cliOp, put("/logtransfer/topics"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do(tt.cli)
			if tt.allowed {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, rpctypes.ErrPermissionDenied)
		})
	}
	_, err = cliOp.Put(ctx, keyB, cfgB)
	require.NoError(t, err)
	_, err = cliOp.Delete(ctx, regA)
	require.NoError(t, err)

	t.Run("the agent with A's identity", func(t *testing.T) {
		log := slog.New(slog.DiscardHandler)
		reg := agent.NewRegistrar(cliA, 5*time.Second, log)
		reg.Update(collect.AgentInfo{Hostname: "a", IP: ipA})
		rctx, stopReg := context.WithCancel(ctx)
		regDone := make(chan error, 1)
		go func() { regDone <- reg.Run(rctx) }()
		defer func() { stopReg(); <-regDone }()
		var lease clientv3.LeaseID
		require.Eventually(t, func() bool {
			resp, err := cliOp.Get(ctx, regA)
			if err != nil || len(resp.Kvs) == 0 {
				return false
			}
			lease = clientv3.LeaseID(resp.Kvs[0].Lease)
			return true
		}, timeout, 20*time.Millisecond, "A registers with its lease")
		require.NotZero(t, lease)
		_, err := cliB.Revoke(ctx, lease)
		require.ErrorIs(t, err, rpctypes.ErrPermissionDenied, "B cannot revoke A's lease")

		cache := filepath.Join(t.TempDir(), "collect_config.json")
		src := agent.NewEtcdSource(cliA, agent.EtcdSourceConfig{Key: keyA, CacheFile: cache, RequestTimeout: timeout}, log, agent.NewMetrics(prometheus.NewRegistry()))
		applied := make(chan []collect.Task, 10)
		sctx, stopSrc := context.WithCancel(ctx)
		srcDone := make(chan error, 1)
		go func() {
			srcDone <- src.Run(sctx, func(tasks []collect.Task, _ string) error { applied <- tasks; return nil })
		}()
		defer func() { stopSrc(); <-srcDone }()
		wantPath := func(path string) {
			t.Helper()
			select {
			case tasks := <-applied:
				require.Len(t, tasks, 1)
				require.Equal(t, path, tasks[0].Path)
			case <-time.After(timeout):
				t.Fatalf("%s not applied", path)
			}
		}
		wantPath("/var/log/a.log")
		cfgA2 := `[{"path":"/var/log/a2.log","topic":"a"}]`
		_, err = store.Set(ctx, ipA, []byte(cfgA2), -1)
		require.NoError(t, err)
		wantPath("/var/log/a2.log") // the watch
		require.Eventually(t, func() bool {
			b, err := os.ReadFile(cache)
			return err == nil && bytes.Equal(b, []byte(cfgA2))
		}, timeout, 20*time.Millisecond, "cached")

		stopReg()
		require.NoError(t, <-regDone)
		regDone <- nil // for the deferred stop
		resp, err := cliOp.Get(ctx, regA)
		require.NoError(t, err)
		require.Empty(t, resp.Kvs, "A revoked its own lease on shutdown")
	})
}

func TestEtcdAuthPermissions(t *testing.T) {
	require.Equal(t, []string{
		"read      /logagent/web-1/collect_config",
		"write     /logagent/agents/10.0.0.7",
	}, permStrings(HostPermissions("/logagent/{hostname}/collect_config", "10.0.0.7", "web-1")))
	require.Equal(t, []string{"readwrite /logagent/* (prefix)"}, permStrings(OperatorPermissions(collect.DefaultCollectKey, "")))
	require.Equal(t, []string{"readwrite /logagent/* (prefix)", "readwrite /logtransfer/topics"},
		permStrings(OperatorPermissions(collect.DefaultCollectKey, DefaultTopicsKey)))
	require.Equal(t, []string{"readwrite /hosts/* (prefix)", "read      /logagent/agents/* (prefix)"},
		permStrings(OperatorPermissions("/hosts/{ip}/tasks", "")))

	adm := NewEtcdAuthAdmin(nil, "/logagent/{hostname}/collect_config", time.Second)
	for _, tt := range []struct{ host, ip, name, wantErr string }{
		{host: "web-1", wantErr: `host "web-1" is a name: give its IP with --ip`},
		{host: "10.0.0.7", wantErr: "uses {hostname}: give the host's name with --name"},
		{host: "web-1", ip: "web-2", wantErr: `--ip "web-2": not an IP address`},
		{host: "10.0.0.7", ip: "10.0.0.8", name: "x", wantErr: "host 10.0.0.7 is an IP and --ip says 10.0.0.8"},
	} {
		_, err := adm.Host(context.Background(), tt.host, tt.ip, tt.name, IdentityOptions{})
		require.ErrorContains(t, err, tt.wantErr)
	}
}

func permStrings(ps []Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// logctl warns about a task an agent with the default files.allowed_paths
// would refuse; a config inside them gets no warning.
func TestWarnOutsideDefaultRoots(t *testing.T) {
	for _, tt := range []struct {
		name, config string
		want         []string // lines; none: no warning
	}{
		{name: "inside", config: `[{"path":"/var/log/nginx/*.log","topic":"t"},{"path":"/var/log/a/b/c.log","topic":"t"}]`},
		{name: "outside", config: `[{"path":"/var/log/x.log","topic":"t"},{"path":"/root/.ssh/id_rsa","topic":"t"}]`, want: []string{
			`warning: task 1 (path "/root/.ssh/id_rsa"): path is outside files.allowed_paths ["/var/log/**"]`,
		}},
		{name: "dot-dot", config: `[{"path":"/var/log/../../etc/shadow","topic":"t"}]`, want: []string{
			`warning: task 0 (path "/var/log/../../etc/shadow"): path: must not contain ".." under files.allowed_paths ["/var/log/**"]`,
		}},
		{name: "glob above", config: `[{"path":"/var/*/x.log","topic":"t"}]`, want: []string{
			`warning: task 0 (path "/var/*/x.log"): path is outside files.allowed_paths ["/var/log/**"]`,
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tasks, err := Validate([]byte(tt.config))
			require.NoError(t, err)
			var b bytes.Buffer
			require.Equal(t, len(tt.want) > 0, WarnOutsideDefaultRoots(&b, tasks))
			if len(tt.want) == 0 {
				require.Empty(t, b.String())
				return
			}
			lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
			require.Equal(t, tt.want, lines[:len(lines)-1])
			require.Contains(t, lines[len(lines)-1], "refuses this whole config")
		})
	}
}
