package testenv

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/logcollect/logcollect/internal/servers"
)

// SearchEngines are the engines the tests of logcollect's Elasticsearch API run against
// (EachEngine): every engine of servers.Engines (Elasticsearch 7.17 and OpenSearch 2.19), or
// those named in LOGCOLLECT_ENGINES ("opensearch", "elasticsearch,opensearch"), for a quicker
// loop on one.
func SearchEngines() ([]*servers.Engine, error) {
	names := os.Getenv("LOGCOLLECT_ENGINES")
	if names == "" {
		return servers.Engines, nil
	}
	var engines []*servers.Engine
	for name := range strings.SplitSeq(names, ",") {
		i := slices.IndexFunc(servers.Engines, func(e *servers.Engine) bool { return e.Name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("LOGCOLLECT_ENGINES=%s: unknown engine %q, want elasticsearch or opensearch", names, name)
		}
		engines = append(engines, servers.Engines[i])
	}
	return engines, nil
}

// sharedNodes are the nodes EachEngine shares between the tests of one test binary: a JVM
// start costs 3-5 s on 2 cores, and a package's tests need one node per engine, not one per
// test. WithSharedSearchNodes stops them when the tests are done.
var sharedNodes struct {
	sync.Mutex
	enabled bool
	nodes   map[string]*servers.Elasticsearch // by engine name
	dirs    []string
}

// WithSharedSearchNodes wraps a package's testing.M (in TestMain) so that the nodes EachEngine
// starts are stopped, and their data dirs removed, once the tests have run:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(testenv.WithSharedSearchNodes(m)) }
func WithSharedSearchNodes(m interface{ Run() int }) interface{ Run() int } {
	sharedNodes.Lock()
	sharedNodes.enabled = true
	sharedNodes.Unlock()
	return sharedMain{m}
}

type sharedMain struct{ m interface{ Run() int } }

func (s sharedMain) Run() int {
	code := s.m.Run()
	sharedNodes.Lock()
	defer sharedNodes.Unlock()
	for name, n := range sharedNodes.nodes {
		if err := n.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: stop the shared %s node: %v\n", name, err)
			code = max(code, 1)
		}
	}
	for _, d := range sharedNodes.dirs {
		_ = os.RemoveAll(d)
	}
	return code
}

// EachEngine runs f as a subtest named after each engine of SearchEngines, with a running
// node of that engine. The node is shared by every EachEngine of the test binary (the
// package must call WithSharedSearchNodes in its TestMain): tests must use their own index
// and template names, and leave the node running (a test may Stop and Start it, or Kill and
// Start it). Without an engine's jars its subtest fails, or is skipped in a partial run (Missing).
func EachEngine(t *testing.T, f func(t *testing.T, node *Elasticsearch)) {
	t.Helper()
	engines, err := SearchEngines()
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range engines {
		t.Run(engine.Name, func(t *testing.T) { f(t, SharedSearchNode(t, engine)) })
	}
}

// SharedSearchNode returns the running node of engine that the tests of this test binary share
// (see EachEngine), starting it if need be: for a test that needs one engine's node.
func SharedSearchNode(t *testing.T, engine *servers.Engine) *Elasticsearch {
	t.Helper()
	node := sharedNode(t, engine)
	e := &Elasticsearch{t: t, Elasticsearch: node}
	t.Cleanup(func() {
		e.logFailure(t)
		if !node.Running() { // a test that failed between a Stop and a Start
			if err := e.Start(); err != nil {
				t.Error(err)
			}
		}
	})
	return e
}

// sharedNode returns the running shared node of engine, starting it if need be.
func sharedNode(t *testing.T, engine *servers.Engine) *servers.Elasticsearch {
	t.Helper()
	skipShort(t, "starts "+engine.Name+" node")
	sharedNodes.Lock()
	defer sharedNodes.Unlock()
	if !sharedNodes.enabled {
		t.Fatal("testenv.EachEngine: call testenv.WithSharedSearchNodes in the package's TestMain")
	}
	if n := sharedNodes.nodes[engine.Name]; n != nil {
		return n
	}
	dir, err := os.MkdirTemp("", "testenv-"+engine.Name+"-")
	if err != nil {
		t.Fatal(err)
	}
	sharedNodes.dirs = append(sharedNodes.dirs, dir)
	node, err := newSearchNode(t, engine, dir, false)
	if err != nil {
		Missing(t, err)
	}
	e := &Elasticsearch{t: t, Elasticsearch: node}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	if sharedNodes.nodes == nil {
		sharedNodes.nodes = map[string]*servers.Elasticsearch{}
	}
	sharedNodes.nodes[engine.Name] = node
	return node
}
