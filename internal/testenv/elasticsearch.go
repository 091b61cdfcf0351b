package testenv

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/internal/servers"
)

// Elasticsearch is a real search node — Elasticsearch 7.17 or OpenSearch 2.19 — running in a
// child JVM (servers.Elasticsearch), with its data in a test temp dir. Create olivere/elastic
// clients with SetSniff(false): there is one node and nothing to discover.
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
	// Engine is the engine to run; nil means servers.EngineElasticsearch.
	Engine *servers.Engine
	// Tuned runs the JVM as a deployment would (C2 JIT, 1 GiB heap, G1) instead of with the
	// fast-start flags tests use (servers.ElasticsearchConfig.Tuned): for benchmarks that
	// measure what the node indexes.
	Tuned bool
	// ports chooses the HTTP and transport ports; nil means freePorts. For the tests of the
	// retry on a taken port.
	ports func(testing.TB) (int, int)
}

// StartElasticsearchWithOptions is StartElasticsearch with the engine and JVM o asks for. A
// start that fails on a port taken meanwhile is tried again on fresh ports (startJVM).
func StartElasticsearchWithOptions(t testing.TB, o ElasticsearchOptions) *Elasticsearch {
	t.Helper()
	engine, home := engineJars(t, o.Engine, "starts %s node")
	return startJVM(t, engine.Name, o.ports, func(port, trPort int) (*Elasticsearch, error) {
		se, err := servers.NewElasticsearch(servers.ElasticsearchConfig{Engine: engine, Dir: t.TempDir(), Port: port, TransportPort: trPort, Home: home, Tuned: o.Tuned})
		if err != nil {
			return nil, err
		}
		return &Elasticsearch{t: t, Elasticsearch: se}, nil
	})
}

// orElasticsearch is engine, or Elasticsearch when engine is nil.
func orElasticsearch(engine *servers.Engine) *servers.Engine {
	if engine == nil {
		return servers.EngineElasticsearch
	}
	return engine
}

// engineJars is engine (nil: Elasticsearch) and the directory of its server jars, for a test
// that starts what (a format taking the engine's name): skipped under -short, and failed
// without the jars unless the run is partial (Missing).
func engineJars(t testing.TB, engine *servers.Engine, what string) (*servers.Engine, string) {
	t.Helper()
	engine = orElasticsearch(engine)
	skipShort(t, fmt.Sprintf(what, engine.Name))
	home, err := engine.Home()
	if err != nil {
		Missing(t, err)
	}
	return engine, home
}

// newSearchNode makes (does not start) a node of engine (nil: Elasticsearch) on free ports
// with its data in dir. The error is the missing jars' or a bad config's.
func newSearchNode(t testing.TB, engine *servers.Engine, dir string, tuned bool) (*servers.Elasticsearch, error) {
	engine = orElasticsearch(engine)
	home, err := engine.Home()
	if err != nil {
		return nil, err
	}
	port, trPort := freePorts(t)
	return servers.NewElasticsearch(servers.ElasticsearchConfig{Engine: engine, Dir: dir, Port: port, TransportPort: trPort, Home: home, Tuned: tuned})
}

// logFailure logs the last lines of the node's log if t has failed.
func (e *Elasticsearch) logFailure(t testing.TB) {
	if t.Failed() {
		t.Logf("%s: last lines of %s:\n%s", e.Engine().Name, e.Log(), e.LogTail())
	}
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

// FieldTypes returns the mapped type of every field of index, by dotted path, multi-fields
// included: {"@timestamp": "date", "host.name": "keyword", "message.keyword": "keyword"}. It
// reads GET /{index}/_mapping, which both engines answer alike (olivere/elastic's GetMapping
// asks for /{index}/_mapping/_all, a path with mapping types, which OpenSearch 2 refuses).
func (e *Elasticsearch) FieldTypes(t testing.TB, index string) map[string]string {
	t.Helper()
	var resp map[string]struct {
		Mappings mappingNode `json:"mappings"`
	}
	if err := e.Request(t.Context(), http.MethodGet, "/"+url.PathEscape(index)+"/_mapping", "", &resp); err != nil {
		t.Fatal(err)
	}
	m, ok := resp[index]
	if !ok {
		t.Fatalf("%s: no mapping for index %s", e.Engine().Name, index)
	}
	types := map[string]string{}
	m.Mappings.flatten("", types)
	return types
}

// mappingNode is a mapping, a field's or an object's.
type mappingNode struct {
	Type       string                 `json:"type"`
	Properties map[string]mappingNode `json:"properties"`
	Fields     map[string]mappingNode `json:"fields"`
}

func (n mappingNode) flatten(prefix string, into map[string]string) {
	for name, child := range n.Properties {
		path := prefix + name
		if child.Type != "" {
			into[path] = child.Type
		}
		child.flatten(path+".", into)
		for sub, f := range child.Fields {
			into[path+"."+sub] = f.Type
		}
	}
}

// DeleteIndices deletes every index of the node (not the hidden ones), for a test on a shared
// node (EachEngine) that searches across indices.
func (e *Elasticsearch) DeleteIndices(t testing.TB) {
	t.Helper()
	if err := e.Request(t.Context(), http.MethodDelete, "/*?expand_wildcards=open,closed", "", nil); err != nil {
		t.Fatal(err)
	}
}

// Client returns an olivere/elastic client of the node for a test's own requests, with
// sniffing off (the node advertises an address tests need not reach) and no health-check
// loop (the node is up; its stop is the test's business).
func (e *Elasticsearch) Client(t testing.TB, opts ...elastic.ClientOptionFunc) *elastic.Client {
	t.Helper()
	c, err := elastic.NewClient(append([]elastic.ClientOptionFunc{elastic.SetURL(e.URL()), elastic.SetSniff(false), elastic.SetHealthcheck(false)}, opts...)...)
	if err != nil {
		t.Fatalf("%s: client of %s: %v", e.Engine().Name, e.URL(), err)
	}
	return c
}
