package devstack

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/logcollect/logcollect/internal/ctl"
	"github.com/logcollect/logcollect/internal/servers"
)

// The demo collect config is put when the key is missing, replaces the default of earlier
// runs (every demo/*.log to one topic), and leaves any other config alone.
func TestPutDemoConfig(t *testing.T) {
	dir := t.TempDir()
	ports := freePorts(t, 2)
	etcd, err := servers.NewEtcd(servers.EtcdConfig{Dir: filepath.Join(dir, "etcd"), ClientPort: ports[0], PeerPort: ports[1]})
	require.NoError(t, err)
	require.NoError(t, etcd.Start())
	defer etcd.Stop()
	s := &Stack{cfg: Config{Dir: dir}, etcd: etcd}
	cli, err := clientv3.New(clientv3.Config{Endpoints: etcd.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	require.NoError(t, err)
	defer cli.Close()
	get := func() string {
		resp, err := cli.Get(t.Context(), CollectKey())
		require.NoError(t, err)
		require.Len(t, resp.Kvs, 1)
		return string(resp.Kvs[0].Value)
	}
	put := func(v string) {
		_, err := cli.Put(t.Context(), CollectKey(), v)
		require.NoError(t, err)
	}

	require.NoError(t, s.putDemoConfig(t.Context()))
	var tasks []struct{ Path, Topic string }
	require.NoError(t, json.Unmarshal([]byte(get()), &tasks))
	require.Equal(t, []struct{ Path, Topic string }{
		{s.DemoLog(), Topic}, {s.AppLog(), AppTopic}, {s.SyslogFile(), SyslogTopic},
	}, tasks)
	fresh := get()

	put(fmt.Sprintf(`[{"path": %q, "topic": "demo", "start_position": "beginning", "fields": {"env": "dev"}}]`, filepath.Join(dir, "demo", "*.log")))
	require.NoError(t, s.putDemoConfig(t.Context()))
	require.Equal(t, fresh, get(), "the default of earlier runs is not replaced")

	custom := `[{"path": "/tmp/x.log", "topic": "demo"}]`
	put(custom)
	require.NoError(t, s.putDemoConfig(t.Context()))
	require.Equal(t, custom, get(), "an operator's config is replaced")

	// logtransfer's topics key: the demo topics when missing, an operator's list kept.
	topics := func() string {
		resp, err := cli.Get(t.Context(), ctl.DefaultTopicsKey)
		require.NoError(t, err)
		require.Len(t, resp.Kvs, 1)
		return string(resp.Kvs[0].Value)
	}
	require.JSONEq(t, `["demo","demo_app","demo_syslog"]`, topics())
	_, err = cli.Put(t.Context(), ctl.DefaultTopicsKey, `["demo","mine"]`)
	require.NoError(t, err)
	require.NoError(t, s.putDemoConfig(t.Context()))
	require.Equal(t, `["demo","mine"]`, topics(), "an operator's topics are replaced")
}

// freePorts returns n distinct free loopback ports.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close() // held until all are chosen, so they differ
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
