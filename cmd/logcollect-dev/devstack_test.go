package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	osexec "os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/logcollect/logcollect/internal/devstack"
	"github.com/logcollect/logcollect/internal/testenv"
)

// buildDaemons builds the daemons and logctl as `make build` does (-trimpath, so the packages
// come from the same build cache) into a temp dir.
func buildDaemons(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := osexec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-trimpath", "-o", dir+"/",
		"./cmd/logagent", "./cmd/logtransfer", "./cmd/sysmon", "./cmd/logctl")
	cmd.Dir = filepath.Join("..", "..")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	t.Logf("built the daemons and logctl in %s", time.Since(start).Round(time.Millisecond))
	return dir
}

// logctl runs bin/logctl with args, with the test's environment, and returns its exit status
// and output.
func logctl(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut strings.Builder
	cmd := osexec.Command(filepath.Join(bin, "logctl"), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *osexec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), out.String(), errOut.String()
	}
	require.NoError(t, err)
	return 0, out.String(), errOut.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// devPorts returns free loopback ports for every part of the stack.
func devPorts(t *testing.T) devstack.Ports {
	t.Helper()
	var ports [10]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close() // held until all are chosen, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return devstack.Ports{
		EtcdClient: ports[0], EtcdPeer: ports[1], Kafka: ports[2], KafkaController: ports[3],
		Elasticsearch: ports[4], ElasticsearchTransport: ports[5],
		Logagent: ports[6], Logtransfer: ports[7], Sysmon: ports[8], Prometheus: ports[9],
	}
}

// esCount is the number of documents in the demo indices.
func esCount(t *testing.T, url string) int64 { return esCountQuery(t, url, devstack.IndexPattern, "") }

// esCountQuery is the number of documents in the indices matching pattern that match q, a
// query in Lucene syntax ("" for all).
func esCountQuery(t *testing.T, url, pattern, q string) int64 {
	t.Helper()
	u := url + "/" + pattern + "/_count"
	if q != "" {
		u += "?q=" + neturl.QueryEscape(q)
	}
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	var c struct{ Count int64 }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	return c.Count
}

// needs fails the test when a fetched server is missing, or skips it in a partial run
// (testenv.Missing).
func needs(t *testing.T, find func() (string, error)) {
	t.Helper()
	if _, err := find(); err != nil {
		testenv.Missing(t, err)
	}
}

// The dev stack of `make run`, on kfake (`make run EMBEDDED=1`) and on the real broker,
// driven as a user would with the logctl binary: generated lines are searchable within seconds, the
// README's logctl commands work, `logctl agents` lists the agent, `logctl config set` of a new
// task makes a new file flow without a restart, and a restart on the same dir resumes
// without losing a line or indexing one twice.
func TestDevStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Elasticsearch and builds the daemons")
	}
	needs(t, testenv.ElasticsearchHome)
	bin := buildDaemons(t)
	t.Run("kfake", func(t *testing.T) { testDevStack(t, bin, true) })
	t.Run("kafka", func(t *testing.T) {
		needs(t, testenv.KafkaLibs)
		testDevStack(t, bin, false)
	})
	// Ctrl-C while the JVMs start: Start returns at once and leaves nothing running.
	t.Run("interrupted start", func(t *testing.T) {
		needs(t, testenv.KafkaLibs)
		ports := devPorts(t)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := devstack.Start(ctx, devstack.Config{Dir: t.TempDir(), BinDir: bin, Ports: ports})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Less(t, time.Since(start), 20*time.Second)
		for _, port := range []int{ports.Kafka, ports.Elasticsearch, ports.EtcdClient} {
			_, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
			require.Error(t, err, "port %d still open", port)
		}
	})
}

func testDevStack(t *testing.T, bin string, embedded bool) {
	cfg := devstack.Config{
		Dir: t.TempDir(), BinDir: bin, Embedded: embedded, Ports: devPorts(t), Rate: 100,
		RotateBytes:    64 << 10, // ~3 s of lines: the test sees rotations
		PrometheusYAML: filepath.Join("..", "..", "deploy", "prometheus", "prometheus.yml"),
	}
	// On kfake, sysmon gets a real InfluxDB when one is installed.
	var influx *testenv.Influx
	if _, err := testenv.InfluxBinary(); err == nil && embedded {
		influx = testenv.StartInflux(t)
		require.NoError(t, influx.CreateDatabase("telegraf"))
		cfg.InfluxURL = influx.URL()
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	start := time.Now()
	s, err := devstack.Start(ctx, cfg)
	// A port chosen free can be taken (e.g. as another test's outgoing ephemeral port) before
	// the JVM binds it, with the whole suite running at once: start again on new ports.
	for attempt := 1; err != nil && strings.Contains(err.Error(), "Address already in use") && attempt < 3; attempt++ {
		t.Logf("start again on new ports: %v", firstLine(err.Error()))
		cfg.Dir, cfg.Ports = t.TempDir(), devPorts(t)
		s, err = devstack.Start(ctx, cfg)
	}
	require.NoError(t, err)
	t.Logf("started in %s", time.Since(start).Round(time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			require.NoError(t, s.Stop())
		}
	})
	t.Setenv("LOGCTL_ETCD", s.EtcdEndpoints()[0])
	t.Setenv("LOGCTL_BROKERS", s.Brokers()[0])
	t.Setenv("LOGCTL_ES", s.ElasticsearchURL())
	var summary strings.Builder
	s.PrintSummary(&summary)
	require.Contains(t, summary.String(), "LOGCTL_ES="+s.ElasticsearchURL())

	require.Contains(t, summary.String(), "sysmon") // its metrics URL, or why it is not running
	if addr := s.MetricsAddr("sysmon"); addr != "" {
		// sysmon runs in every case, and the summary says where its points go.
		require.Regexp(t, `sysmon +http://`+regexp.QuoteMeta(addr)+`/metrics +log \S+, (writes to InfluxDB|metrics only: no InfluxDB)`, summary.String())
	} else {
		// Only a sysmon that cannot run without InfluxDB (before its metrics-only mode).
		require.Nil(t, influx)
		require.Contains(t, summary.String(), "sysmon: not started: no InfluxDB")
	}
	if influx != nil {
		require.NotContains(t, summary.String(), "sysmon: not started")
		require.Contains(t, summary.String(), "writes to InfluxDB "+influx.URL()+" (INFLUX_URL)")
		require.Eventually(t, func() bool {
			series, err := influx.Query("telegraf", "SELECT count(usage_user) FROM cpu")
			return err == nil && len(series) > 0
		}, 20*time.Second, 200*time.Millisecond, "sysmon wrote nothing to InfluxDB")
	}

	// A line the generator wrote is found by `logctl search` within seconds.
	var first string
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(s.DemoLog())
		first, _, _ = strings.Cut(string(b), "\n")
		return first != ""
	}, 10*time.Second, 50*time.Millisecond)
	req := regexp.MustCompile(`req=(\S+)`).FindStringSubmatch(first)[1]
	written := time.Now()
	require.Eventually(t, func() bool {
		code, stdout, _ := logctl(t, bin, "search", "--since", "10m", `"`+req+`"`)
		return code == 0 && strings.Contains(stdout, first)
	}, 20*time.Second, 200*time.Millisecond, "line %q not found by logctl search", first)
	t.Logf("generated line searchable after %s", time.Since(written).Round(time.Millisecond))

	// The pipelines parse each file: the nginx fields, the app log's level, the syslog
	// program, each searchable in its index; logctl search filters on a field.
	for _, c := range []struct{ pattern, query string }{
		{devstack.Topic + "-*", "_exists_:http.response.status_code AND http.request.method:GET"},
		{devstack.Topic + "-*", "http.response.status_code:[200 TO 299]"},
		{devstack.AppTopic + "-*", "log.level:error AND _exists_:duration_ms AND log.logger:*"},
		{devstack.SyslogTopic + "-*", "_exists_:process.name AND host.hostname:demo-host"},
	} {
		require.Eventually(t, func() bool {
			return esCountQuery(t, s.ElasticsearchURL(), c.pattern, c.query) > 0
		}, 20*time.Second, 200*time.Millisecond, "no document in %s matches %s", c.pattern, c.query)
	}
	require.Zero(t, esCountQuery(t, s.ElasticsearchURL(), devstack.IndexPattern, "tags:_pipeline_error AND NOT message:marker*"),
		"a demo line the pipelines failed on")
	require.Eventually(t, func() bool {
		code, stdout, _ := logctl(t, bin, "search", "--since", "10m", "http.response.status_code:500")
		return code == 0 && strings.Contains(stdout, `HTTP/1.1" 500 `) && !strings.Contains(stdout, `HTTP/1.1" 200 `)
	}, 20*time.Second, 200*time.Millisecond, "logctl search does not filter on http.response.status_code")

	// logctl agents lists the demo agent with its three tasks.
	code, stdout, stderr := logctl(t, bin, "agents", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var agents []struct {
		IP    string `json:"ip"`
		Tasks int    `json:"tasks"`
	}
	require.NoError(t, json.Unmarshal([]byte(stdout), &agents), stdout)
	require.Len(t, agents, 1)
	require.Equal(t, devstack.AgentIP, agents[0].IP)
	require.Equal(t, 3, agents[0].Tasks)

	// The README's quick start commands work against the stack.
	t.Setenv("VISUAL", "true") // config edit: no change
	for _, c := range testenv.QuickStart(t) {
		if args, ok := c.LogctlArgs(); ok {
			code, stdout, stderr := logctl(t, bin, args...)
			require.Equal(t, 0, code, "%s: %s%s", c, stdout, stderr)
		}
	}

	// A new task set with logctl on a new topic makes a new file flow and be indexed, without
	// a restart: logctl adds the topic to logtransfer's topics key.
	appLog := filepath.Join(cfg.Dir, "app", "app.log")
	require.NoError(t, os.MkdirAll(filepath.Dir(appLog), 0o755))
	require.NoError(t, os.WriteFile(appLog, []byte("app started: marker-one\n"), 0o644))
	code, stdout, _ = logctl(t, bin, "config", "get", devstack.AgentIP)
	require.Equal(t, 0, code)
	var tasks []map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &tasks))
	const newTopic = "dev_extra"
	tasks = append(tasks, map[string]any{"path": appLog, "topic": newTopic, "start_position": "beginning"})
	newConfig, err := json.Marshal(tasks)
	require.NoError(t, err)
	code, stdout, stderr = logctl(t, bin, "config", "set", devstack.AgentIP, writeFile(t, "tasks.json", string(newConfig)))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "logtransfer now also consumes "+newTopic+" (/logtransfer/topics)")
	require.Eventually(t, func() bool {
		code, stdout, _ := logctl(t, bin, "search", "--since", "10m", "--topic", newTopic, "marker-one")
		return code == 0 && strings.Contains(stdout, appLog+" app started: marker-one")
	}, 30*time.Second, 200*time.Millisecond, "the new task's file is not indexed")

	// Stop: the report names what stopped and the final counts, every line delivered.
	var report strings.Builder
	require.NoError(t, s.StopReport(&report))
	stopped = true
	t.Logf("stop report:\n%s", report.String())
	final := regexp.MustCompile(`(?m)^final counts: lines generated (\d+) · sent to Kafka (\d+) · indexed (\d+)$`).FindStringSubmatch(report.String())
	require.NotNil(t, final, "no final counts in the stop report")
	require.Equal(t, final[2], final[3], "as many documents indexed as records sent")
	for _, part := range []string{"the demo generators", "sysmon (SIGTERM, drained)", "logagent (SIGTERM, drained)", "logtransfer (SIGTERM, drained)", "elasticsearch", "etcd"} {
		require.Contains(t, "\n"+report.String(), "\nstopped "+part+"\n")
	}
	before := s.Generated() + 1 // the demo lines and marker-one
	if embedded {
		before += runClosedPipe(t, cfg)
	}

	// Start again on the same dir: the agent resumes from its offsets, and every line of
	// every file, before and after the restart, ends up indexed once.
	s, err = devstack.Start(ctx, cfg)
	require.NoError(t, err)
	stopped = false
	f, err := os.OpenFile(appLog, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("app restarted: marker-two\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	time.Sleep(time.Second)
	want := before + 1 + s.Generated() // at least, once what is written by now is indexed
	require.Eventually(t, func() bool {
		// A line the agent sent twice would be a second document: it gets a new Kafka offset,
		// so logtransfer gives it a new id.
		n := esCount(t, s.ElasticsearchURL())
		require.LessOrEqual(t, n, before+1+s.Generated(), "more documents than lines")
		return n >= want
	}, 30*time.Second, 200*time.Millisecond, "lines written before or after the restart are not indexed")
}

// runClosedPipe runs logcollect-dev (this test binary, see TestMain) on cfg's dir and ports
// as `make run | tee run.log` would, then ends it as Ctrl-C does there: the pipe closes
// first (tee exits), then SIGINT. It must still stop the daemons gracefully: they drain,
// logtransfer leaves its consumer group (or the next run would index nothing until the
// group's session timeout), and the stop report is in its log file. It returns how many
// lines the run generated.
func runClosedPipe(t *testing.T, cfg devstack.Config) int64 {
	t.Helper()
	ports, err := json.Marshal(cfg.Ports)
	require.NoError(t, err)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd := osexec.Command(os.Args[0], "--dir", cfg.Dir, "--bin", cfg.BinDir, "--embedded", "--rate", "100")
	cmd.Env = append(os.Environ(), "LOGCOLLECT_DEV_CHILD=1", "LOGCOLLECT_DEV_PORTS="+string(ports), "INFLUX_URL=")
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	w.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	lines := bufio.NewScanner(r)
	ready := false
	for !ready && lines.Scan() {
		ready = strings.HasPrefix(lines.Text(), "ready in ")
	}
	require.True(t, ready, "logcollect-dev did not get ready: %s", stderr.String())
	logs := filepath.Join(cfg.Dir, "log")
	transfer := fmt.Sprintf("127.0.0.1:%d", cfg.Ports.Logtransfer)
	require.Eventually(t, func() bool { return testenv.Metric(transfer, "logtransfer_docs_indexed_total") > 0 }, 30*time.Second, 200*time.Millisecond,
		"logcollect-dev indexes nothing")
	time.Sleep(2 * time.Second)                            // lines flowing when the pipe closes
	require.NoError(t, r.Close())                          // tee exits first...
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT)) // ...then Ctrl-C reaches logcollect-dev
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		require.NoError(t, err, "logcollect-dev on a closed stdout: %s", stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("logcollect-dev did not stop")
	}
	report, err := os.ReadFile(filepath.Join(logs, "logcollect-dev.log"))
	require.NoError(t, err)
	t.Logf("logcollect-dev.log:\n%s", report)
	for _, part := range []string{"logagent (SIGTERM, drained)", "logtransfer (SIGTERM, drained)", "etcd"} {
		require.Contains(t, string(report), "\nstopped "+part+"\n")
	}
	transferLog, err := os.ReadFile(filepath.Join(logs, "logtransfer.log"))
	require.NoError(t, err)
	require.Equal(t, 2, strings.Count(string(transferLog), "leaving the group"), "logtransfer left the group at both stops")
	m := regexp.MustCompile(`final counts: lines generated (\d+) · sent to Kafka (\d+) · indexed (\d+)\n`).FindSubmatch(report)
	require.NotNil(t, m, "no final counts")
	require.Equal(t, string(m[2]), string(m[3]), "as many documents indexed as records sent")
	n, err := strconv.ParseInt(string(m[1]), 10, 64)
	require.NoError(t, err)
	return n
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
