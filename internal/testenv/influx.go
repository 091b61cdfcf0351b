package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/servers"
)

const (
	influxVersion      = "1.8.10"
	influxFetchHint    = "run `bash internal/testenv/influx/fetch.sh` (builds it with go install, ~95 s cold)"
	influxReadyTimeout = 30 * time.Second
	influxLogTail      = 50 // lines of the server log shown when something fails
)

// influxConf is influxd's config: %[1]d is the HTTP port, %[2]d the RPC (backup/restore)
// port, %[3]s the data dir, %[4]t whether authentication is on, %[5]t whether the HTTP API
// is served over TLS (HTTPS only), with the certificate %[6]q and key %[7]q.
//
// Gotchas:
//   - The top-level bind-address (RPC, default 127.0.0.1:8088) must move too, or a second
//     server on the machine fails to start.
//   - The _internal monitor database would add its own writes every 10 s; it is off.
//   - Flux is off: with flux-enabled = true influxd spends ~10 s at startup (measured 11 s vs
//     0.1 s on 2 cores) before it listens. InfluxQL over /query is always on.
const influxConf = `reporting-disabled = true
bind-address = "127.0.0.1:%[2]d"

[meta]
  dir = "%[3]s/meta"
  logging-enabled = false

[data]
  dir = "%[3]s/data"
  wal-dir = "%[3]s/wal"
  query-log-enabled = false
  wal-fsync-delay = "0s"

[monitor]
  store-enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%[1]d"
  auth-enabled = %[4]t
  https-enabled = %[5]t
  https-certificate = %[6]q
  https-private-key = %[7]q
  log-enabled = true
  suppress-write-log = true
  flux-enabled = false
  pprof-enabled = false
  unix-socket-enabled = false

[logging]
  level = "info"
  suppress-logo = true

[continuous_queries]
  enabled = false
`

// Influx is a real InfluxDB 1.8 server (influxd) running as a child process. It serves the
// 1.x API (/query, /write) and the v2-compatible /api/v2/write and /health used by
// influxdb-client-go/v2: there the bucket is "db" or "db/rp", the org is ignored and the token
// is "user:password" (anything while authentication is off).
// Its methods are not safe for concurrent use.
type Influx struct {
	t              testing.TB
	bin            string
	dir            string // influxd.conf, influxd.log, data/
	port           int    // HTTP: the same across Stop and Start
	user, password string // admin credentials when authentication is on
	tls            bool   // HTTPS only
	cert, key      string // the server's certificate and key files, with tls
	httpc          *http.Client
	c              servers.Proc
}

// StartInflux starts a fresh InfluxDB with authentication off, on free 127.0.0.1 ports with
// its data in t.TempDir(), and waits until /ping answers. t.Cleanup stops it. Without the
// binary (see InfluxBinary) the test fails, or is skipped in a partial run (Missing).
func StartInflux(t testing.TB) *Influx {
	t.Helper()
	return startInflux(t, "", "", nil)
}

// StartInfluxWithAuth is StartInflux with authentication on and an admin user, which the
// helpers (CreateDatabase, Query) use. Writers authenticate with the token "user:password".
func StartInfluxWithAuth(t testing.TB, user, password string) *Influx {
	t.Helper()
	if user == "" {
		t.Fatal("influx: empty admin user name")
	}
	return startInflux(t, user, password, nil)
}

// StartInfluxTLS is StartInfluxWithAuth serving HTTPS only, with certs' server certificate
// (for 127.0.0.1 and localhost, signed by certs.CA); URL is then https://. The helpers trust
// certs.CA. An empty user leaves authentication off.
func StartInfluxTLS(t testing.TB, certs *Certs, user, password string) *Influx {
	t.Helper()
	return startInflux(t, user, password, certs)
}

func startInflux(t testing.TB, user, password string, certs *Certs) *Influx {
	t.Helper()
	skipShort(t, "starts InfluxDB 1")
	bin, err := InfluxBinary()
	if err != nil {
		Missing(t, err)
	}
	dir := t.TempDir()
	i := &Influx{t: t, bin: bin, dir: dir, user: user, password: password, httpc: http.DefaultClient}
	if certs != nil {
		tlsCfg, err := config.TLSConfig{Enabled: true, CAFile: certs.CA}.Build()
		if err != nil {
			t.Fatal(err)
		}
		i.tls, i.cert, i.key = true, certs.ServerCert, certs.ServerKey
		i.httpc = &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	}
	i.c = servers.Proc{Name: "influx", Noun: "influxd", Log: i.path("influxd.log"), TailLines: influxLogTail,
		CleanExit: exitedWithStatus}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	i.port = port
	t.Cleanup(i.cleanup)
	if err := i.Start(); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		// With auth on and no user yet, 1.x accepts exactly this one statement unauthenticated.
		q := fmt.Sprintf("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES", quoteIdent(user), strings.ReplaceAll(password, "'", `\'`))
		if _, err := i.query("", q, http.MethodPost); err != nil {
			t.Fatal(err)
		}
	}
	return i
}

// InfluxBinary returns the path of influxd: $LOGCOLLECT_INFLUXD if set, else
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-1.8.10/bin/influxd, which
// influx/fetch.sh builds.
func InfluxBinary() (string, error) {
	return cachedInfluxd("influx", "LOGCOLLECT_INFLUXD", influxVersion, influxFetchHint)
}

// cachedInfluxd returns $env if set, else the influxd that a fetch script built into
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-<version>/bin; name prefixes errors,
// which end with hint.
func cachedInfluxd(name, env, version, hint string) (string, error) {
	if bin := os.Getenv(env); bin != "" {
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %s: %w: unset it and %s", name, env, err, hint)
		}
		return filepath.Abs(bin)
	}
	cache, err := cacheDir()
	if err != nil {
		return "", fmt.Errorf("%s: locate influxd: %w", name, err)
	}
	dir := filepath.Join(cache, "influxdb-"+version)
	if _, err := os.Stat(filepath.Join(dir, "complete")); err != nil {
		return "", fmt.Errorf("%s: no InfluxDB %s in %s: %s", name, version, dir, hint)
	}
	return filepath.Join(dir, "bin", "influxd"), nil
}

// URL returns the server's base URL, e.g. "http://127.0.0.1:41234" ("https://" with TLS). It
// stays the same across Stop and Start.
func (i *Influx) URL() string {
	scheme := "http://"
	if i.tls {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port))
}

// Token returns the token a v2 client needs: "user:password" with authentication on, ""
// otherwise.
func (i *Influx) Token() string {
	if i.user == "" {
		return ""
	}
	return i.user + ":" + i.password
}

// Start starts the server again after Stop or Kill, on the same ports and with the same data,
// and waits until /ping answers 204.
func (i *Influx) Start() error {
	if i.c.Running() {
		return errors.New("influx: server already running")
	}
	rpc, err := freePort()
	if err != nil {
		return fmt.Errorf("influx: %w", err)
	}
	// The RPC port is chosen again at every start: nothing connects to it, and another test
	// may have taken it while the server was stopped.
	conf := fmt.Appendf(nil, influxConf, i.port, rpc, filepath.Join(i.dir, "data"), i.user != "", i.tls, i.cert, i.key)
	if err := os.WriteFile(i.path("influxd.conf"), conf, 0o644); err != nil {
		return fmt.Errorf("influx: %w", err)
	}
	cmd := exec.Command(i.bin, "run", "-config", i.path("influxd.conf"))
	cmd.Dir = i.dir
	r, err := i.c.Start(cmd)
	if err != nil {
		return err
	}

	start := time.Now()
	if err := i.waitReady(r); err != nil {
		_ = i.Kill()
		return fmt.Errorf("influx: %w\n%s", err, i.c.LogTail())
	}
	i.t.Logf("influx %s: %s ready in %s", influxVersion, i.URL(), time.Since(start).Round(time.Millisecond))
	return nil
}

// Stop stops the server gracefully (SIGTERM) and waits until it has exited; after 15 s it
// kills it and returns an error. Stopping a stopped server does nothing.
func (i *Influx) Stop() error { return i.stop(syscall.SIGTERM) }

// Kill kills the server (SIGKILL), as a crash would, and waits until it has exited.
func (i *Influx) Kill() error { return i.stop(syscall.SIGKILL) }

func (i *Influx) stop(sig syscall.Signal) error { return i.c.Stop(sig) }

// exitedWithStatus is influxd's CleanExit: it exits 0 after a SIGTERM (graceful shutdown) or
// with the signal's status.
func exitedWithStatus(err error) bool {
	var exit *exec.ExitError
	return err == nil || errors.As(err, &exit)
}

func (i *Influx) waitReady(p *servers.Run) error {
	return p.WaitReady(context.Background(), "influxd", influxReadyTimeout, 50*time.Millisecond,
		servers.HTTPStatus(i.httpc, i.URL()+"/ping", http.StatusNoContent))
}

// CreateDatabase creates the database name (the bucket "name" or "name/autogen" for a v2
// client). Creating an existing one does nothing.
func (i *Influx) CreateDatabase(name string) error {
	_, err := i.query("", "CREATE DATABASE "+quoteIdent(name), http.MethodPost)
	return err
}

// Series is one series of an InfluxQL result: rows of Values in the order of Columns (the
// first column is "time", an RFC 3339 string). Numbers are json.Number.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Rows returns the series' rows as maps from column to value.
func (s Series) Rows() []map[string]any {
	rows := make([]map[string]any, len(s.Values))
	for r, vals := range s.Values {
		row := make(map[string]any, len(vals))
		for c, v := range vals {
			if c < len(s.Columns) {
				row[s.Columns[c]] = v
			}
		}
		rows[r] = row
	}
	return rows
}

// Query runs one InfluxQL statement (read-only, e.g. SELECT or SHOW) against db and returns
// the series of its result. An error in the statement is an error.
func (i *Influx) Query(db, influxql string) ([]Series, error) {
	return i.query(db, influxql, http.MethodGet)
}

func (i *Influx) query(db, q, method string) ([]Series, error) {
	params := url.Values{"q": {q}} // no epoch: times are RFC 3339 strings
	if db != "" {
		params.Set("db", db)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, method, i.URL()+"/query?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, method, i.URL()+"/query", strings.NewReader(params.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, fmt.Errorf("influx: query %q: %w", q, err)
	}
	if i.user != "" && !strings.HasPrefix(q, "CREATE USER") {
		req.SetBasicAuth(i.user, i.password)
	}
	resp, err := i.httpc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("influx: query %q: %w", q, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("influx: query %q: %w", q, err)
	}
	var out struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("influx: query %q: %s: %.200s", q, resp.Status, body)
	}
	if out.Error != "" {
		return nil, fmt.Errorf("influx: query %q: %s: %s", q, resp.Status, out.Error)
	}
	var series []Series
	for _, r := range out.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("influx: query %q: %s", q, r.Error)
		}
		series = append(series, r.Series...)
	}
	return series, nil
}

// quoteIdent quotes an InfluxQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (i *Influx) cleanup() {
	if i.t.Failed() {
		i.t.Logf("influx: last lines of %s:\n%s", i.c.Log, i.c.LogTail())
	}
	if err := i.Stop(); err != nil {
		i.t.Log(err)
	}
}

func (i *Influx) path(name string) string { return filepath.Join(i.dir, name) }
