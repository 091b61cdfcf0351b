//go:build bench

package bench

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

const (
	numLines     = 1_000_000             // $BENCH_AGENT_LINES
	runsPerCase  = 3                     // $BENCH_AGENT_RUNS
	pollInterval = 50 * time.Millisecond // how often the end offsets are listed
	runTimeout   = 5 * time.Minute       // one contender, start → all lines in Kafka
	stopTimeout  = time.Minute           // SIGTERM (or exit) → exited
	exitGrace    = 10 * time.Second      // a contender that exited 0 has this long to show all lines

	// Idle check before each run: the machine is idle enough when the 1-min
	// load average is below idleLoad, or when the CPUs were less than
	// idleBusy busy over the last second (the load average still counts the
	// previous run for a minute or so). We wait up to idleWait
	// ($BENCH_IDLE_WAIT), then warn.
	idleLoad = 1.5
	idleBusy = 0.25
	idleWait = 30 * time.Second
	// A run is flagged as disturbed when processes other than the contender,
	// the broker and the test used more than this fraction of all CPUs
	// during it.
	otherMax = 0.10

	// Producer settings, the same for every contender: logagent's defaults.
	compression        = "zstd"
	linger             = "10ms"
	maxBufferedRecords = 10000
	maxBufferedBytes   = 16 << 20

	resultsFile = "agent-throughput.md"
	command     = "go test -tags bench -run TestAgentThroughput -v -timeout 60m ./bench/"
)

// contender is one producer under test: the raw franz-go ceiling or logagent.
type contender struct {
	name   string
	format string // logagent's task format; "" for rawproducer
}

var contenders = []contender{
	{name: "rawproducer"},
	{name: "logagent json", format: "json"},
	{name: "logagent raw", format: "raw"},
}

// bins are the binaries under test, built once per test.
type bins struct {
	logagent, rawproducer, kfake, agentprof string
}

type runResult struct {
	broker, contender string
	run               int
	lines             int64         // lines shipped
	wall              time.Duration // start → lines records in Kafka
	cpu               time.Duration // user + sys of the contender process
	maxRSS            int64         // bytes: peak RSS (VmHWM) of the contender and its descendants
	busy              string        // why the machine was not idle at start, "" if it was
	brokerCPU         time.Duration // the broker's CPU over the run, 0 if unknown
	otherCPU          time.Duration // CPU used by neither the contender, the broker nor the test

	// With watch.idle set (TestFootprint): the contender's CPU and peak RSS
	// when the last line reached Kafka, then its CPU over the idle window
	// (and the window's length) and its RSS (VmRSS) at the window's end.
	// lateIdleCPU is the CPU over the window's second half (lateIdleWindow):
	// past what a contender does once after a burst (logagent returns its
	// memory 10 s after its last read), it is the steady idle cost.
	shipCPU        time.Duration
	shipRSS        int64
	idleCPU        time.Duration
	idleWindow     time.Duration
	lateIdleCPU    time.Duration
	lateIdleWindow time.Duration
	idleRSS        int64
}

// disturbed reports whether other processes used more than otherMax of the
// machine during the run.
func (r runResult) disturbed() bool {
	return r.otherCPU.Seconds() > otherMax*float64(runtime.NumCPU())*r.wall.Seconds()
}

func (r runResult) linesPerSec() float64 { return float64(r.lines) / r.wall.Seconds() }

// TestAgentThroughput measures logagent shipping one 1,000,000-line file
// ($BENCH_AGENT_LINES) into kfake and into a real Kafka broker, against the
// raw franz-go producer sending the same lines. It prints the figures and
// writes them to results/agent-throughput.md; it asserts nothing about them.
func TestAgentThroughput(t *testing.T) {
	lines, runs := envInt(t, "BENCH_AGENT_LINES", numLines), envInt(t, "BENCH_AGENT_RUNS", runsPerCase)
	data := accessLogLines(t, lines)
	b := buildBins(t)
	env := environment(t, b)

	var all []runResult
	notRun := map[string]string{} // broker → why it was left out
	for _, br := range []struct {
		name  string
		start func(t *testing.T) (brokers []string, pid int, stop func())
	}{
		{"kfake", func(t *testing.T) ([]string, int, func()) { return startKfake(t, b.kfake) }},
		{"kafka", func(t *testing.T) ([]string, int, func()) {
			k := testenv.StartKafka(t)
			return k.Brokers(), childPID("kafka.Kafka"), func() {
				if err := k.Stop(); err != nil {
					t.Log(err)
				}
			}
		}},
	} {
		if _, err := testenv.KafkaLibs(); br.name == "kafka" && err != nil {
			notRun[br.name] = err.Error()
			t.Logf("WARNING: %s not run, the results say so: %v", br.name, err)
			continue
		}
		brokers, pid, stop := br.start(t)
		if pid == 0 {
			t.Logf("WARNING: %s: broker process not found; its CPU counts as other processes'", br.name)
		}
		adm := newAdmin(t, brokers)

		// One uncounted run first: connections, topic creation paths and
		// (for the JVM) the JIT are warm for every counted run alike.
		if _, err := runOne(t, b, brokers, pid, adm, contenders[0], data, lines, ""); err != nil {
			t.Fatalf("%s: warm-up run: %v", br.name, err)
		}
		// Runs interleave the contenders, so that a slow spell of the
		// machine hits all of them rather than one.
		for run := 1; run <= runs; run++ {
			for _, c := range contenders {
				busy := waitIdle(t)
				r, err := runOne(t, b, brokers, pid, adm, c, data, lines, "")
				if err != nil {
					t.Errorf("%s / %s run %d: %v", br.name, c.name, run, err)
					continue
				}
				r.broker, r.contender, r.run, r.busy = br.name, c.name, run, busy
				t.Logf("%-5s %-13s run %d: %8.0f lines/s  wall %6.3fs  cpu %6.3fs  rss %5.1f MiB  broker cpu %6.3fs  other cpu %6.3fs%s",
					br.name, c.name, run, r.linesPerSec(), r.wall.Seconds(), r.cpu.Seconds(), mib(r.maxRSS),
					r.brokerCPU.Seconds(), r.otherCPU.Seconds(), notes(r))
				all = append(all, r)
			}
		}
		adm.Close()
		stop()
	}

	table := summarize(all)
	var out strings.Builder
	tw := tabwriter.NewWriter(&out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "broker\tcontender\tlines/s median (min–max)\tCPU s\tpeak RSS MiB\tvs ceiling")
	for _, row := range table {
		fmt.Fprintf(tw, "%s\t%s\t%s (%s–%s)\t%.2f\t%.1f\t%s\n", row.broker, row.contender,
			thousands(row.rate), thousands(row.rateMin), thousands(row.rateMax), row.cpu, row.rss, row.ratioText())
	}
	tw.Flush()
	t.Logf("agent throughput, %d lines, %d runs each (target: logagent >= 80%% of the ceiling, peak RSS <= 64 MiB):\n%s%s",
		lines, runs, out.String(), disturbedSummary(all))
	writeResult(t, resultsFile, []byte(markdown(env, data, lines, runs, table, all, notRun)))
}

// TestAgentProfile runs logagent json, logagent raw (both through agentprof)
// and rawproducer once each against kfake with a CPU profile, and writes the
// top 25 functions of each to results/ (the profiles themselves, *.prof, are
// not committed).
//
//	go test -tags bench -run TestAgentProfile -v ./bench/
func TestAgentProfile(t *testing.T) {
	lines := envInt(t, "BENCH_AGENT_LINES", numLines)
	data := accessLogLines(t, lines)
	b := buildBins(t)
	brokers, pid, stop := startKfake(t, b.kfake)
	defer stop()
	adm := newAdmin(t, brokers)
	defer adm.Close()
	if err := os.MkdirAll(resultsDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		c   contender
		bin string
		out string
	}{
		{contenders[1], b.agentprof, resultPath("logagent-json-kfake")},
		{contenders[2], b.agentprof, resultPath("logagent-raw-kfake")},
		{contenders[0], b.rawproducer, resultPath("rawproducer-kfake")},
	} {
		prof, err := filepath.Abs(p.out + ".cpu.prof")
		if err != nil {
			t.Fatal(err)
		}
		busy := waitIdle(t)
		r, err := runOne(t, b, brokers, pid, adm, p.c, data, lines, prof)
		if err != nil {
			t.Fatalf("%s: %v", p.c.name, err)
		}
		r.busy = busy
		var text strings.Builder
		fmt.Fprintf(&text, "%s against kfake, CPU profile: %.0f lines/s, wall %.3fs, cpu %.3fs, rss %.1f MiB, other processes' cpu %.3fs%s\n",
			p.c.name, r.linesPerSec(), r.wall.Seconds(), r.cpu.Seconds(), mib(r.maxRSS), r.otherCPU.Seconds(), notes(r))
		for _, sort := range []string{"-flat", "-cum"} {
			out, err := exec.Command("go", "tool", "pprof", "-top", sort, "-nodecount=25", p.bin, prof).CombinedOutput()
			if err != nil {
				t.Fatalf("pprof: %v\n%s", err, out)
			}
			fmt.Fprintf(&text, "\n$ go tool pprof -top %s -nodecount=25 %s %s\n%s", sort, filepath.Base(p.bin), filepath.Base(prof), out)
		}
		t.Log(text.String())
		if err := os.WriteFile(p.out+"-cpu-top.txt", []byte(text.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runOne ships data to a fresh topic with contender c and measures it. With
// profile set, the contender writes a CPU profile there (logagent runs as
// agentprof then).
func runOne(t *testing.T, b bins, brokers []string, brokerPID int, adm *kadm.Client, c contender, data string, lines int, profile string) (runResult, error) {
	t.Helper()
	dir := t.TempDir()
	topic, deleteTopic, err := freshTopic(t, adm, c.name)
	if err != nil {
		return runResult{}, err
	}
	defer deleteTopic()

	var cmd *exec.Cmd
	if c.format == "" {
		args := rawproducerArgs(brokers, topic, data)
		if profile != "" {
			args = append(args, "-cpuprofile", profile)
		}
		cmd = exec.Command(b.rawproducer, args...)
	} else {
		config := filepath.Join(dir, "agent.yaml")
		if err := os.WriteFile(config, []byte(agentConfig(brokers, dir, data, topic, c.format)), 0o644); err != nil {
			return runResult{}, err
		}
		bin, args := b.logagent, []string{"-config", config}
		if profile != "" {
			bin, args = b.agentprof, append(args, "-cpuprofile", profile)
		}
		cmd = exec.Command(bin, args...)
	}
	return measure(t, cmd, watch{
		name: c.name, adm: adm, topic: topic, want: int64(lines), brokerPID: brokerPID,
		term: c.format != "", logPath: filepath.Join(dir, "contender.log"),
	})
}

// freshTopic creates a topic with one partition, named after the contender,
// and returns a function that deletes it (which frees kfake's memory and
// Kafka's disk).
func freshTopic(t *testing.T, adm *kadm.Client, contender string) (string, func(), error) {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, contender)
	topic := fmt.Sprintf("bench-%s-%d", name, time.Now().UnixNano())
	ctx := t.Context()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, err := adm.CreateTopic(cctx, 1, 1, nil, topic)
	cancel()
	if err != nil {
		return "", nil, fmt.Errorf("create topic %s: %w", topic, err)
	}
	return topic, func() {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopic(dctx, topic); err != nil {
			t.Logf("delete topic %s: %v", topic, err)
		}
	}, nil
}

// watch says how measure follows one contender run.
type watch struct {
	name      string
	adm       *kadm.Client
	topic     string
	want      int64 // records in topic that end the run
	brokerPID int   // 0 if unknown
	term      bool  // SIGTERM the contender once want records are in; else it exits by itself
	logPath   string
	started   func() // if set, called once the contender has started

	// idle, if set, keeps the contender running this long once every line
	// is in Kafka (after idleSettle), measuring its idle CPU and RSS;
	// idleEnd, if set, is called at the end of that window.
	idle    time.Duration
	idleEnd func(p *proc)
}

// idleSettle is how long a contender that has shipped everything is left
// alone before its idle window: its last acknowledgements, registry save and
// GC are not idle cost.
const idleSettle = 5 * time.Second

// measure starts cmd (startProc), polls w.topic's high watermark every
// pollInterval until it reaches w.want, stops the contender and returns the
// wall time, the CPU of the contender (and the children it waited for), its
// peak RSS (the VmHWM of its process tree, see proc), and the CPU of the
// broker and of other processes over the run.
func measure(t *testing.T, cmd *exec.Cmd, w watch) (runResult, error) {
	t.Helper()
	ctx := t.Context()
	before := sampleCPU(w.brokerPID)
	p, err := startProc(w.name, cmd, w.logPath, pollInterval)
	if err != nil {
		return runResult{}, err
	}
	defer p.kill()
	if w.started != nil {
		w.started()
	}
	var n int64
	wall, err := p.until(ctx, runTimeout, exitGrace, func() (bool, error) {
		if got, err := endOffsets(ctx, w.adm, w.topic); err == nil {
			n = got
		}
		return n >= w.want, nil
	})
	if err != nil {
		return runResult{}, fmt.Errorf("%d of %d lines in Kafka: %w", n, w.want, err)
	}
	if n != w.want {
		t.Logf("WARNING: %s: %d records in %s, want %d (duplicates?)", w.name, n, w.topic, w.want)
	}
	var r runResult
	if w.idle > 0 {
		r.shipCPU, r.shipRSS = treeCPU(p.pid()), p.maxRSS()
		time.Sleep(idleSettle)
		c0, t0 := treeCPU(p.pid()), time.Now()
		time.Sleep(w.idle / 2)
		c1, t1 := treeCPU(p.pid()), time.Now()
		time.Sleep(w.idle - w.idle/2)
		c2 := treeCPU(p.pid())
		r.idleCPU, r.idleWindow = c2-c0, time.Since(t0)
		r.lateIdleCPU, r.lateIdleWindow = c2-c1, time.Since(t1)
		r.idleRSS, _ = p.memNow()
		if w.idleEnd != nil {
			w.idleEnd(p)
		}
	}
	if err := p.stop(w.term, stopTimeout); err != nil {
		return runResult{}, err
	}
	after := sampleCPU(w.brokerPID)
	r.lines, r.wall, r.cpu, r.maxRSS, r.brokerCPU = w.want, wall, p.cpu, p.maxRSS(), after.broker-before.broker
	r.otherCPU = max(0, after.machine-before.machine-r.cpu-r.brokerCPU-(after.self-before.self))
	return r, nil
}

// cpuSample is the CPU time used so far by the whole machine (non-idle), the
// broker process and this test process.
type cpuSample struct {
	machine, broker, self time.Duration
}

func sampleCPU(brokerPID int) cpuSample {
	var s cpuSample
	idle, total := cpuTimes()
	s.machine = time.Duration(total-idle) * clockTick
	if brokerPID != 0 {
		s.broker = procCPU(brokerPID)
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return s
}

// rawproducerArgs are rawproducer's arguments to produce the lines of files
// (comma-separated) to topic with the agent's producer settings.
func rawproducerArgs(brokers []string, topic, files string) []string {
	return []string{"-brokers", strings.Join(brokers, ","), "-topic", topic, "-file", files,
		"-compression", compression, "-linger", linger,
		"-max-buffered-records", strconv.Itoa(maxBufferedRecords), "-max-buffered-bytes", strconv.Itoa(maxBufferedBytes)}
}

func agentConfig(brokers []string, dir, data, topic, format string) string {
	return agentConfigFiles(brokers, dir, data, topic, format, "{scan_frequency: 1s}", compression)
}

// agentConfigFiles is agentConfig with files: set to the YAML files and
// kafka.compression to codec.
func agentConfigFiles(brokers []string, dir, data, topic, format, files, codec string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  compression: %s
  linger: %s
  max_buffered_records: %d
  max_buffered_bytes: %d
data_dir: %s
metrics:
  listen: 127.0.0.1:0
host: {name: bench, ip: 127.0.0.1}
files: %s
log: {level: warn}
tasks:
  - path: %s
    topic: %s
    start_position: beginning
    format: %s
`, strings.Join(brokers, ", "), codec, linger, maxBufferedRecords, maxBufferedBytes,
		filepath.Join(dir, "data"), files, data, topic, format)
}

// endOffsets is the sum of the topic's high watermarks.
func endOffsets(ctx context.Context, adm *kadm.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	offs, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var sum int64
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err == nil {
			sum += o.Offset
		}
	})
	return sum, nil
}

func newAdmin(t *testing.T, brokers []string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	return kadm.NewClient(cl)
}

// startKfake runs the kfake command and returns its address, its pid and a
// stop function (also registered with t.Cleanup).
func startKfake(t *testing.T, bin string) ([]string, int, func()) {
	t.Helper()
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-partitions", "1")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(exited)
		}()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	t.Cleanup(stop)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			addr <- strings.TrimSpace(sc.Text())
		}
		close(addr)
		for sc.Scan() { // drain
		}
	}()
	select {
	case a, ok := <-addr:
		if !ok || a == "" {
			t.Fatal("kfake exited without printing its address")
		}
		return []string{a}, cmd.Process.Pid, stop
	case <-time.After(10 * time.Second):
		t.Fatal("kfake printed no address within 10s")
	}
	return nil, 0, nil
}

// buildBins builds logagent and the helper commands into a temporary dir.
func buildBins(t *testing.T) bins {
	t.Helper()
	m := buildCommands(t, "./cmd/logagent", "./bench/rawproducer", "./bench/kfake", "./bench/agentprof")
	return bins{logagent: m["logagent"], rawproducer: m["rawproducer"], kfake: m["kfake"], agentprof: m["agentprof"]}
}

// buildCommands builds each package (a path from the module root, such as
// ./cmd/logagent) into a temporary directory and returns the binaries by
// the package's last path element. They are built as the image builds its
// binaries (Dockerfile): static (CGO_ENABLED=0) and with -trimpath. A cgo
// build links libc dynamically, which maps ~1.5 MiB more into every process.
func buildCommands(t *testing.T, pkgs ...string) map[string]string {
	t.Helper()
	root, dir := moduleRoot(t), t.TempDir()
	bins := map[string]string{}
	for _, pkg := range pkgs {
		bin := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
		bins[filepath.Base(pkg)] = bin
	}
	return bins
}

// moduleRoot is the directory of go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(gomod)))
}

// accessLogLines returns the path of a file of n nginx "combined" lines of
// about 200 bytes, generated once with a fixed seed and cached in the system
// temp dir (benchDir).
func accessLogLines(t *testing.T, n int) string {
	t.Helper()
	dir := benchDir()
	path := filepath.Join(dir, fmt.Sprintf("access-%d-v1.log", n))
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "access-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name()) // after the rename, a no-op
	w := bufio.NewWriterSize(f, 1<<20)
	g := newLineGen(1)
	var line []byte
	for range n {
		line = g.next(line[:0])
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	t.Logf("generated %s: %d lines, %d bytes", path, n, fi.Size())
	return path
}

// benchDir is where generated inputs are cached.
func benchDir() string { return filepath.Join(os.TempDir(), "logcollect-bench") }

var (
	methods  = []string{"GET", "GET", "GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "HEAD"}
	statuses = []int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 304, 301, 302, 404, 404, 400, 401, 403, 500, 502, 503}
	sections = []string{"api/v1/users", "api/v1/orders", "api/v2/products", "static/js", "static/css", "images/catalog", "blog", "search", "account/settings", "checkout"}
	exts     = []string{"", "", "", ".json", ".js", ".css", ".png", ".jpg", ".html"}
	queries  = []string{"", "", "", "?page=%d", "?q=item%d&sort=price", "?utm_source=newsletter&utm_campaign=%d", "?id=%d&lang=en"}
	referers = []string{"-", "-", "https://www.example.com/", "https://www.google.com/search?q=example", "https://shop.example.com/cart", "https://news.example.org/article/%d"}
	agents   = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
		"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
		"curl/8.5.0",
		"Go-http-client/1.1",
		"python-requests/2.31.0",
		"Googlebot/2.1 (+http://www.google.com/bot.html)",
		"Prometheus/2.51.0",
	}
)

// lineGen makes nginx combined-format lines:
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"
type lineGen struct {
	r  *rand.Rand
	ts time.Time
}

func newLineGen(seed uint64) *lineGen {
	return &lineGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), ts: time.Date(2025, 10, 10, 6, 0, 0, 0, time.UTC)}
}

func (g *lineGen) next(b []byte) []byte {
	r := g.r
	g.ts = g.ts.Add(time.Duration(r.IntN(2000)) * time.Microsecond)
	b = fmt.Appendf(b, "%d.%d.%d.%d - ", 1+r.IntN(223), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	if r.IntN(10) == 0 {
		b = fmt.Appendf(b, "user%d ", r.IntN(1000))
	} else {
		b = append(b, "- "...)
	}
	b = append(b, '[')
	b = g.ts.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, "] \""...)
	b = append(b, pick(r, methods)...)
	b = fmt.Appendf(b, " /%s/%d%s", pick(r, sections), r.IntN(100000), pick(r, exts))
	if q := pick(r, queries); q != "" {
		if strings.Contains(q, "%d") {
			b = fmt.Appendf(b, q, r.IntN(1000))
		} else {
			b = append(b, q...)
		}
	}
	b = fmt.Appendf(b, " HTTP/1.1\" %d %d \"", pick(r, statuses), r.IntN(50000))
	if ref := pick(r, referers); strings.Contains(ref, "%d") {
		b = fmt.Appendf(b, ref, r.IntN(10000))
	} else {
		b = append(b, ref...)
	}
	b = append(b, "\" \""...)
	b = append(b, pick(r, agents)...)
	return append(b, "\"\n"...)
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// waitIdle waits up to idleWait for the machine to be idle enough, and
// returns "" if it is, else what it measured (and logs a warning).
func waitIdle(t *testing.T) string {
	t.Helper()
	wait := envDuration(t, "BENCH_IDLE_WAIT", idleWait)
	deadline := time.Now().Add(wait)
	for {
		load := loadavg1()
		busy := cpuBusy(time.Second)
		if load < idleLoad || busy < idleBusy {
			return ""
		}
		if time.Now().After(deadline) {
			note := fmt.Sprintf("load %.2f, CPUs %.0f%% busy", load, busy*100)
			t.Logf("WARNING: machine not idle after %s (%s); running anyway", wait, note)
			return note
		}
	}
}

func loadavg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// cpuBusy returns the fraction of all CPUs' time that was not idle over d.
func cpuBusy(d time.Duration) float64 {
	idle0, total0 := cpuTimes()
	time.Sleep(d)
	idle1, total1 := cpuTimes()
	if total1 <= total0 {
		return 0
	}
	return 1 - float64(idle1-idle0)/float64(total1-total0)
}

// cpuTimes reads the aggregate "cpu" line of /proc/stat: idle (idle+iowait)
// and total jiffies.
func cpuTimes() (idle, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	for i, f := range strings.Fields(string(line))[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		if i >= 8 { // guest and guest_nice are already in user and nice
			break
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	return idle, total
}

// row is one line of the summary table.
type row struct {
	broker, contender      string
	rate, rateMin, rateMax float64 // lines/s
	cpu, rss               float64 // seconds, MiB (medians)
	ratio                  float64 // median rate / the ceiling's median rate on the same broker; 0 if unknown
	n                      int
}

func (r row) ratioText() string {
	if r.ratio == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.0f%%", r.ratio*100)
}

func summarize(all []runResult) []row {
	var rows []row
	ceiling := map[string]float64{}
	for _, br := range []string{"kfake", "kafka"} {
		for _, c := range contenders {
			var rates, cpus, rsss []float64
			for _, r := range all {
				if r.broker == br && r.contender == c.name {
					rates = append(rates, r.linesPerSec())
					cpus = append(cpus, r.cpu.Seconds())
					rsss = append(rsss, mib(r.maxRSS))
				}
			}
			if len(rates) == 0 {
				continue
			}
			rw := row{broker: br, contender: c.name, rate: median(rates), rateMin: slices.Min(rates), rateMax: slices.Max(rates),
				cpu: median(cpus), rss: median(rsss), n: len(rates)}
			if c.format == "" {
				ceiling[br] = rw.rate
			}
			if ceil := ceiling[br]; ceil > 0 {
				rw.ratio = rw.rate / ceil
			}
			rows = append(rows, rw)
		}
	}
	return rows
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func disturbedSummary(all []runResult) string {
	n := 0
	for _, r := range all {
		if r.busy != "" || r.disturbed() {
			n++
		}
	}
	return fmt.Sprintf("%d of %d runs started on a busy machine or had other processes use more than %.0f%% of the CPUs.", n, len(all), otherMax*100)
}

func notes(r runResult) string {
	var n []string
	if r.busy != "" {
		n = append(n, "machine busy at start: "+r.busy)
	}
	if r.disturbed() {
		n = append(n, "disturbed by other processes")
	}
	if len(n) == 0 {
		return ""
	}
	return "  (" + strings.Join(n, "; ") + ")"
}

// env describes the machine and versions, for the results file.
type env struct {
	date, goVersion, cpu, kernel, franzGo, kfake, kafka string
	cores                                               int
}

func environment(t *testing.T, b bins) env {
	t.Helper()
	e := env{date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), cores: runtime.NumCPU(), cpu: "unknown", kafka: "unknown"}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		e.goVersion = strings.TrimSpace(string(out))
	}
	if info, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(info)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	if out, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.kernel = strings.TrimSpace(string(out))
	}
	e.franzGo = depVersion(b.rawproducer, "github.com/twmb/franz-go")
	e.kfake = depVersion(b.kfake, "github.com/twmb/franz-go/pkg/kfake")
	if libs, err := testenv.KafkaLibs(); err == nil {
		if jars, _ := filepath.Glob(filepath.Join(libs, "kafka_2.13-*.jar")); len(jars) > 0 {
			e.kafka = strings.TrimSuffix(strings.TrimPrefix(filepath.Base(jars[0]), "kafka_2.13-"), ".jar")
		}
	}
	return e
}

// header is the start of a results file: its title, the command and file
// that wrote it, the date and the machine.
func (e env) header(title, command, file string) string {
	return fmt.Sprintf("# %s\n\nWritten by `%s` (%s). Figures are measured, not asserted.\n\n- Date: %s\n- Go: `%s`\n- CPU: %s, %d cores (Linux %s)\n",
		title, command, file, e.date, e.goVersion, e.cpu, e.cores, e.kernel)
}

func depVersion(bin, module string) string {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown"
	}
	for _, d := range info.Deps {
		if d.Path == module {
			return d.Version
		}
	}
	return "unknown"
}

func markdown(e env, data string, lines, runs int, table []row, all []runResult, notRun map[string]string) string {
	var s strings.Builder
	size := int64(0)
	if fi, err := os.Stat(data); err == nil {
		size = fi.Size()
	}
	s.WriteString(e.header("logagent throughput", command, "bench/agent_bench_test.go"))
	fmt.Fprintf(&s, "- Brokers: kfake %s (its own process, in memory) and Apache Kafka %s (KRaft single node, internal/testenv)\n", e.kfake, e.kafka)
	fmt.Fprintf(&s, "- Producer: franz-go %s; acks=all, idempotent, %s, linger %s, max %d buffered records / %d MiB, one partition (one key)\n",
		e.franzGo, compression, linger, maxBufferedRecords, maxBufferedBytes>>20)
	fmt.Fprintf(&s, "- Input: one file of %s nginx combined lines, %.1f MB (%.0f bytes/line with the newline), read from the page cache\n",
		thousands(float64(lines)), float64(size)/1e6, float64(size)/float64(lines))
	fmt.Fprintf(&s, "- Runs: %d per case after one uncounted warm-up per broker, contenders interleaved; wall time = process start until the topic's high watermark reaches %s (polled every %s); CPU = user+sys from the contender's rusage; peak RSS = the contender's VmHWM, sampled at each poll\n\n",
		runs, thousands(float64(lines)), pollInterval)
	fmt.Fprintf(&s, "| broker | contender | lines/s median (min–max) | CPU s | peak RSS MiB | vs ceiling |\n")
	fmt.Fprintf(&s, "|---|---|---|---:|---:|---:|\n")
	for _, r := range table {
		fmt.Fprintf(&s, "| %s | %s | %s (%s–%s) | %.2f | %.1f | %s |\n", r.broker, r.contender,
			thousands(r.rate), thousands(r.rateMin), thousands(r.rateMax), r.cpu, r.rss, r.ratioText())
	}
	for _, br := range slices.Sorted(maps.Keys(notRun)) {
		fmt.Fprintf(&s, "\n**%s: not run: %s**\n", br, notRun[br])
	}
	fmt.Fprintf(&s, "\nTarget (issue): logagent ≥ 80%% of the rawproducer ceiling on the same broker, peak RSS ≤ 64 MiB.\n")
	fmt.Fprintf(&s, "%s\n", disturbedSummary(all))
	fmt.Fprintf(&s, "\n## Runs\n\n")
	fmt.Fprintf(&s, "Broker CPU is the broker process's CPU during the run. Other CPU is what the rest of the machine used meanwhile (other processes; the test's own poller is left out): on a shared machine it tells which runs were disturbed.\n\n")
	fmt.Fprintf(&s, "| broker | contender | run | wall s | lines/s | CPU s | CPU µs/line | peak RSS MiB | broker CPU s | other CPU s | notes |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range all {
		fmt.Fprintf(&s, "| %s | %s | %d | %.3f | %s | %.2f | %.2f | %.1f | %.2f | %.2f | %s |\n", r.broker, r.contender, r.run,
			r.wall.Seconds(), thousands(r.linesPerSec()), r.cpu.Seconds(), r.cpu.Seconds()*1e6/float64(lines), mib(r.maxRSS),
			r.brokerCPU.Seconds(), r.otherCPU.Seconds(), strings.Trim(notes(r), " ()"))
	}
	return s.String()
}
