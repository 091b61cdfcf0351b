package testenv

import (
	"bytes"
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

	"github.com/logcollect/logcollect/internal/servers"
)

const (
	influx2Version   = "2.7.12"
	influx2FetchHint = "run `bash internal/testenv/influx2/fetch.sh` (builds influxd and its Rust Flux library, ~15 min cold)"
	// The org, bucket and token that StartInflux2 sets up.
	Influx2Org    = "logcollect"
	Influx2Bucket = "telegraf"
	influx2Token  = "logcollect-test-token"
)

// Influx2 is a real InfluxDB 2.x server (influxd) running as a child process, set up with
// one org, bucket and all-access token. Its methods are not safe for concurrent use.
type Influx2 struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	c    servers.Proc
}

// StartInflux2 starts a fresh InfluxDB 2.x on a free 127.0.0.1 port with its data in
// t.TempDir(), sets it up (POST /api/v2/setup: org Influx2Org, bucket Influx2Bucket, a
// token) and waits until /health passes. t.Cleanup stops it. Without the binary (see
// Influx2Binary) the test fails, or is skipped in a partial run (Missing).
func StartInflux2(t testing.TB) *Influx2 {
	t.Helper()
	skipShort(t, "starts InfluxDB 2")
	bin, err := Influx2Binary()
	if err != nil {
		Missing(t, err)
	}
	dir := t.TempDir()
	i := &Influx2{t: t, bin: bin, dir: dir}
	i.c = servers.Proc{Name: "influx2", Noun: "influxd", Log: filepath.Join(dir, "influxd.log"), TailLines: influxLogTail,
		CleanExit: exitedWithStatus}
	i.port, _ = freePorts(t)
	t.Cleanup(func() {
		logFailure(t, &i.c)
		if err := i.Stop(); err != nil {
			t.Log(err)
		}
	})
	if err := i.Start(); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"username":"admin","password":"admin-password","org":%q,"bucket":%q,"token":%q}`,
		Influx2Org, Influx2Bucket, influx2Token)
	if _, err := i.do(http.MethodPost, "/api/v2/setup", "", strings.NewReader(body), http.StatusCreated); err != nil {
		t.Fatal(err)
	}
	return i
}

// Influx2Binary returns the path of the 2.x influxd: $LOGCOLLECT_INFLUXD2 if set, else
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}/influxdb-2.7.12/bin/influxd, which
// influx2/fetch.sh builds.
func Influx2Binary() (string, error) {
	return cachedInfluxd("influx2", "LOGCOLLECT_INFLUXD2", influx2Version, influx2FetchHint)
}

// URL returns the server's base URL; it stays the same across Stop and Start.
func (i *Influx2) URL() string {
	return "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port))
}

// Token returns the all-access API token.
func (i *Influx2) Token() string { return influx2Token }

// Start starts the server (again, after Stop) on the same port with the same data and waits
// until GET /health answers 200.
func (i *Influx2) Start() error {
	if i.c.Running() {
		return errors.New("influx2: server already running")
	}
	cmd := exec.Command(i.bin,
		"--bolt-path", filepath.Join(i.dir, "data", "influxd.bolt"),
		"--engine-path", filepath.Join(i.dir, "data", "engine"),
		"--sqlite-path", filepath.Join(i.dir, "data", "influxd.sqlite"),
		"--http-bind-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(i.port)),
		"--reporting-disabled", "--log-level", "warn")
	cmd.Dir = i.dir
	cmd.Env = append(os.Environ(), "INFLUXD_CONFIG_PATH="+i.dir) // no stray config file
	r, err := i.c.Start(cmd)
	if err != nil {
		return err
	}
	start := time.Now()
	err = r.WaitReady(context.Background(), "influxd", influxReadyTimeout, 50*time.Millisecond, func(context.Context) error {
		_, err := i.do(http.MethodGet, "/health", "", nil, http.StatusOK)
		return err
	})
	if err != nil {
		_ = i.c.Stop(syscall.SIGKILL)
		return fmt.Errorf("influx2: %w\n%s", err, i.c.LogTail())
	}
	i.t.Logf("influx %s: %s ready in %s", influx2Version, i.URL(), time.Since(start).Round(time.Millisecond))
	return nil
}

// Stop stops the server gracefully (SIGTERM) and waits until it has exited.
func (i *Influx2) Stop() error { return i.c.Stop(syscall.SIGTERM) }

// Query runs one InfluxQL statement against the bucket (the 1.x-compatible /query, through
// the bucket's virtual database/retention-policy mapping) and returns its series.
func (i *Influx2) Query(bucket, influxql string) ([]Series, error) {
	params := url.Values{"q": {influxql}, "db": {bucket}}
	body, err := i.do(http.MethodGet, "/query?"+params.Encode(), influx2Token, nil, http.StatusOK)
	if err != nil {
		return nil, fmt.Errorf("influx2: query %q: %w", influxql, err)
	}
	return decodeInfluxQL(influxql, body)
}

func (i *Influx2) do(method, path, token string, body io.Reader, want int) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, i.URL()+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		return nil, fmt.Errorf("%s %s: %s: %.300s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// decodeInfluxQL decodes a /query answer.
func decodeInfluxQL(q string, body []byte) ([]Series, error) {
	var out struct {
		Results []struct {
			Series []Series `json:"series"`
			Error  string   `json:"error"`
		} `json:"results"`
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("query %q: %.200s", q, body)
	}
	if out.Error != "" {
		return nil, fmt.Errorf("query %q: %s", q, out.Error)
	}
	var series []Series
	for _, r := range out.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("query %q: %s", q, r.Error)
		}
		series = append(series, r.Series...)
	}
	return series, nil
}
