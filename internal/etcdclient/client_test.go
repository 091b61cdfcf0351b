package etcdclient

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/testenv"
)

const testKey = "/logagent/10.0.0.1/collect_config"

// TestNewDoesNotBlock: with etcd down, New returns at once, with or without
// credentials; the first request once etcd is up authenticates (or says why
// it cannot), and watches work with the token.
func TestNewDoesNotBlock(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	e := testenv.StartEtcd(t)
	root := e.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second) // bcrypt is slow under -race
	defer cancel()
	_, err := root.UserAdd(ctx, "root", "rootpw")
	require.NoError(t, err)
	_, err = root.UserGrantRole(ctx, "root", "root")
	require.NoError(t, err)
	_, err = root.UserAdd(ctx, "agent", "agentpw")
	require.NoError(t, err)
	_, err = root.RoleAdd(ctx, "agent")
	require.NoError(t, err)
	_, err = root.RoleGrantPermission(ctx, "agent", "/logagent/", clientv3.GetPrefixRangeEnd("/logagent/"), clientv3.PermissionType(clientv3.PermReadWrite))
	require.NoError(t, err)
	_, err = root.UserGrantRole(ctx, "agent", "agent")
	require.NoError(t, err)
	_, err = root.AuthEnable(ctx)
	require.NoError(t, err)
	e.Stop()

	tests := []struct {
		name, user, pass string
		wantErr          string // from the first request once etcd is up
	}{
		{name: "auth", user: "agent", pass: "agentpw"},
		{name: "wrong password", user: "agent", pass: "nope", wantErr: "authentication failed"},
		{name: "no credentials", wantErr: "user name is empty"},
	}
	clients := make([]*clientv3.Client, len(tests))
	for i, tt := range tests {
		start := time.Now()
		cli, err := New(Config{Endpoints: e.Endpoints(), DialTimeout: config.Duration(3 * time.Second), Username: tt.user, Password: tt.pass})
		require.NoError(t, err, tt.name)
		t.Cleanup(func() { cli.Close() })
		require.Less(t, time.Since(start), time.Second, "%s: New must not wait for etcd", tt.name)
		clients[i] = cli
	}
	require.NoError(t, e.Start())
	admin, err := New(Config{Endpoints: e.Endpoints(), Username: "root", Password: "rootpw"})
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() })
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Generous: the client reconnects with backoff, and bcrypt is slow on a busy machine.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := clients[i].Put(ctx, testKey, "[]")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			resp, err := clients[i].Get(ctx, testKey)
			require.NoError(t, err)
			require.Equal(t, "[]", string(resp.Kvs[0].Value))
			// Watch works with the token too.
			wctx, wcancel := context.WithCancel(ctx)
			defer wcancel()
			wch := clients[i].Watch(wctx, testKey, clientv3.WithRev(resp.Header.Revision+1))
			_, err = admin.Put(ctx, testKey, "[ ]")
			require.NoError(t, err)
			for {
				var wr clientv3.WatchResponse
				select {
				case wr = <-wch:
				case <-ctx.Done():
					t.Fatal("no watch event")
				}
				require.NoError(t, wr.Err())
				if len(wr.Events) == 0 {
					continue // a progress notification, seen under load
				}
				require.Len(t, wr.Events, 1)
				break
			}
		})
	}
}

func TestNewBadTLS(t *testing.T) {
	_, err := New(Config{
		Endpoints: []string{"https://127.0.0.1:1"},
		TLS:       config.TLSConfig{Enabled: true, CAFile: filepath.Join(t.TempDir(), "missing.pem")},
	})
	require.ErrorContains(t, err, "ca_file")
}
