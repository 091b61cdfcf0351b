package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/servers"
)

// Elasticsearch is a real single Elasticsearch 7 node running in a child JVM
// (servers.Elasticsearch), with its data in a test temp dir. Create olivere/elastic clients
// with SetSniff(false): there is one node and nothing to discover.
// Its methods are not safe for concurrent use.
type Elasticsearch struct {
	t testing.TB
	*servers.Elasticsearch
}

// StartElasticsearch starts a fresh node on free 127.0.0.1 ports with its data in
// t.TempDir(), and waits until the cluster health is yellow or green. t.Cleanup stops it
// (killing it if a graceful stop takes over 15 s). Without the jars (see ElasticsearchHome)
// the test fails, or is skipped in a partial run (Missing).
func StartElasticsearch(t testing.TB) *Elasticsearch {
	t.Helper()
	return StartElasticsearchWithOptions(t, ElasticsearchOptions{})
}

// ElasticsearchOptions configure the node of StartElasticsearchWithOptions.
type ElasticsearchOptions struct {
	// Tuned runs the JVM as a deployment would (C2 JIT, 1 GiB heap, G1) instead of with the
	// fast-start flags tests use (servers.ElasticsearchConfig.Tuned): for benchmarks that
	// measure what the node indexes.
	Tuned bool
	// ports chooses the HTTP and transport ports; nil means freePorts. For the tests of the
	// retry on a taken port.
	ports func(testing.TB) (int, int)
}

// StartElasticsearchWithOptions is StartElasticsearch with the JVM o asks for.
func StartElasticsearchWithOptions(t testing.TB, o ElasticsearchOptions) *Elasticsearch {
	t.Helper()
	skipShort(t, "starts an Elasticsearch node")
	home, err := ElasticsearchHome()
	if err != nil {
		Missing(t, err)
	}
	return startJVM(t, "elasticsearch", o.ports, func(port, trPort int) (*Elasticsearch, error) {
		se, err := servers.NewElasticsearch(servers.ElasticsearchConfig{Dir: t.TempDir(), Port: port, TransportPort: trPort, Home: home, Tuned: o.Tuned})
		if err != nil {
			return nil, err
		}
		return &Elasticsearch{t: t, Elasticsearch: se}, nil
	})
}

// ElasticsearchHome returns the directory that elasticsearch/fetch.sh fills
// (servers.ElasticsearchHome).
func ElasticsearchHome() (string, error) { return servers.ElasticsearchHome() }

// Start starts the node again after Stop or Kill, on the same ports and with the same data,
// and waits until the cluster health is yellow or green. A port still taken
// (servers.ErrPortInUse) is waited for, and the start tried again (restartOnSamePorts).
func (e *Elasticsearch) Start() error {
	return restartOnSamePorts(e.t, e.startOnce, e.Ports())
}

func (e *Elasticsearch) startOnce() error {
	start := time.Now()
	if err := e.Elasticsearch.Start(context.Background()); err != nil {
		return err
	}
	e.t.Logf("%s: node %s ready in %s", e.Version(), e.URL(), time.Since(start).Round(time.Millisecond))
	return nil
}
