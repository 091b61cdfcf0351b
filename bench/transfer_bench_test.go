//go:build bench

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/testenv"
)

// Settings of TestTransferThroughput; BENCH_TRANSFER_DOCS and
// BENCH_TRANSFER_RUNS override the first two.
const (
	transferDocs       = 1_000_000
	transferRuns       = 3
	warmupDocs         = 200_000
	transferPartitions = 4
	// Bulk settings, the same for logtransfer and the ceiling loader:
	// logtransfer's defaults, except two concurrent requests.
	benchBulkActions = 5000
	benchBulkBytes   = 5 << 20
	benchBulkWorkers = 2
	benchFlush       = time.Second

	freshDuration = 60 * time.Second // how long lines are written in a freshness run; $BENCH_TRANSFER_FRESHNESS
	// freshFlush is logtransfer's bulk.flush_interval in the freshness runs:
	// what a user who wants documents within a second sets (as Vector's
	// batch.timeout_secs or Kafka's linger.ms). With the default 1 s a
	// quiet pipeline's p99 is already over 1 s, by construction. logagent
	// keeps its default 10 ms linger: 1% of that budget, and less would
	// mean more, smaller produce requests at 10k lines/s on 2 cores.
	freshFlush = 200 * time.Millisecond

	transferResultsFile = "transfer-throughput.md"
	transferCommand     = "go test -tags bench -run TestTransferThroughput -v -timeout 90m ./bench/"
	transferRunTimeout  = 15 * time.Minute
	transferPoll        = 250 * time.Millisecond // docs_indexed_total and the VmHWM of logtransfer's tree; each scrape costs logtransfer ~1 ms of CPU
)

type transferRun struct {
	broker, contender string
	run               int
	docs              int
	wall              time.Duration
	cpu               time.Duration // logtransfer's user+sys; 0 for the in-process loader
	maxRSS            int64
	load              float64 // 1-min load average at the start
	busy              string  // waitIdle's warning, if the machine stayed busy
}

func (r transferRun) rate() float64 { return float64(r.docs) / r.wall.Seconds() }

// TestTransferThroughput measures how fast logtransfer indexes records
// preloaded into Kafka (kfake in its own process, then the real Kafka 4.4
// broker) into the real Elasticsearch 7.17 node of internal/testenv, against
// the ceiling: a plain olivere BulkProcessor sending the same documents
// straight to the same node with the same bulk settings. Then it measures
// the pipeline's freshness at 10k lines/s through logagent → Kafka →
// logtransfer. It writes results/transfer-throughput.md and asserts nothing
// about the figures (it fails only if documents are missing).
//
// The node's and the Kafka broker's JVMs are tuned as a deployment's
// (testenv's Tuned options: C2 JIT, G1, 1 GiB heap), not started with the
// tests' fast-start flags (C1 JIT only), which lower the ceiling being
// measured and make the broker cost more CPU; BENCH_TRANSFER_TEST_NODE=1
// uses the test flags for both, to compare.
func TestTransferThroughput(t *testing.T) {
	docs := envInt(t, "BENCH_TRANSFER_DOCS", transferDocs)
	runs := envInt(t, "BENCH_TRANSFER_RUNS", transferRuns)
	freshFor := envDuration(t, "BENCH_TRANSFER_FRESHNESS", freshDuration)
	b := buildTransferBins(t)
	tuned := os.Getenv("BENCH_TRANSFER_TEST_NODE") != "1"
	node := testenv.StartElasticsearchWithOptions(t, testenv.ElasticsearchOptions{Tuned: tuned})
	nodeDesc := "tuned as a deployment: C2 JIT, G1"
	if !tuned {
		nodeDesc = "the tests' fast-start flags: C1 JIT only, serial GC"
	}
	kafka := testenv.StartKafkaWithOptions(t, testenv.KafkaOptions{Tuned: tuned})
	nodeDesc += "; JVM flags " + strings.Join(node.JavaFlags(), " ")
	if tuned {
		nodeDesc += "; the Kafka broker's JVM is tuned too (kafka-server-start.sh's flags: G1, 1 GiB heap, C2 JIT)"
	} else {
		nodeDesc += "; the Kafka broker has the tests' flags too"
	}
	t.Logf("elasticsearch node: %s", nodeDesc)
	es := benchESClient(t, node.URL())
	kfakeBrokers, _, stopKfake := startKfake(t, b.kfake)
	defer stopKfake()
	brokers := map[string][]string{"kfake": kfakeBrokers, "kafka": kafka.Brokers()}

	// BENCH_TRANSFER_FRESHNESS_ONLY=1: only the freshness runs, logged, no
	// results file.
	freshOnly := os.Getenv("BENCH_TRANSFER_FRESHNESS_ONLY") == "1"
	if freshOnly {
		runs = 0
	}
	start := time.Now()
	for _, name := range []string{"kfake", "kafka"} {
		if freshOnly {
			break
		}
		preload(t, brokers[name], "bench-"+name, docs)
	}
	if !freshOnly {
		t.Logf("preloaded %d records into each broker in %s", docs, time.Since(start).Round(time.Millisecond))
	}

	warmUp(t, b, es, node.URL(), brokers["kfake"])

	var all []transferRun
	for run := 1; run <= runs; run++ {
		for _, c := range []string{"loader", "kfake", "kafka"} {
			busy := waitIdle(t)
			load := loadavg1()
			var r transferRun
			var err error
			if c == "loader" {
				r, err = runLoader(t, es, docs)
			} else {
				r, err = runTransfer(t, b, es, node.URL(), brokers[c], "bench-"+c, fmt.Sprintf("bench-%s-%d", c, run), docs, "", "")
			}
			if err != nil {
				t.Errorf("%s run %d: %v", c, run, err)
				continue
			}
			r.run, r.load, r.busy = run, load, busy
			t.Logf("%-6s %-26s run %d: %8.0f docs/s  wall %7.3fs  cpu %7.3fs  rss %6.1f MiB  load %.1f",
				r.broker, r.contender, run, r.rate(), r.wall.Seconds(), r.cpu.Seconds(), mib(r.maxRSS), load)
			all = append(all, r)
		}
	}

	// The rate, then one this Elasticsearch node keeps up with.
	var frs []freshness
	for i, rate := range []int{10_000, 1_000} {
		fr, err := runFreshness(t, b, es, node.URL(), kafka.Brokers(), rate, freshFor, fmt.Sprintf("fresh%d", i))
		if err != nil {
			t.Errorf("freshness at %d lines/s: %v", rate, err)
			continue
		}
		t.Logf("freshness at %d lines/s for %s (flush_interval %s): p50 %.3fs p99 %.3fs (%d lines written, %.0f lines/s achieved, %d records in Kafka, %d documents)",
			rate, freshFor, freshFlush, fr.p50, fr.p99, fr.docs, fr.achieved, fr.inKafka, fr.indexed)
		frs = append(frs, fr)
	}

	if freshOnly {
		return
	}
	md := transferMarkdown(t, node.Version(), nodeDesc, docs, runs, all, frs)
	t.Log("\n" + md)
	writeResult(t, transferResultsFile, []byte(md))
}

// warmUp is the uncounted run before the measured ones: it installs
// logtransfer's index template (the loader's index matches it too) and warms
// the node: with 20,000 records the first measured run was still about half
// as fast as the others.
func warmUp(t *testing.T, b transferBins, es *elastic.Client, esURL string, brokers []string) {
	t.Helper()
	preload(t, brokers, "warmup", warmupDocs)
	if _, err := runTransfer(t, b, es, esURL, brokers, "warmup", "warmup", warmupDocs, "", ""); err != nil {
		t.Fatalf("warm-up: %v", err)
	}
}

// benchESClient is the harnesses' client of the node at url, for the
// ceiling, _count and deleting indices.
func benchESClient(t *testing.T, url string) *elastic.Client {
	t.Helper()
	es, err := elastic.NewClient(elastic.SetURL(url), elastic.SetSniff(false), elastic.SetHealthcheck(false),
		elastic.SetHttpClient(&http.Client{Timeout: 2 * time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	return es
}

type transferBins struct{ logtransfer, logagent, kfake, transferprof string }

func buildTransferBins(t *testing.T) transferBins {
	t.Helper()
	m := buildCommands(t, "./cmd/logtransfer", "./cmd/logagent", "./bench/kfake", "./bench/transferprof")
	return transferBins{logtransfer: m["logtransfer"], logagent: m["logagent"], kfake: m["kfake"], transferprof: m["transferprof"]}
}

// TestTransferProfile runs logtransfer (as transferprof) once against kfake
// with CPU and allocation profiles, after the same warm-up as
// TestTransferThroughput, and writes the top 25 functions of each to
// results/logtransfer-kfake-{cpu,alloc}-top.txt (the profiles themselves,
// *.prof, are not committed).
//
//	go test -tags bench -run TestTransferProfile -v ./bench/
func TestTransferProfile(t *testing.T) {
	docs := envInt(t, "BENCH_TRANSFER_DOCS", transferDocs)
	b := buildTransferBins(t)
	node := testenv.StartElasticsearchWithOptions(t, testenv.ElasticsearchOptions{Tuned: true})
	es := benchESClient(t, node.URL())
	brokers, _, stopKfake := startKfake(t, b.kfake)
	defer stopKfake()
	warmUp(t, b, es, node.URL(), brokers)
	preload(t, brokers, "bench-kfake", docs)
	cpuProfileTransfer(t, b, es, node.URL(), brokers, "bench-kfake", docs, "", "logtransfer-kfake", "logtransfer (transferprof) against kfake")
}

// cpuProfileTransfer runs logtransfer as transferprof (its config file with
// extra appended) until it has indexed the docs records of topic, and writes
// the top 25 functions of its CPU and allocation profiles, by flat and
// cumulative cost, to results/<name>-{cpu,alloc}-top.txt, headed by what.
func cpuProfileTransfer(t *testing.T, b transferBins, es *elastic.Client, esURL string, brokers []string, topic string, docs int, extra, name, what string) {
	t.Helper()
	if err := os.MkdirAll(resultsDir(), 0o755); err != nil {
		t.Fatal(err)
	}
	out := resultPath(name)
	prof, err := filepath.Abs(out)
	if err != nil {
		t.Fatal(err)
	}
	var busy string
	if note := waitIdle(t); note != "" {
		busy = "  (machine busy at start: " + note + ")"
	}
	r, err := runTransfer(t, b, es, esURL, brokers, topic, "profile-"+name, docs, extra, prof)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ kind, file, sample string }{
		{"cpu", prof + ".cpu.prof", ""},
		{"alloc", prof + ".alloc.prof", "-sample_index=alloc_space"},
	} {
		var text strings.Builder
		fmt.Fprintf(&text, "%s, %s profile: %d docs, %.0f docs/s, wall %.3fs, cpu %.3fs, rss %.1f MiB%s\n",
			what, p.kind, r.docs, r.rate(), r.wall.Seconds(), r.cpu.Seconds(), mib(r.maxRSS), busy)
		for _, sort := range []string{"-flat", "-cum"} {
			args := []string{"tool", "pprof", "-top", sort, "-nodecount=25"}
			if p.sample != "" {
				args = append(args, p.sample)
			}
			o, err := exec.Command("go", append(args, b.transferprof, p.file)...).CombinedOutput()
			if err != nil {
				t.Fatalf("pprof: %v\n%s", err, o)
			}
			fmt.Fprintf(&text, "\n$ go %s %s %s\n%s", strings.Join(args[1:], " "), filepath.Base(b.transferprof), filepath.Base(p.file), o)
		}
		t.Log(text.String())
		if err := os.WriteFile(out+"-"+p.kind+"-top.txt", []byte(text.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// agentRecord appends the i-th benchmark record: the agent's JSON envelope
// around an nginx line, as logagent's format: json produces it.
func agentRecord(dst []byte, line []byte, ts string, i int) []byte {
	msg, _ := json.Marshal(string(line))
	dst = append(dst, `{"@timestamp":"`...)
	dst = append(dst, ts...)
	dst = append(dst, `","message":`...)
	dst = append(dst, msg...)
	dst = append(dst, `,"host":{"name":"bench","ip":"127.0.0.1"},"log":{"file":{"path":"/var/log/nginx/access.log"},"offset":`...)
	dst = strconv.AppendInt(dst, int64(i)*200, 10)
	return append(dst, `}}`...)
}

// records calls fn with n agent-style records, the same for every caller
// (fixed seed; the timestamp is today's midnight UTC, so every document goes
// to one daily index).
func records(n int, fn func(i int, value []byte)) {
	g := newLineGen(42)
	ts := time.Now().UTC().Truncate(24 * time.Hour).Format(time.RFC3339Nano)
	var line, rec []byte
	for i := range n {
		line = g.next(line[:0])
		rec = agentRecord(rec[:0], line[:len(line)-1], ts, i) // without the newline, as logagent sends it
		fn(i, rec)
	}
}

// preload produces n agent-style records to a new topic of
// transferPartitions partitions.
func preload(t *testing.T, brokers []string, topic string, n int) {
	t.Helper()
	adm := newAdmin(t, brokers)
	defer adm.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	_, err := adm.CreateTopic(ctx, transferPartitions, 1, nil, topic)
	cancel()
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(10*time.Millisecond),
		kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.MaxBufferedRecords(50000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var failed atomic.Pointer[error]
	records(n, func(i int, v []byte) {
		cl.Produce(t.Context(), &kgo.Record{Topic: topic, Value: slices.Clone(v)}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.CompareAndSwap(nil, &err)
			}
		})
	})
	if err := cl.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e := failed.Load(); e != nil {
		t.Fatalf("preload %s: %v", topic, *e)
	}
}

// deleteIndices deletes the indices of pattern, so that every run creates
// documents instead of overwriting them.
func deleteIndices(es *elastic.Client, pattern string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := es.DeleteIndex(pattern).Do(ctx); err != nil && !elastic.IsNotFound(err) {
		return fmt.Errorf("delete %s: %w", pattern, err)
	}
	return nil
}

func countDocs(es *elastic.Client, pattern string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := es.Refresh(pattern).Do(ctx); err != nil {
		return 0, err
	}
	n, err := es.Count(pattern).Do(ctx)
	return int(n), err
}

// transferConfig is logtransfer's config file for the harnesses; extra (YAML
// keys such as pipelines:) is appended. The index template is put by every
// run (template.overwrite) on every dated index (*-*: the runs' and the
// ceiling loaders'), so that every contender's documents are mapped as
// logtransfer's users' are. Without it the warm-up's template (on warmup-*)
// stayed, and the measured indices were mapped dynamically (every string as
// text plus a keyword).
func transferConfig(brokers []string, esURL, topic, group, metrics string, flush time.Duration, extra string) string {
	return fmt.Sprintf(`kafka:
  brokers: [%s]
  topics: [%s]
  group: %s
elasticsearch:
  urls: [%s]
  timeout: 2m
template:
  replicas: 0
  overwrite: true
  index_patterns: ["*-*"]
bulk:
  actions: %d
  bytes: %d
  workers: %d
  flush_interval: %s
metrics:
  listen: %s
log:
  level: warn
%s`, strings.Join(brokers, ","), topic, group, esURL, benchBulkActions, benchBulkBytes, benchBulkWorkers, flush, metrics, extra)
}

// runTransfer runs logtransfer from process start until it has indexed n
// documents of topic (its docs_indexed_total, polled every transferPoll), stops
// it with SIGTERM and checks the index holds n documents.
//
// extra is appended to logtransfer's config file (pipelines, for one). With
// prof set, transferprof runs instead of logtransfer and writes its CPU and
// allocation profiles to prof+".cpu.prof" and prof+".alloc.prof".
func runTransfer(t *testing.T, b transferBins, es *elastic.Client, esURL string, brokers []string, topic, group string, n int, extra, prof string) (transferRun, error) {
	r := transferRun{broker: strings.TrimPrefix(topic, "bench-"), contender: "logtransfer", docs: n}
	if err := deleteIndices(es, topic+"-*"); err != nil {
		return r, err
	}
	dir := t.TempDir()
	metrics := testenv.FreeAddr(t)
	config := filepath.Join(dir, "transfer.yaml")
	if err := os.WriteFile(config, []byte(transferConfig(brokers, esURL, topic, group, metrics, benchFlush, extra)), 0o644); err != nil {
		return r, err
	}
	cmd := exec.Command(b.logtransfer, "-config", config)
	if prof != "" {
		cmd = exec.Command(b.transferprof, "-config", config, "-cpuprofile", prof+".cpu.prof", "-memprofile", prof+".alloc.prof")
	}
	proc, err := startProc("logtransfer", cmd, filepath.Join(dir, "logtransfer.log"), transferPoll)
	if err != nil {
		return r, err
	}
	defer proc.kill()
	var indexed float64
	r.wall, err = proc.until(t.Context(), transferRunTimeout, 0, func() (bool, error) {
		indexed = testenv.Metric(metrics, "logtransfer_docs_indexed_total")
		return indexed >= float64(n), nil
	})
	if err != nil {
		return r, fmt.Errorf("logtransfer indexed %.0f of %d documents: %w", indexed, n, err)
	}
	if err := proc.stop(true, time.Minute); err != nil {
		return r, err
	}
	r.cpu, r.maxRSS = proc.cpu, proc.maxRSS()
	got, err := countDocs(es, topic+"-*")
	if err != nil {
		return r, err
	}
	if got != n {
		return r, fmt.Errorf("index %s-* holds %d documents, want %d", topic, got, n)
	}
	return r, deleteIndices(es, topic+"-*")
}

// runLoader is the ceiling: the same documents logtransfer makes of the
// records (the record plus its "kafka" field, the same ids) sent by olivere's
// BulkProcessor, in this process, with the same bulk settings.
func runLoader(t *testing.T, es *elastic.Client, n int) (transferRun, error) {
	const topic = "ceiling"
	r := transferRun{broker: "-", contender: "olivere BulkProcessor", docs: n}
	if err := deleteIndices(es, topic+"-*"); err != nil {
		return r, err
	}
	index := topic + "-" + time.Now().UTC().Format("2006.01.02")
	var failed atomic.Int64
	var firstErr atomic.Pointer[string]
	var before syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	p, err := es.BulkProcessor().Name("ceiling").Workers(benchBulkWorkers).BulkActions(benchBulkActions).
		BulkSize(benchBulkBytes).FlushInterval(benchFlush).
		After(func(_ int64, _ []elastic.BulkableRequest, resp *elastic.BulkResponse, err error) {
			if err != nil {
				s := err.Error()
				firstErr.CompareAndSwap(nil, &s)
			}
			if resp != nil {
				failed.Add(int64(len(resp.Failed())))
			}
		}).Do(t.Context())
	if err != nil {
		return r, err
	}
	records(n, func(i int, v []byte) {
		doc := make([]byte, 0, len(v)+64)
		doc = append(doc, v[:len(v)-1]...)
		doc = append(doc, `,"kafka":{"topic":"ceiling","partition":0,"offset":`...)
		doc = strconv.AppendInt(doc, int64(i), 10)
		doc = append(doc, "}}"...)
		p.Add(elastic.NewBulkIndexRequest().Index(index).Id("ceiling-0-" + strconv.Itoa(i)).Doc(json.RawMessage(doc)))
	})
	if err := p.Close(); err != nil {
		return r, err
	}
	r.wall = time.Since(start)
	var after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	r.cpu = time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
	if s := firstErr.Load(); s != nil {
		return r, fmt.Errorf("bulk request failed: %s", *s)
	}
	if f := failed.Load(); f > 0 {
		return r, fmt.Errorf("%d documents failed", f)
	}
	got, err := countDocs(es, topic+"-*")
	if err != nil {
		return r, err
	}
	if got != n {
		return r, fmt.Errorf("index %s holds %d documents, want %d", index, got, n)
	}
	return r, deleteIndices(es, topic+"-*")
}

type freshness struct {
	rate     int           // lines/s asked for
	dur      time.Duration // how long lines were written
	achieved float64       // lines/s written
	p50, p99 float64
	docs     int // lines written
	inKafka  int // records in the topic afterwards
	indexed  int // documents in the index afterwards
	buckets  string
	load     float64
}

// runFreshness writes rate lines/s to a file for dur; logagent (default
// settings) ships them to Kafka and logtransfer (flush_interval freshFlush)
// indexes them. The quantiles come from logtransfer_end_to_end_seconds
// (index acknowledgement minus the @timestamp logagent gave the line when
// it read it), interpolated within its buckets.
func runFreshness(t *testing.T, b transferBins, es *elastic.Client, esURL string, brokers []string, rate int, dur time.Duration, topic string) (freshness, error) {
	fr := freshness{rate: rate, dur: dur}
	if err := deleteIndices(es, topic+"-*"); err != nil {
		return fr, err
	}
	_ = waitIdle(t)
	fr.load = loadavg1()
	dir := t.TempDir()
	logFile := filepath.Join(dir, "app.log")
	f, err := os.Create(logFile)
	if err != nil {
		return fr, err
	}
	defer f.Close()

	adm := newAdmin(t, brokers)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	_, err = adm.CreateTopic(ctx, 1, 1, nil, topic)
	cancel()
	adm.Close()
	if err != nil {
		return fr, err
	}

	tmetrics := testenv.FreeAddr(t)
	tconfig := filepath.Join(dir, "transfer.yaml")
	if err := os.WriteFile(tconfig, []byte(transferConfig(brokers, esURL, topic, topic, tmetrics, freshFlush, "")), 0o644); err != nil {
		return fr, err
	}
	acfg := filepath.Join(dir, "agent.yaml")
	if err := os.WriteFile(acfg, []byte(agentConfig(brokers, dir, logFile, topic, "json")), 0o644); err != nil {
		return fr, err
	}
	tp, err := startProc("logtransfer", exec.Command(b.logtransfer, "-config", tconfig), filepath.Join(dir, "t", "logtransfer.log"), transferPoll)
	if err != nil {
		return fr, err
	}
	defer tp.kill()
	ap, err := startProc("logagent", exec.Command(b.logagent, "-config", acfg), filepath.Join(dir, "a", "logagent.log"), transferPoll)
	if err != nil {
		return fr, err
	}
	defer ap.kill()
	testenv.WaitHealthy(t, tmetrics)
	time.Sleep(2 * time.Second) // the agent has the file open, the transfer joined its group

	// Write rate lines/s: every 10 ms, the lines due since the start (so a
	// late tick catches up instead of lowering the rate).
	g := newLineGen(7)
	var line []byte
	tick := time.NewTicker(10 * time.Millisecond)
	begin := time.Now()
	written := 0
	for now := range tick.C {
		el := now.Sub(begin)
		if el > dur {
			el = dur
		}
		due := int(float64(rate) * el.Seconds())
		var buf []byte
		for ; written < due; written++ {
			line = g.next(line[:0]) // ends with its newline
			buf = append(buf, line...)
		}
		if _, err := f.Write(buf); err != nil {
			tick.Stop()
			return fr, err
		}
		if el >= dur {
			break
		}
	}
	tick.Stop()
	fr.achieved = float64(written) / time.Since(begin).Seconds()
	fr.docs = written
	deadline := time.Now().Add(5 * time.Minute)
	for testenv.Metric(tmetrics, "logtransfer_docs_indexed_total") < float64(written) {
		if time.Now().After(deadline) {
			return fr, fmt.Errorf("indexed %.0f of %d lines\n%s\n%s", testenv.Metric(tmetrics, "logtransfer_docs_indexed_total"),
				written, tail(ap.log, 20), tail(tp.log, 20))
		}
		time.Sleep(100 * time.Millisecond)
	}
	fr.p50, fr.p99, fr.buckets, err = histogramQuantiles(tmetrics, "logtransfer_end_to_end_seconds", 0.5, 0.99)
	if err != nil {
		return fr, err
	}
	// What reached Kafka and the index: more records than lines means
	// logagent sent some twice (at least once), each indexed (and timed)
	// under its own offset.
	adm = newAdmin(t, brokers)
	inKafka, err := endOffsets(t.Context(), adm, topic)
	adm.Close()
	if err != nil {
		return fr, err
	}
	fr.inKafka = int(inKafka)
	if fr.indexed, err = countDocs(es, topic+"-*"); err != nil {
		return fr, err
	}
	_ = ap.stop(true, time.Minute)
	_ = tp.stop(true, time.Minute)
	return fr, deleteIndices(es, topic+"-*")
}

// histogramQuantiles scrapes a histogram and interpolates two quantiles
// linearly within its buckets (as PromQL's histogram_quantile does).
func histogramQuantiles(addr, name string, q1, q2 float64) (float64, float64, string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, 0, "", err
	}
	f := fams[name]
	if f == nil || len(f.Metric) != 1 || f.Metric[0].Histogram == nil {
		return 0, 0, "", fmt.Errorf("no histogram %s", name)
	}
	h := f.Metric[0].Histogram
	total := float64(h.GetSampleCount())
	var desc []string
	quantile := func(q float64) float64 {
		rank := q * total
		prevUpper, prevCount := 0.0, 0.0
		for _, bk := range h.Bucket {
			c := float64(bk.GetCumulativeCount())
			if c >= rank {
				if c == prevCount {
					return bk.GetUpperBound()
				}
				return prevUpper + (bk.GetUpperBound()-prevUpper)*(rank-prevCount)/(c-prevCount)
			}
			prevUpper, prevCount = bk.GetUpperBound(), c
		}
		return math.Inf(1)
	}
	prev := 0.0
	for _, bk := range h.Bucket {
		c := float64(bk.GetCumulativeCount())
		if c > prev {
			desc = append(desc, fmt.Sprintf("≤%gs: %.0f", bk.GetUpperBound(), c-prev))
		}
		prev = c
	}
	return quantile(q1), quantile(q2), strings.Join(desc, ", "), nil
}

func transferMarkdown(t *testing.T, esVersion, nodeDesc string, docs, runs int, all []transferRun, frs []freshness) string {
	var s strings.Builder
	e := environment(t, bins{})
	s.WriteString(e.header("logtransfer throughput", transferCommand, "bench/transfer_bench_test.go"))
	fmt.Fprintf(&s, "- Search engine: %s (internal/testenv: one node, %s), index template from logtransfer with 1 shard, 0 replicas\n", esVersion, nodeDesc)
	fmt.Fprintf(&s, "- Brokers: kfake (bench/kfake, its own process, in memory) and Apache Kafka %s (KRaft single node); %d partitions, %s agent-style JSON records (logagent's envelope around an nginx line, ~%d bytes) preloaded, zstd\n",
		e.kafka, transferPartitions, thousands(float64(docs)), recordSize())
	fmt.Fprintf(&s, "- Bulk settings for both contenders: %d actions, %d MiB, %d concurrent requests, flush %s\n", benchBulkActions, benchBulkBytes>>20, benchBulkWorkers, benchFlush)
	fmt.Fprintf(&s, "- logtransfer: wall time = process start (group join included) until `logtransfer_docs_indexed_total` reaches %s (polled every %s, uncompressed); then SIGTERM and a check that `_count` is %s. CPU = user+sys from its rusage; peak RSS = its VmHWM.\n",
		thousands(float64(docs)), transferPoll, thousands(float64(docs)))
	fmt.Fprintf(&s, "- Ceiling: olivere `BulkProcessor` in the test process, sending the documents logtransfer makes of the same records (record + `kafka` field, same ids) from memory; wall time = first Add until Close returns (every request answered). Its CPU is the whole test process's (includes the test's own polling; only indicative).\n")
	fmt.Fprintf(&s, "- Runs: %d, contenders interleaved, after one uncounted logtransfer warm-up; the indices are deleted before every run.\n\n", runs)
	fmt.Fprintf(&s, "**On 2 cores shared by the node, the broker and the contender**, and possibly other work (the load column: the 1-min load average at the start of each run, the previous run's processes included): the ratio between contenders run back to back is the meaningful figure.\n\n")

	type key struct{ broker, contender string }
	rates := map[key][]float64{}
	var order []key
	for _, r := range all {
		k := key{r.broker, r.contender}
		if _, ok := rates[k]; !ok {
			order = append(order, k)
		}
		rates[k] = append(rates[k], r.rate())
	}
	ceiling := median(rates[key{"-", "olivere BulkProcessor"}])
	fmt.Fprintf(&s, "| broker | contender | docs/s median (min–max) | vs ceiling |\n|---|---|---|---:|\n")
	for _, k := range order {
		v := rates[k]
		ratio := "-"
		if ceiling > 0 {
			ratio = fmt.Sprintf("%.0f%%", 100*median(v)/ceiling)
		}
		fmt.Fprintf(&s, "| %s | %s | %s (%s–%s) | %s |\n", k.broker, k.contender, thousands(median(v)),
			thousands(slices.Min(v)), thousands(slices.Max(v)), ratio)
	}
	fmt.Fprintf(&s, "\nTarget (issue 4): logtransfer ≥ 85%% of the ceiling.\n\n")
	fmt.Fprintf(&s, "## Freshness\n\n")
	if len(frs) > 0 {
		fmt.Fprintf(&s, "Lines written to a file for %s at a set rate, logagent (format json, its default linger %s) → Apache Kafka → logtransfer (flush_interval %s, a latency-oriented setting; the throughput runs above keep the default %s) → Elasticsearch.\n\n", frs[0].dur, linger, freshFlush, benchFlush)
		fmt.Fprintf(&s, "| lines/s asked | lines/s written | lines | records in Kafka | documents | p50 | p99 | load avg at start |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, fr := range frs {
			fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %.3f s | %.3f s | %.1f |\n", thousands(float64(fr.rate)), thousands(fr.achieved),
				thousands(float64(fr.docs)), thousands(float64(fr.inKafka)), thousands(float64(fr.indexed)), fr.p50, fr.p99, fr.load)
		}
		fmt.Fprintf(&s, "\nFrom `logtransfer_end_to_end_seconds`: Elasticsearch's acknowledgement of the bulk request minus the `@timestamp` logagent stamped when it read the line; interpolated within the histogram's buckets (powers of 2 from 10 ms), so ±1 bucket. A document becomes searchable at the index's next refresh (1 s by default) after that. When the rate is above what the node indexes (the docs/s above), the backlog grows during the run and the figures measure that queue, not the pipeline's own delay.\n\n")
		for _, fr := range frs {
			fmt.Fprintf(&s, "- Buckets at %s lines/s: %s\n", thousands(float64(fr.rate)), fr.buckets)
		}
	} else {
		fmt.Fprintf(&s, "Not measured (the runs failed).\n")
	}
	fmt.Fprintf(&s, "\n## Runs\n\n| broker | contender | run | docs | wall s | docs/s | CPU s | peak RSS MiB | load avg | notes |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range all {
		rss := "-"
		if r.maxRSS > 0 {
			rss = fmt.Sprintf("%.1f", mib(r.maxRSS))
		}
		fmt.Fprintf(&s, "| %s | %s | %d | %d | %.3f | %s | %.2f | %s | %.1f | %s |\n", r.broker, r.contender, r.run, r.docs,
			r.wall.Seconds(), thousands(r.rate()), r.cpu.Seconds(), rss, r.load, r.busy)
	}
	return s.String()
}

func recordSize() int {
	total := 0
	records(1000, func(_ int, v []byte) { total += len(v) })
	return total / 1000
}
