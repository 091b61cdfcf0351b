package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// etcdReadyTimeout bounds how long StartEtcd and Start wait for the embedded
// server to become ready (it usually takes well under a second).
const etcdReadyTimeout = 30 * time.Second

// Etcd is a single-member etcd server embedded in the test process
// (go.etcd.io/etcd/server/v3/embed), listening on free 127.0.0.1 ports, with
// its data in a test temp dir. Stop and Start simulate an outage: the server
// comes back on the same ports with the same data. It is safe for concurrent
// use.
type Etcd struct {
	dir       string
	clientURL url.URL
	peerURL   url.URL
	mu        sync.Mutex
	srv       *embed.Etcd // nil while stopped
	opts      EtcdOptions
}

// StartEtcd starts an embedded etcd server and waits until it serves
// requests. The test fails if it cannot start. t.Cleanup stops it.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	return startEtcd(t, EtcdOptions{})
}

func startEtcd(t testing.TB, o EtcdOptions) *Etcd {
	t.Helper()
	e := &Etcd{dir: t.TempDir(), opts: o}
	var err error
	// A free port found by listening on :0 can be taken by someone else
	// before etcd binds it; retry with new ports a few times.
	for attempt := 0; attempt < 5; attempt++ {
		var cport, pport int
		if cport, err = freePort(); err != nil {
			break
		}
		if pport, err = freePort(); err != nil {
			break
		}
		e.clientURL = url.URL{Scheme: o.scheme(), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(cport))}
		e.peerURL = url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(pport))}
		if err = e.Start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("start embedded etcd: %v", err)
	}
	t.Cleanup(e.Stop)
	return e
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Endpoints returns the client endpoints, e.g. ["http://127.0.0.1:40123"].
// They stay the same across Stop and Start.
func (e *Etcd) Endpoints() []string {
	return []string{e.clientURL.String()}
}

// Client returns a client connected to the server, closed on t's cleanup.
// The client does not block on dial, so it can be created while the server
// is stopped.
func (e *Etcd) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   e.Endpoints(),
		TLS:         e.opts.clientTLS(t),
		Username:    e.opts.username(),
		Password:    e.opts.RootPassword,
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

// Stop closes the server, as in an outage. The data dir is kept, so Start
// brings back the same data. Stop on a stopped server does nothing.
func (e *Etcd) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv == nil {
		return
	}
	e.srv.Close() // blocks until the server and its listeners are closed
	e.srv = nil
}

// Start starts the server again on the same ports and data dir and waits
// until it is ready. Start on a running server does nothing.
func (e *Etcd) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.srv != nil {
		return nil
	}
	cfg := embed.NewConfig()
	cfg.Name = "testenv"
	cfg.Dir = e.dir
	cfg.LogLevel = "fatal" // it logs harmless errors on Close
	cfg.ListenClientUrls = []url.URL{e.clientURL}
	cfg.AdvertiseClientUrls = []url.URL{e.clientURL}
	cfg.ListenPeerUrls = []url.URL{e.peerURL}
	cfg.AdvertisePeerUrls = []url.URL{e.peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.InitialClusterToken = "testenv"
	// Rebinding the same ports right after Close.
	cfg.SocketOpts.ReuseAddress = true
	// Single member on loopback: elect fast.
	cfg.TickMs = 10
	cfg.ElectionMs = 100
	e.opts.apply(cfg)

	srv, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("start embedded etcd in %s: %w", e.dir, err)
	}
	select {
	case <-srv.Server.ReadyNotify():
	case err := <-srv.Err():
		srv.Close()
		return fmt.Errorf("embedded etcd failed while starting: %w", err)
	case <-time.After(etcdReadyTimeout):
		srv.Server.Stop()
		srv.Close()
		return errors.New("embedded etcd not ready after " + etcdReadyTimeout.String())
	}
	e.srv = srv
	return nil
}
