package testenv

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/servers"
)

// TestSearchCluster forms a 3-node cluster, and an index with 1 replica survives the loss of
// any node: the cluster turns yellow and back to green once the node is back.
func TestSearchCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 3 search nodes")
	}
	c := StartSearchCluster(t, servers.EngineOpenSearch, 3)
	ctx := context.Background()
	n0 := c.Nodes[0]
	require.NoError(t, n0.Request(ctx, "PUT", "/logs-cluster", `{"settings":{"number_of_shards":3,"number_of_replicas":1}}`, nil))
	require.NoError(t, c.WaitStatus("green", 60*time.Second))
	for i := range 100 {
		require.NoError(t, n0.Request(ctx, "PUT", "/logs-cluster/_doc/"+strconv.Itoa(i), `{"n":1}`, nil))
	}
	start := time.Now()
	require.NoError(t, c.Nodes[1].Kill())
	require.NoError(t, c.WaitNodes(2, 60*time.Second))
	t.Logf("node killed: cluster of 2 in %s", time.Since(start).Round(time.Millisecond))
	require.NoError(t, c.WaitStatus("yellow", 60*time.Second))
	var count struct {
		Count int `json:"count"`
	}
	require.NoError(t, c.Nodes[2].Request(ctx, "POST", "/logs-cluster/_refresh", "", nil))
	require.NoError(t, c.Nodes[2].Request(ctx, "GET", "/logs-cluster/_count", "", &count))
	require.Equal(t, 100, count.Count, "every document on the 2 nodes left")
	start = time.Now()
	require.NoError(t, c.Nodes[1].Start())
	require.NoError(t, c.WaitStatus("green", 60*time.Second))
	t.Logf("node back: green in %s", time.Since(start).Round(time.Millisecond))
}
