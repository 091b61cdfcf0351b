package testenv

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"

	"github.com/logcollect/logcollect/internal/servers"
)

// Etcd is a single-member etcd server embedded in the test process (servers.Etcd), listening
// on free 127.0.0.1 ports, with its data in a test temp dir. Stop and Start simulate an
// outage: the server comes back on the same ports with the same data. It is safe for
// concurrent use.
type Etcd struct {
	*servers.Etcd
	opts EtcdOptions
}

// StartEtcd starts an embedded etcd server and waits until it serves
// requests. The test fails if it cannot start. t.Cleanup stops it.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, EtcdOptions{})
}

func startEtcd(t testing.TB, o EtcdOptions) *Etcd {
	t.Helper()
	dir := t.TempDir()
	var err error
	// A free port found by listening on :0 can be taken by someone else
	// before etcd binds it; retry with new ports a few times.
	for attempt := 0; attempt < 5; attempt++ {
		cport, pport := freePorts(t)
		var e *servers.Etcd
		if e, err = servers.NewEtcd(servers.EtcdConfig{Dir: dir, ClientPort: cport, PeerPort: pport,
			HTTPS: o.Certs != nil, Configure: o.apply}); err != nil {
			break
		}
		if err = e.Start(); err == nil {
			t.Cleanup(e.Stop)
			return &Etcd{Etcd: e, opts: o}
		}
	}
	t.Fatalf("start embedded etcd: %v", err)
	return nil
}

// Client returns a client connected to the server, closed on t's cleanup: with the
// server's TLS and root user when it has them (StartEtcdWithOptions). The client does not
// block on dial, so it can be created while the server is stopped.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return newEtcdClient(t, e.Endpoints(), e.opts)
}

func newEtcdClient(t testing.TB, endpoints []string, o EtcdOptions) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		TLS:         o.clientTLS(t),
		Username:    o.username(),
		Password:    o.RootPassword,
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
		// Reconnect quickly after Start (gRPC's default backoff grows to 2m).
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
			MinConnectTimeout: 5 * time.Second,
		})},
	})
	if err != nil {
		t.Fatalf("etcd client: %v", err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}
