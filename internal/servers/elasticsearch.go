package servers

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
)

var (
	//go:embed elasticsearch/pom.xml
	esPOM string
	//go:embed opensearch/pom.xml
	osPOM string
	// The launcher of both engines, compiled by searchnode-fetch.sh.
	//go:embed Launcher.java
	launcher string
)

// Engine is a search engine that speaks the Elasticsearch 7 REST API which logcollect uses
// (olivere/elastic v7): Elasticsearch 7.17 or OpenSearch 2.19, each run from its jars on Maven
// Central (<Name>/pom.xml, <Name>/fetch.sh) by Launcher.java.
type Engine struct {
	// Name is "elasticsearch" or "opensearch": the directory of its files here and of its
	// jars in the cache, and what GET / reports as version.distribution (absent in ES).
	Name string
	// Version is pinned in <Name>/pom.xml, which fetch.sh resolves.
	Version string
	// initialManagers is the setting that names the nodes of a new cluster's first election:
	// OpenSearch renamed master to cluster manager, and warns about the old name.
	initialManagers string
	pom             string
	plugins         []string // Launcher's --plugin arguments: the pom's <launcher.plugins>
}

// The engines internal/servers can run.
var (
	EngineElasticsearch = newEngine("elasticsearch", "es.version", esPOM, "cluster.initial_master_nodes")
	EngineOpenSearch    = newEngine("opensearch", "os.version", osPOM, "cluster.initial_cluster_manager_nodes")
	// Engines are all of them, Elasticsearch first.
	Engines = []*Engine{EngineElasticsearch, EngineOpenSearch}
)

func newEngine(name, versionProp, pom, initialManagers string) *Engine {
	prop := func(p string) string {
		return regexp.MustCompile(`<` + p + `>(.+)</` + p + `>`).FindStringSubmatch(pom)[1]
	}
	var plugins []string
	for p := range strings.SplitSeq(prop("launcher.plugins"), ",") {
		plugins = append(plugins, "--plugin="+p)
	}
	return &Engine{Name: name, Version: prop(versionProp), initialManagers: initialManagers, pom: pom, plugins: plugins}
}

// String is the engine's name and version as GET / reports them, e.g. "opensearch 2.19.6".
func (e *Engine) String() string { return e.Name + " " + e.Version }

// Home returns the directory that <Name>/fetch.sh fills:
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/<Name>-<Version>. It is an error if the
// directory is incomplete or was made from another pom.xml or Launcher.java.
func (e *Engine) Home() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", fmt.Errorf("%s: locate the jars: %w", e.Name, err)
	}
	dir := filepath.Join(cache, e.Name+"-"+e.Version)
	stamp, err := os.ReadFile(filepath.Join(dir, "complete"))
	if err != nil {
		return "", fmt.Errorf("%s: no %s jars in %s: %s", e.Name, e, dir, e.fetchHint())
	}
	// fetch.sh's stamp: sha256 of pom.xml followed by Launcher.java.
	sum := sha256.Sum256([]byte(e.pom + launcher))
	if strings.TrimSpace(string(stamp)) != hex.EncodeToString(sum[:]) {
		return "", fmt.Errorf("%s: %s was made from another pom.xml or Launcher.java: %s", e.Name, dir, e.fetchHint())
	}
	return dir, nil
}

func (e *Engine) fetchHint() string {
	return "run `bash internal/servers/" + e.Name + "/fetch.sh` (needs mvn and a JDK 17)"
}

// ElasticsearchVersion is pinned in elasticsearch/pom.xml, which fetch.sh resolves.
var ElasticsearchVersion = EngineElasticsearch.Version

const (
	esReadyTimeout = 90 * time.Second
	esLogTail      = 60 // lines of the node log shown when something fails
)

// A fast-start node (ElasticsearchConfig.Tuned unset, what tests want) runs with
// fastStartJVMFlags and esJavaCommon. fetch.sh dumps the CDS archive with the same ones: keep
// them in step. The JVM ignores an archive made for another class path or JDK (with a warning
// in node.log), and the node then starts ~2.5 s slower. The archive is a dynamic one (no
// archived heap objects), so JDK 17 maps it whatever the GC, heap size or JIT: the tuned flags
// use it too (checked with -Xshare:on and -Xlog:class+load).
//
// Measured on 2 busy cores: ready in 1.8-3.1 s with the archive, ~5-6 s without; with C2 on
// too (no TieredStopAtLevel) 5 s, and 10,000 docs bulk-indexed in 13.9 s instead of 4 s.

// esTunedJavaFlags are the JVM's flags for a node that is measured (ElasticsearchConfig.Tuned):
// as a deployment runs it, so that a benchmark's ceiling is the node's and not the test
// flags'. C1 alone compiles ES's indexing code to slower machine code: on 2 quiet cores the
// fast-start node tops out at ~12.9k docs/s. GC as the 7.x distribution's jvm.options (G1
// with its two settings); the heap fixed (Xms = Xmx, as ES advises) at 1 GiB, the size 7.x
// shipped before it sized the heap from the RAM, plenty for the benchmarks' one shard.
var esTunedJavaFlags = []string{
	"-Xms1g", "-Xmx1g", "-XX:+UseG1GC", "-XX:G1ReservePercent=25", "-XX:InitiatingHeapOccupancyPercent=30",
}

// esJavaCommon are the JVM's flags whichever the set above:
//   - a node out of heap exits instead of limping on.
//   - java.locale.providers=SPI,COMPAT, as the 7.x distribution's jvm.options: SPI loads ES's
//     IsoCalendarDataProvider (ISO weeks) from the server jar, and COMPAT the pre-CLDR locale
//     data that ES 7's date formats were written for.
//   - log4j's shutdown hook is off: the launcher's own hook shuts log4j down after the node
//     has closed, so the closing lines reach node.log.
var esJavaCommon = []string{
	"-XX:+ExitOnOutOfMemoryError", "-Djava.locale.providers=SPI,COMPAT", "-Dlog4j2.shutdownHookEnabled=false",
}

// esLog4j sends the node's log4j output to stdout, which goes to node.log. Without a config
// log4j prints only errors, to the console. ES's own log4j2.properties (JSON layouts, the
// deprecation and slow logs, rolling files) is not needed by a test node.
const esLog4j = `appender.out.type=Console
appender.out.name=out
appender.out.layout.type=PatternLayout
appender.out.layout.pattern=[%d] %p %m (%c)%n
rootLogger.level=INFO
rootLogger.appenderRef.out.ref=out
`

// esSettings are the node's settings (Launcher's key=value arguments): %[1]s the home dir,
// %[2]s the data dir, %[3]d the HTTP port, %[4]d the transport port, %[5]s the cluster name,
// %[6]s the node name. ElasticsearchConfig.discovery adds how it finds its cluster.
//
// Gotchas:
//   - discovery.type=single-node (a node without Peers): the node elects itself without
//     cluster.initial_master_nodes and never looks for others.
//   - The disk threshold decider refuses to allocate shards when the disk is 85% full (and
//     makes indices read-only at 95%): test machines' disks can be that full.
//   - The real-memory parent circuit breaker (indices.breaker.total.use_real_memory) counts
//     the heap in use, garbage included, and only tries a GC before tripping with G1. With
//     the serial GC and a 512 MiB heap it could answer 429 circuit_breaking_exception to a
//     big bulk request: off as a precaution (not seen here), so the breaker adds up the
//     requests' own estimates, as in ES 6.
//   - Index-level defaults cannot be node settings in 7.x ("node settings must not contain any
//     index level settings"): new indices get 1 shard and 1 replica, which a single node
//     cannot assign, so their health is yellow. Set number_of_replicas: 0 in index templates
//     for green.
//   - Not available in Elasticsearch (not published on Maven Central for 7.x, see
//     elasticsearch/pom.xml): analysis-common (the core has the standard, simple, whitespace,
//     stop and keyword analyzers and the lowercase filter; pattern, fingerprint, language
//     analyzers and filters like asciifolding fail with "failed to find global
//     analyzer/filter"), painless scripts, ingest processors, and all of x-pack: data
//     streams, ILM, security, SQL. Composable index templates, match_only_text and
//     scaled_float work. OpenSearch publishes its modules: analysis-common and painless are
//     loaded there (opensearch/pom.xml), its plugins (security, ISM, ...) are not.
const esSettings = `path.home=%[1]s
path.data=%[2]s
http.port=%[3]d
transport.port=%[4]d
network.host=127.0.0.1
cluster.name=%[5]s
node.name=%[6]s
cluster.routing.allocation.disk.threshold_enabled=false
indices.breaker.total.use_real_memory=false
action.auto_create_index=true
`

// ElasticsearchConfig says which engine a node runs, where it keeps its state and which ports
// it listens on.
type ElasticsearchConfig struct {
	// Engine is the engine to run; nil means EngineElasticsearch.
	Engine *Engine
	// Dir holds log4j2.properties, node.log, home/ and data/. A dir with data from an earlier
	// run is reused: the node comes back with its indices. Required.
	Dir string
	// Port is the HTTP port, TransportPort the transport's, both on 127.0.0.1. Required and
	// distinct.
	Port, TransportPort int
	// ClusterName names the cluster (its data dir records it); "" means "logcollect-test".
	ClusterName string
	// NodeName names the node; "" means "node".
	NodeName string
	// Peers are the transport ports of the other nodes of a cluster, all master-eligible,
	// data nodes, and named in InitialNodes. Empty: a single-node cluster
	// (discovery.type=single-node).
	Peers []int
	// InitialNodes are the names of the nodes of a new cluster's first election (with Peers):
	// cluster.initial_master_nodes, or initial_cluster_manager_nodes in OpenSearch.
	InitialNodes []string
	// Home is what <engine>/fetch.sh made; "" means Engine.Home().
	Home string
	// Tuned runs the JVM as a deployment would (C2 JIT, 1 GiB heap, G1: esTunedJavaFlags)
	// instead of for a fast start (C1 only, 512 MiB, serial GC: fastStartJVMFlags). For
	// benchmarks of indexing: the node starts slower (4.5 s against 2-3 s, measured on 2
	// busy cores; C2 and G1's threads compete with startup) and indexes faster once warm.
	Tuned bool
}

// discovery returns the settings by which the node finds its cluster. A cluster's nodes
// detect a killed peer within a second or two: its transport connections close, and the
// follower and leader checks (every 1 s, 3 failures) catch the rest.
func (c *ElasticsearchConfig) discovery() []string {
	if len(c.Peers) == 0 {
		return []string{"discovery.type=single-node"}
	}
	seeds := make([]string, len(c.Peers))
	for i, p := range c.Peers {
		seeds[i] = loopback(p)
	}
	return []string{
		"discovery.seed_hosts=" + strings.Join(seeds, ","),
		c.Engine.initialManagers + "=" + strings.Join(c.InitialNodes, ","),
	}
}

// javaFlags returns the JVM flags that Tuned selects, without the class path, the CDS
// archive and the per-node properties.
func (c *ElasticsearchConfig) javaFlags() []string {
	return jvmFlags(c.Tuned, esTunedJavaFlags, esJavaCommon...)
}

func (c *ElasticsearchConfig) validate() error {
	if c.Engine == nil {
		c.Engine = EngineElasticsearch
	}
	switch {
	case c.Dir == "":
		return fmt.Errorf("%s: no data dir", c.Engine.Name)
	case c.Port <= 0 || c.TransportPort <= 0 || c.Port == c.TransportPort:
		return fmt.Errorf("%s: want two distinct ports, have %d and %d", c.Engine.Name, c.Port, c.TransportPort)
	case len(c.Peers) > 0 && len(c.InitialNodes) == 0:
		return fmt.Errorf("%s: a node with peers needs the initial nodes", c.Engine.Name)
	}
	if c.ClusterName == "" {
		c.ClusterName = "logcollect-test"
	}
	if c.NodeName == "" {
		c.NodeName = "node"
	}
	if c.Home == "" {
		home, err := c.Engine.Home()
		if err != nil {
			return err
		}
		c.Home = home
	}
	return nil
}

// Elasticsearch is a real search node — Elasticsearch 7.17 or OpenSearch 2.19 (its Engine) —
// running in a child JVM, started from the server jars on Maven Central by
// Launcher.java: on its own, or one of a cluster (ElasticsearchConfig.Peers). It
// speaks the HTTP API that github.com/olivere/elastic/v7 uses (create clients with
// SetSniff(false), given every node's URL).
// Its methods are not safe for concurrent use.
type Elasticsearch struct {
	cfg     ElasticsearchConfig
	version string // e.g. "elasticsearch 7.17.29", from GET /
	proc    Proc
	httpc   *http.Client
}

// NewElasticsearch writes the node's config into cfg.Dir; Start runs it.
func NewElasticsearch(cfg ElasticsearchConfig) (*Elasticsearch, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Elasticsearch{cfg: cfg, httpc: &http.Client{}} // each request's ctx has its timeout
	e.proc = Proc{Name: cfg.Engine.Name, Noun: "node", Log: e.path("node.log"), TailLines: esLogTail}
	for _, d := range []string{"home", "data"} {
		if err := os.MkdirAll(e.path(d), 0o755); err != nil {
			return nil, fmt.Errorf("%s: %w", cfg.Engine.Name, err)
		}
	}
	if err := writeFile(e.path("log4j2.properties"), esLog4j); err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Engine.Name, err)
	}
	return e, nil
}

// ElasticsearchHome returns the directory that elasticsearch/fetch.sh fills
// (EngineElasticsearch.Home).
func ElasticsearchHome() (string, error) { return EngineElasticsearch.Home() }

// Running reports whether the node was started and not stopped.
func (e *Elasticsearch) Running() bool { return e.proc.Running() }

// Engine is the engine the node runs.
func (e *Elasticsearch) Engine() *Engine { return e.cfg.Engine }

// TransportPort is the node's transport port, a peer of the other nodes of its cluster.
func (e *Elasticsearch) TransportPort() int { return e.cfg.TransportPort }

// URL returns the node's HTTP address, e.g. "http://127.0.0.1:9200".
func (e *Elasticsearch) URL() string { return "http://" + loopback(e.cfg.Port) }

// Ports returns the HTTP and transport ports.
func (e *Elasticsearch) Ports() []int { return []int{e.cfg.Port, e.cfg.TransportPort} }

// JavaFlags returns the node's JVM flags (heap, GC, JIT; not the class path and properties
// that name files), for a benchmark's report.
func (e *Elasticsearch) JavaFlags() []string { return e.cfg.javaFlags() }

// Version returns the engine's name and version as the node reports them once started, e.g.
// "elasticsearch 7.17.29".
func (e *Elasticsearch) Version() string { return e.version }

// Log is the path of the node's log file.
func (e *Elasticsearch) Log() string { return e.proc.Log }

// LogTail returns the last lines of the node's log, which explain a failure.
func (e *Elasticsearch) LogTail() string { return e.proc.LogTail() }

// Start starts the node, again after Stop or Kill on the same ports and with the same data,
// and waits until the cluster health is yellow or green (so the shards of existing indices
// are assigned: their data can be read). If ctx ends first, it kills the node.
func (e *Elasticsearch) Start(ctx context.Context) error {
	if e.proc.Running() {
		return fmt.Errorf("%s: node already running", e.cfg.Engine.Name)
	}

	args := e.cfg.javaFlags()
	if jsa := filepath.Join(e.cfg.Home, "node.jsa"); fileExists(jsa) {
		args = append(args, "-XX:SharedArchiveFile="+jsa)
	}
	args = append(args,
		"-Dlog4j2.configurationFile="+e.path("log4j2.properties"),
		// Its tmp dir (java.io.tmpdir, which Environment uses for JNA and the like) is the
		// node's dir, so nothing is left behind in /tmp.
		"-Djava.io.tmpdir="+e.cfg.Dir,
		"-cp", filepath.Join(e.cfg.Home, "libs", "*")+string(filepath.ListSeparator)+filepath.Join(e.cfg.Home, "launcher.jar"),
		"Launcher")
	args = append(args, e.cfg.Engine.plugins...)
	settings := fmt.Sprintf(esSettings, e.path("home"), e.path("data"), e.cfg.Port, e.cfg.TransportPort, e.cfg.ClusterName, e.cfg.NodeName)
	args = append(args, strings.Split(strings.TrimSpace(settings), "\n")...) // one per line: paths may hold spaces
	args = append(args, e.cfg.discovery()...)

	// Dir: a crash's hs_err file lands in the node's dir. Proc.Start sets Setpgid and
	// Pdeathsig.
	cmd := exec.Command("java", args...)
	cmd.Dir = e.cfg.Dir
	r, err := e.proc.Start(cmd)
	if err != nil {
		return err
	}
	if err := e.waitReady(ctx, r); err != nil {
		_ = e.Kill()
		if ctx.Err() != nil { // interrupted: the log says nothing about it
			return fmt.Errorf("%s: %w", e.cfg.Engine.Name, err)
		}
		return e.proc.startError(r, err)
	}
	return nil
}

// Stop stops the node gracefully (SIGTERM: it closes its shards) and waits until it has
// exited; after 15 s it kills it and returns an error. Stopping a stopped node does nothing.
func (e *Elasticsearch) Stop() error {
	err := e.proc.Stop(syscall.SIGTERM)
	e.httpc.CloseIdleConnections()
	return err
}

// Kill kills the node (SIGKILL), as a crash would, and waits until it has exited. Whatever
// was acknowledged is still there after Start: the translog is fsynced per request by
// default (index.translog.durability: request).
func (e *Elasticsearch) Kill() error { return e.proc.Stop(syscall.SIGKILL) }

// waitReady polls the cluster health until it is yellow or green. Until the node has started
// its HTTP port refuses connections; then the health is red until the master is elected and
// the shards of the existing indices are assigned (wait_for_status answers 408 meanwhile).
// It then reads the engine's name and version from GET /.
func (e *Elasticsearch) waitReady(ctx context.Context, r *Run) error {
	err := r.WaitReady(ctx, "node", esReadyTimeout, 100*time.Millisecond, func(ctx context.Context) error {
		return e.get(ctx, "/_cluster/health?wait_for_status=yellow&timeout=1s", nil)
	})
	if err != nil {
		return err
	}
	var root struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"` // "opensearch" there, absent in ES
		} `json:"version"`
	}
	if err := e.get(ctx, "/", &root); err != nil {
		return err
	}
	name := root.Version.Distribution
	if name == "" {
		name = "elasticsearch"
	}
	e.version = name + " " + root.Version.Number
	return nil
}

// Request sends a request with a JSON body (none if "") to the node, within 30 s, and decodes
// the JSON answer into v (if not nil); a status other than 2xx is an error.
func (e *Elasticsearch) Request(ctx context.Context, method, path, body string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := e.do(ctx, method, path, body, v); err != nil {
		return fmt.Errorf("%s: %w", e.cfg.Engine.Name, err)
	}
	return nil
}

// get GETs path, within 5 s, and decodes the JSON answer into v (if not nil); a status other
// than 2xx is an error.
func (e *Elasticsearch) get(ctx context.Context, path string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return e.do(ctx, http.MethodGet, path, "", v)
}

func (e *Elasticsearch) do(ctx context.Context, method, path, body string, v any) error {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.URL()+path, rd)
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

func (e *Elasticsearch) path(name string) string { return filepath.Join(e.cfg.Dir, name) }
