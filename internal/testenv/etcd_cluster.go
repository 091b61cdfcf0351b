package testenv

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/logcollect/logcollect/internal/servers"
)

// EtcdCluster is an etcd cluster of embedded members (servers.Etcd) in the test process, on
// free 127.0.0.1 ports, each with its data in a test temp dir. A member can be stopped
// (gracefully: a leader hands its leadership over), killed (no hand-over, as a crash) and
// started again with its data. Its methods are safe for concurrent use.
type EtcdCluster struct {
	Members []*servers.Etcd
}

// StartEtcdCluster starts an n-member cluster and waits until every member serves requests.
// The test fails if it cannot start. t.Cleanup stops it.
func StartEtcdCluster(t testing.TB, n int) *EtcdCluster {
	t.Helper()
	dir := t.TempDir()
	c := &EtcdCluster{}
	type ports struct{ client, peer int }
	ps := make([]ports, n)
	var peers []string
	for i := range ps {
		ps[i].client, ps[i].peer = freePorts(t)
		peers = append(peers, fmt.Sprintf("m%d=http://127.0.0.1:%d", i, ps[i].peer))
	}
	for i, p := range ps {
		name := fmt.Sprintf("m%d", i)
		e, err := servers.NewEtcd(servers.EtcdConfig{Dir: filepath.Join(dir, name), ClientPort: p.client, PeerPort: p.peer,
			Name: name, InitialCluster: strings.Join(peers, ","), Configure: clusterTiming})
		if err != nil {
			t.Fatal(err)
		}
		c.Members = append(c.Members, e)
	}
	// A member is ready only once a quorum is up: start them together.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, e := range c.Members {
		wg.Go(func() { errs[i] = e.Start() })
	}
	wg.Wait()
	for _, e := range c.Members {
		t.Cleanup(e.Stop)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start etcd member m%d: %v", i, err)
		}
	}
	return c
}

// clusterTiming makes elections fast on loopback, though not so fast that a loaded 2-core
// machine starts spurious ones.
func clusterTiming(cfg *embed.Config) {
	cfg.TickMs = 50
	cfg.ElectionMs = 500
}

// Endpoints returns every member's client endpoint.
func (c *EtcdCluster) Endpoints() []string {
	var eps []string
	for _, e := range c.Members {
		eps = append(eps, e.Endpoints()...)
	}
	return eps
}

// Leader returns the index of the member that leads, waiting up to timeout for one.
func (c *EtcdCluster) Leader(timeout time.Duration) (int, error) {
	return c.LeaderOtherThan(-1, timeout)
}

// LeaderOtherThan returns the index of the member that leads, other than member not,
// waiting up to timeout for one.
func (c *EtcdCluster) LeaderOtherThan(not int, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		for i, e := range c.Members {
			if i != not && e.IsLeader() {
				return i, nil
			}
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("no etcd leader after %s", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Client returns a client of every member's endpoint, closed on t's cleanup (see
// Etcd.Client).
func (c *EtcdCluster) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	return newEtcdClient(t, c.Endpoints(), EtcdOptions{})
}
