package testenv

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/internal/servers"
)

// SearchCluster is a real cluster of search nodes of one engine, each a child JVM
// (servers.Elasticsearch) on its own free loopback ports with its data in a test temp dir.
// Every node is master-eligible and holds data, so with 3 nodes the cluster keeps a master and
// all its data (indices with 1 replica) when any one node is killed. Its methods are not safe
// for concurrent use.
type SearchCluster struct {
	t     testing.TB
	Nodes []*Elasticsearch
}

// StartSearchCluster starts a cluster of n nodes of engine (nil: Elasticsearch) side by side,
// and waits until every node has joined it. t.Cleanup stops them. Without the jars the test
// fails, or is skipped in a partial run (Missing).
func StartSearchCluster(t testing.TB, engine *servers.Engine, n int) *SearchCluster {
	t.Helper()
	engine, home := engineJars(t, engine, "starts a cluster of %s nodes")
	ports := FreePorts(t, 2*n) // HTTP ports, then transport ports
	names := make([]string, n)
	for i := range n {
		names[i] = "node-" + strconv.Itoa(i+1)
	}
	peers := ports[n:]
	c := &SearchCluster{t: t}
	for i := range n {
		se, err := servers.NewElasticsearch(servers.ElasticsearchConfig{
			Engine: engine, Dir: t.TempDir(), Port: ports[i], TransportPort: peers[i], Home: home,
			ClusterName: "logcollect-cluster", NodeName: names[i], Peers: peers, InitialNodes: names,
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Nodes = append(c.Nodes, &Elasticsearch{t: t, Elasticsearch: se})
	}
	t.Cleanup(func() {
		for _, e := range c.Nodes {
			e.logFailure(t)
		}
		var g errgroup.Group
		for _, e := range c.Nodes {
			g.Go(e.Stop)
		}
		if err := g.Wait(); err != nil {
			t.Log(err)
		}
	})
	start := time.Now()
	// Side by side: a node is ready once the cluster has elected a master, which takes a
	// majority of them.
	var g errgroup.Group
	for _, e := range c.Nodes {
		g.Go(func() error { return e.Elasticsearch.Start(context.Background()) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitNodes(n, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: cluster of %d nodes ready in %s", c.Nodes[0].Version(), n, time.Since(start).Round(time.Millisecond))
	return c
}

// URLs are the nodes' HTTP addresses, in order.
func (c *SearchCluster) URLs() []string {
	urls := make([]string, len(c.Nodes))
	for i, e := range c.Nodes {
		urls[i] = e.URL()
	}
	return urls
}

// WaitNodes waits until the cluster, as a running node sees it, has n nodes.
func (c *SearchCluster) WaitNodes(n int, timeout time.Duration) error {
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var h clusterHealth
		if h, err = c.Health("wait_for_nodes=" + strconv.Itoa(n)); err == nil && h.Nodes == n {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("%d nodes", h.Nodes)
		}
	}
	return fmt.Errorf("cluster: want %d nodes: %w", n, err)
}

// WaitStatus waits until the cluster health is status ("green": every replica assigned and
// recovered).
func (c *SearchCluster) WaitStatus(status string, timeout time.Duration) error {
	var err error
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var h clusterHealth
		if h, err = c.Health("wait_for_status=" + status); err == nil && h.Status == status {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("status %s", h.Status)
		}
	}
	return fmt.Errorf("cluster: want status %s: %w", status, err)
}

type clusterHealth struct {
	Status string `json:"status"`
	Nodes  int    `json:"number_of_nodes"`
}

// Health returns the cluster health (GET /_cluster/health?query&timeout=1s) from the first
// running node that answers.
func (c *SearchCluster) Health(query string) (clusterHealth, error) {
	var errs []string
	for _, e := range c.Nodes {
		if !e.Running() {
			continue
		}
		var h clusterHealth
		err := e.Request(context.Background(), "GET", "/_cluster/health?timeout=1s&"+query, "", &h)
		if err == nil || strings.Contains(err.Error(), "408 Request Timeout") {
			// 408: the wait timed out; the body is the health all the same.
			if err != nil {
				continue
			}
			return h, nil
		}
		errs = append(errs, err.Error())
	}
	return clusterHealth{}, fmt.Errorf("no node answers: %s", strings.Join(errs, "; "))
}
