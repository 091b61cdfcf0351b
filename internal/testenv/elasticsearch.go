package testenv

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	//go:embed elasticsearch/pom.xml
	esPOM string
	//go:embed elasticsearch/Launcher.java
	esLauncher string
)

// esVersion is pinned in elasticsearch/pom.xml, which fetch.sh resolves.
var esVersion = regexp.MustCompile(`<es.version>(.+)</es.version>`).FindStringSubmatch(esPOM)[1]

const (
	esFetchHint    = "run `bash internal/testenv/elasticsearch/fetch.sh` (needs mvn and a JDK 17)"
	esReadyTimeout = 90 * time.Second
	esLogTail      = 60 // lines of the node log shown when something fails
)

// esJavaFlags are the JVM's flags. fetch.sh dumps the CDS archive with the same ones: keep
// them in step. The JVM ignores an archive made for another class path, JDK or GC (with a
// warning in node.log), and the node then starts ~2.5 s slower.
//
// Measured on 2 busy cores: ready in 1.8-3.1 s with the archive, ~5-6 s without; with C2 on
// too (no TieredStopAtLevel) 5 s, and 10,000 docs bulk-indexed in 13.9 s instead of 4 s.
//
//   - C1 only (TieredStopAtLevel=1) and the serial GC, as for Kafka: C2 and G1's threads
//     fight the node's own for 2 cores during startup.
//   - java.locale.providers=SPI,COMPAT, as the 7.x distribution's jvm.options: SPI loads ES's
//     IsoCalendarDataProvider (ISO weeks) from the server jar, and COMPAT the pre-CLDR locale
//     data that ES 7's date formats were written for.
//   - log4j's shutdown hook is off: the launcher's own hook shuts log4j down after the node
//     has closed, so the closing lines reach node.log.
var esJavaFlags = []string{
	"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError",
	"-Djava.locale.providers=SPI,COMPAT", "-Dlog4j2.shutdownHookEnabled=false",
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
// %[2]s the data dir, %[3]d the HTTP port, %[4]d the transport port.
//
// Gotchas:
//   - discovery.type=single-node: the node elects itself without cluster.initial_master_nodes
//     and never looks for others.
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
//   - Not available (not published on Maven Central for 7.x, see elasticsearch/pom.xml):
//     analysis-common (the core has the standard, simple, whitespace, stop and keyword
//     analyzers and the lowercase filter; pattern, fingerprint, language analyzers and
//     filters like asciifolding fail with "failed to find global analyzer/filter"), painless
//     scripts, ingest processors, and all of x-pack: data streams, ILM, security, SQL.
//     Composable index templates, match_only_text and scaled_float work.
const esSettings = `path.home=%[1]s
path.data=%[2]s
http.port=%[3]d
transport.port=%[4]d
network.host=127.0.0.1
discovery.type=single-node
cluster.name=logcollect-test
cluster.routing.allocation.disk.threshold_enabled=false
indices.breaker.total.use_real_memory=false
action.auto_create_index=true
`

// Elasticsearch is a real single Elasticsearch 7 node running in a child JVM, started from
// the server jars on Maven Central by elasticsearch/Launcher.java. It speaks the HTTP API that
// github.com/olivere/elastic/v7 uses (create clients with SetSniff(false): there is one node
// and nothing to discover).
// Its methods are not safe for concurrent use.
type Elasticsearch struct {
	t            testing.TB
	home         string // libs/, launcher.jar, node.jsa: what fetch.sh made
	dir          string // log4j2.properties, node.log, home/, data/
	port, trPort int    // HTTP and transport
	version      string // e.g. "elasticsearch 7.17.29", from GET /
	c            child
	httpc        *http.Client
}

// StartElasticsearch starts a fresh node on free 127.0.0.1 ports with its data in
// t.TempDir(), and waits until the cluster health is yellow or green. t.Cleanup stops it
// (killing it if a graceful stop takes over 15 s). Without the jars (see ElasticsearchHome)
// the test is skipped, or fails when CI=true.
func StartElasticsearch(t testing.TB) *Elasticsearch {
	t.Helper()
	home, err := ElasticsearchHome()
	if err != nil {
		skipOrFail(t, err)
	}
	dir := t.TempDir()
	e := &Elasticsearch{t: t, home: home, dir: dir, httpc: &http.Client{Timeout: 5 * time.Second}}
	e.c = child{name: "elasticsearch", noun: "node", log: e.path("node.log"), tailLines: esLogTail}
	e.port, e.trPort = freePorts(t)
	for _, d := range []string{"home", "data"} {
		if err := os.Mkdir(e.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(e.path("log4j2.properties"), []byte(esLog4j), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.cleanup)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	return e
}

// ElasticsearchHome returns the directory that elasticsearch/fetch.sh fills:
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/elasticsearch-<version>. It is an error if the
// directory is incomplete or was made from another pom.xml or Launcher.java.
func ElasticsearchHome() (string, error) {
	cache, err := cacheDir()
	if err != nil {
		return "", fmt.Errorf("elasticsearch: locate the jars: %w", err)
	}
	dir := filepath.Join(cache, "elasticsearch-"+esVersion)
	stamp, err := os.ReadFile(filepath.Join(dir, "complete"))
	if err != nil {
		return "", fmt.Errorf("elasticsearch: no Elasticsearch %s jars in %s: %s", esVersion, dir, esFetchHint)
	}
	// fetch.sh's stamp: sha256 of pom.xml followed by Launcher.java.
	sum := sha256.Sum256([]byte(esPOM + esLauncher))
	if strings.TrimSpace(string(stamp)) != hex.EncodeToString(sum[:]) {
		return "", fmt.Errorf("elasticsearch: %s was made from another pom.xml or Launcher.java: %s", dir, esFetchHint)
	}
	return dir, nil
}

// URL returns the node's HTTP address, e.g. "http://127.0.0.1:41234". It stays the same
// across Stop and Start.
func (e *Elasticsearch) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(e.port))
}

// Version returns the engine's name and version as the node reports them, e.g.
// "elasticsearch 7.17.29".
func (e *Elasticsearch) Version() string { return e.version }

// Start starts the node again after Stop or Kill, on the same ports and with the same data,
// and waits until the cluster health is yellow or green (so the shards of existing indices
// are assigned: their data can be read).
func (e *Elasticsearch) Start() error {
	if e.c.running() {
		return errors.New("elasticsearch: node already running")
	}

	args := append([]string{}, esJavaFlags...)
	if jsa := filepath.Join(e.home, "node.jsa"); esFileExists(jsa) {
		args = append(args, "-XX:SharedArchiveFile="+jsa)
	}
	args = append(args,
		"-Dlog4j2.configurationFile="+e.path("log4j2.properties"),
		// Its tmp dir (java.io.tmpdir, which Environment uses for JNA and the like) is the
		// test's, so nothing is left behind in /tmp.
		"-Djava.io.tmpdir="+e.dir,
		"-cp", filepath.Join(e.home, "libs", "*")+string(filepath.ListSeparator)+filepath.Join(e.home, "launcher.jar"),
		"Launcher")
	settings := fmt.Sprintf(esSettings, e.path("home"), e.path("data"), e.port, e.trPort)
	args = append(args, strings.Split(strings.TrimSpace(settings), "\n")...) // one per line: paths may hold spaces

	// Dir: a crash's hs_err file lands in the test's dir. child.start sets Setpgid and
	// Pdeathsig.
	cmd := exec.Command("java", args...)
	cmd.Dir = e.dir
	start := time.Now()
	r, err := e.c.start(cmd)
	if err != nil {
		return err
	}

	if err := e.waitReady(r); err != nil {
		_ = e.Kill()
		return fmt.Errorf("elasticsearch: %w\n%s", err, e.c.logTail())
	}
	e.t.Logf("%s: node %s ready in %s", e.version, e.URL(), time.Since(start).Round(time.Millisecond))
	return nil
}

// Stop stops the node gracefully (SIGTERM: it closes its shards) and waits until it has
// exited; after 15 s it kills it and returns an error. Stopping a stopped node does nothing.
func (e *Elasticsearch) Stop() error { return e.stop(syscall.SIGTERM) }

// Kill kills the node (SIGKILL), as a crash would, and waits until it has exited. Whatever
// was acknowledged is still there after Start: the translog is fsynced per request by
// default (index.translog.durability: request).
func (e *Elasticsearch) Kill() error { return e.stop(syscall.SIGKILL) }

// The JVM exits with 128+15 after a SIGTERM, once the shutdown hook has closed the node.
func (e *Elasticsearch) stop(sig syscall.Signal) error { return e.c.stop(sig) }

// waitReady polls the cluster health until it is yellow or green. Until the node has started
// its HTTP port refuses connections; then the health is red until the master is elected and
// the shards of the existing indices are assigned (wait_for_status answers 408 meanwhile).
// It then reads the engine's name and version from GET /.
func (e *Elasticsearch) waitReady(p *childRun) error {
	deadline := time.Now().Add(esReadyTimeout)
	var last error
	for {
		last = e.get("/_cluster/health?wait_for_status=yellow&timeout=1s", nil)
		if last == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node not ready after %s: %w", esReadyTimeout, last)
		}
		select {
		case <-p.done:
			return fmt.Errorf("node exited during startup: %v", p.err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	var root struct {
		Version struct {
			Number       string `json:"number"`
			Distribution string `json:"distribution"` // "opensearch" there, absent in ES
		} `json:"version"`
	}
	if err := e.get("/", &root); err != nil {
		return err
	}
	name := root.Version.Distribution
	if name == "" {
		name = "elasticsearch"
	}
	e.version = name + " " + root.Version.Number
	return nil
}

// get GETs path and decodes the JSON answer into v (if not nil); any status but 200 is an error.
func (e *Elasticsearch) get(path string, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL()+path, nil)
	if err != nil {
		return err
	}
	resp, err := e.httpc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, body)
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	return nil
}

func (e *Elasticsearch) cleanup() {
	e.c.logFailure(e.t)
	if err := e.Stop(); err != nil {
		e.t.Log(err)
	}
	e.httpc.CloseIdleConnections()
}

func (e *Elasticsearch) path(name string) string { return filepath.Join(e.dir, name) }

func esFileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}
