//go:build bench

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/internal/record"
	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/pipeline"
)

const (
	pipelineResultsFile = "pipeline-throughput.md"
	pipelineCommand     = "go test -tags bench -run TestPipelineThroughput -v -timeout 90m ./bench/"
	pipelineTopic       = "bench-pipeline"
)

// pipelineContender is one contender of TestPipelineThroughput: logtransfer
// with a pipelines: section for the benchmark topic (%[1]s; none for the
// baseline), or, with loader set, the ceiling loader sending the documents
// that logtransfer with those pipelines makes.
type pipelineContender struct {
	name, pipelines string
	loader          bool
}

const (
	nginxPipeline = `pipelines:
  - name: web
    topics: [%[1]s]
    processors:
      - nginx: {}
      - drop: {if: 'url.original == "/healthz"'}
`
	// nginxNoMessagePipeline is the preset as Filebeat's nginx module leaves
	// a document: without the raw line once it is parsed (Filebeat keeps it
	// only in event.original, on request, not indexed).
	nginxNoMessagePipeline = `pipelines:
  - name: web
    topics: [%[1]s]
    processors:
      - nginx: {}
      - remove: {fields: [message]}
      - drop: {if: 'url.original == "/healthz"'}
`
	dissectPipeline = `pipelines:
  - name: web
    topics: [%[1]s]
    processors:
      - dissect: {pattern: '%%{source.address} - %%{user.name} [%%{time}] "%%{http.request.method} %%{url.original} HTTP/%%{http.version}" %%{http.response.status_code} %%{http.response.body.bytes} "%%{http.request.referrer}" "%%{user_agent.original}"'}
      - timestamp: {field: time, formats: [nginx]}
      - convert: {fields: {http.response.status_code: integer, http.response.body.bytes: integer}}
      - remove: {fields: [time]}
      - drop: {if: 'url.original == "/healthz"'}
`
)

// pipelineContenders, in the order of each round: logtransfer without a
// pipeline, and the ceiling loader with its documents; logtransfer with the
// nginx preset (which parses the line and takes @timestamp from
// $time_local, the timestamp processor's nginx layout) and a drop
// condition, and the ceiling loader with its documents; and the same fields
// built step by step, as a user without a preset would: dissect, a
// timestamp step, convert and the drop. The drop's condition holds for no
// benchmark line (none asks for /healthz): it is evaluated on every event
// and every record is indexed, so the runs compare the same number of
// documents. Last, the preset's documents without the raw line, as
// Filebeat's nginx module indexes them (a user who does not search the raw
// line can remove it), with their ceiling. Every logtransfer run, the
// warm-up's first, installs logtransfer's index template
// (template.overwrite, on *-*), which maps the loader's indices as well.
var pipelineContenders = []pipelineContender{
	{name: "no pipeline"},
	{name: "ceiling: no-pipeline documents", loader: true},
	{name: "nginx preset + drop", pipelines: nginxPipeline},
	{name: "ceiling: nginx-preset documents", pipelines: nginxPipeline, loader: true},
	{name: "dissect + timestamp + convert + drop", pipelines: dissectPipeline},
	{name: "nginx preset + remove message + drop", pipelines: nginxNoMessagePipeline},
	{name: "ceiling: nginx-preset documents without message", pipelines: nginxNoMessagePipeline, loader: true},
}

// pipelineRun is a transferRun with the CPU of the other processes over the
// same window: the node's JVM, kfake's, the test process's own (the loader,
// and the polling of logtransfer's metrics), and the rest of the machine.
type pipelineRun struct {
	transferRun
	nodeCPU, kfakeCPU, selfCPU, otherCPU, machineCPU time.Duration
	window                                           time.Duration // the time the CPU figures cover
}

// TestPipelineThroughput measures what pipelines cost: the same records
// (logagent's envelope around nginx access lines) indexed into the same
// Elasticsearch node with each of pipelineContenders, interleaved, from
// kfake in its own process (never the bottleneck). Beside each logtransfer
// contender, the ceiling loader sends the very documents logtransfer makes
// of the records with that pipeline (built beforehand, in memory) straight
// to the node, with the same bulk settings: the node's own ceiling for that
// document shape. Every run records the node's CPU beside logtransfer's, so
// that the bound is measured, not guessed. It writes
// results/pipeline-throughput.md, then profiles one run of the preset
// pipeline into results/logtransfer-pipeline-{cpu,alloc}-top.txt. It asserts
// nothing about the figures; it fails only if documents are missing.
//
// BENCH_TRANSFER_DOCS and BENCH_TRANSFER_RUNS set the records and the runs;
// BENCH_PIPELINE_PROFILE=0 skips the profile; BENCH_PIPELINE_CONTENDERS
// (indices into pipelineContenders, such as 0,1,5,6) runs some contenders
// only.
func TestPipelineThroughput(t *testing.T) {
	docs := envInt(t, "BENCH_TRANSFER_DOCS", transferDocs)
	runs := envInt(t, "BENCH_TRANSFER_RUNS", transferRuns)
	contenders := selectContenders(t, os.Getenv("BENCH_PIPELINE_CONTENDERS"))
	b := buildTransferBins(t)
	node := testenv.StartElasticsearchWithOptions(t, testenv.ElasticsearchOptions{Tuned: true})
	nodePID := childPID("http.port=" + strings.TrimPrefix(node.URL()[strings.LastIndexByte(node.URL(), ':'):], ":") + "\x00")
	if nodePID == 0 {
		t.Fatal("cannot find the node's JVM among this process's children")
	}
	es := benchESClient(t, node.URL())
	brokers, kfakePID, stopKfake := startKfake(t, b.kfake)
	defer stopKfake()
	preload(t, brokers, pipelineTopic, docs)
	warmUp(t, b, es, node.URL(), brokers)

	start := time.Now()
	bodies := map[string][]string{} // a contender's pipelines → its bulk bodies
	for _, c := range contenders {
		if c.loader && bodies[c.pipelines] == nil {
			bodies[c.pipelines] = ceilingBodies(t, docs, pipelineYAML(c))
		}
	}
	t.Logf("built the ceiling loader's bulk bodies in %s", time.Since(start).Round(time.Millisecond))

	var all []pipelineRun
	for run := 1; run <= runs; run++ {
		for i, c := range contenders {
			busy := waitIdle(t)
			load := loadavg1()
			before := sampleCPU(kfakePID)
			nodeBefore := procCPU(nodePID)
			began := time.Now()
			var r transferRun
			var err error
			if c.loader {
				r, err = runCeiling(t, node, es, bodies[c.pipelines], docs)
			} else {
				r, err = runTransfer(t, b, es, node.URL(), brokers, pipelineTopic, fmt.Sprintf("pipeline-%d-%d", i, run), docs, pipelineYAML(c), "")
			}
			if err != nil {
				t.Errorf("%s run %d: %v", c.name, run, err)
				continue
			}
			after := sampleCPU(kfakePID)
			pr := pipelineRun{transferRun: r, nodeCPU: procCPU(nodePID) - nodeBefore, kfakeCPU: after.broker - before.broker,
				selfCPU: after.self - before.self, machineCPU: after.machine - before.machine, window: time.Since(began)}
			pr.otherCPU = max(0, pr.machineCPU-pr.nodeCPU-pr.kfakeCPU-pr.selfCPU-pr.cpu)
			pr.contender, pr.run, pr.load, pr.busy = c.name, run, load, busy
			t.Logf("%-38s run %d: %8.0f docs/s  wall %7.3fs  cpu %7.3fs (%.2f s per 1M)  node %7.3fs  kfake %.3fs  test %.3fs  other %.3fs  rss %6.1f MiB  load %.1f",
				c.name, run, pr.rate(), pr.wall.Seconds(), pr.cpu.Seconds(), cpuPerMillion(r), pr.nodeCPU.Seconds(),
				pr.kfakeCPU.Seconds(), pr.selfCPU.Seconds(), pr.otherCPU.Seconds(), mib(pr.maxRSS), load)
			all = append(all, pr)
		}
	}
	md := pipelineMarkdown(t, node.Version(), docs, runs, contenders, all)
	t.Log("\n" + md)
	writeResult(t, pipelineResultsFile, []byte(md))

	if os.Getenv("BENCH_PIPELINE_PROFILE") != "0" {
		c := pipelineContenders[2]
		cpuProfileTransfer(t, b, es, node.URL(), brokers, pipelineTopic, docs, pipelineYAML(c), "logtransfer-pipeline",
			"logtransfer (transferprof) against kfake with pipelines "+c.name)
	}
}

func pipelineYAML(c pipelineContender) string {
	if c.pipelines == "" {
		return ""
	}
	return fmt.Sprintf(c.pipelines, pipelineTopic)
}

func cpuPerMillion(r transferRun) float64 { return perMillion(r.cpu, r.docs) }

func perMillion(d time.Duration, docs int) float64 { return d.Seconds() * 1e6 / float64(docs) }

// ceilingBodies returns the bulk request bodies that logtransfer sends for
// the n benchmark records with the pipelines of pipelinesYAML (none when
// empty): the same documents (pipeline.BuildDocument with logtransfer's
// kafka field, or the record with the kafka field appended), the same
// daily indices, ids of the same form ({topic}-{partition}-{offset}), the
// same action lines, cut at the same bulk.actions and bulk.bytes. The
// records are spread over the topic's partitions as in Kafka; which record
// has which offset differs, not the shape.
func ceilingBodies(t *testing.T, n int, pipelinesYAML string) []string {
	t.Helper()
	var p *pipeline.Pipeline
	if pipelinesYAML != "" {
		f := filepath.Join(t.TempDir(), "pipelines.yaml")
		if err := os.WriteFile(f, []byte(pipelinesYAML), 0o644); err != nil {
			t.Fatal(err)
		}
		cfgs, err := pipeline.LoadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		set, err := pipeline.NewSet(cfgs)
		if err != nil {
			t.Fatal(err)
		}
		if p = set.For(pipelineTopic); p == nil {
			t.Fatalf("no pipeline for topic %s", pipelineTopic)
		}
	}
	var bodies []string
	var body, action, doc []byte
	count := 0
	flush := func() {
		if count > 0 {
			bodies = append(bodies, string(body))
		}
		body, count = body[:0], 0
	}
	received := time.Now()
	day := received.UTC().Truncate(24 * time.Hour) // the records' @timestamp (see records)
	records(n, func(i int, v []byte) {
		partition, offset := int64(i%transferPartitions), int64(i/transferPartitions)
		ts := day
		if p == nil {
			doc = append(doc[:0], v[:len(v)-1]...)
			doc = append(doc, `,"kafka":{"topic":`...)
			doc = record.AppendJSONString(doc, []byte(pipelineTopic))
			doc = append(doc, `,"partition":`...)
			doc = strconv.AppendInt(doc, partition, 10)
			doc = append(doc, `,"offset":`...)
			doc = strconv.AppendInt(doc, offset, 10)
			doc = append(doc, "}}"...)
		} else {
			d := pipeline.BuildDocument(p, v, received, func(e *pipeline.Event) {
				e.Fields["kafka"] = map[string]any{"topic": pipelineTopic, "partition": partition, "offset": offset}
			}, doc[:0])
			if d.Dropped || d.Err != nil {
				t.Fatalf("record %d: dropped %v, error %v", i, d.Dropped, d.Err)
			}
			doc, ts = d.Body, d.Time
		}
		action = append(action[:0], `{"index":{"_index":`...)
		action = record.AppendJSONString(action, []byte(pipelineTopic+"-"+ts.UTC().Format("2006.01.02")))
		action = append(action, `,"_id":`...)
		action = record.AppendJSONString(action, fmt.Appendf(nil, "%s-%d-%d", pipelineTopic, partition, offset))
		action = append(action, "}}\n"...)
		if count == benchBulkActions || count > 0 && len(body)+len(action)+len(doc)+1 > benchBulkBytes {
			flush()
		}
		body = append(body, action...)
		body = append(body, doc...)
		body = append(body, '\n')
		count++
	})
	flush()
	return bodies
}

// runCeiling sends bodies to the node, benchBulkWorkers requests at a time,
// as logtransfer does (POST /_bulk with its filter_path, every item's status
// read), and checks that the n documents are there, in indices that
// logtransfer's template mapped. Its CPU is the test process's over the
// sending.
func runCeiling(t *testing.T, node *testenv.Elasticsearch, es *elastic.Client, bodies []string, n int) (r transferRun, err error) {
	r = transferRun{broker: "-", contender: "ceiling loader", docs: n}
	if err := deleteIndices(es, pipelineTopic+"-*"); err != nil {
		return r, err
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: benchBulkWorkers}}
	defer client.CloseIdleConnections()
	url := node.URL() + "/_bulk?filter_path=items.*.status,items.*.error"
	work := make(chan string)
	errs := make(chan error, benchBulkWorkers)
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	var wg sync.WaitGroup
	for range benchBulkWorkers {
		wg.Go(func() {
			for body := range work {
				if err := ceilingBulk(t.Context(), client, url, body); err != nil {
					errs <- err
					for range work { // drain, so that the sender ends
					}
					return
				}
			}
		})
	}
	for _, body := range bodies {
		work <- body
	}
	close(work)
	wg.Wait()
	r.wall = time.Since(start)
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	r.cpu = time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	close(errs)
	if err := <-errs; err != nil {
		return r, err
	}
	got, err := countDocs(es, pipelineTopic+"-*")
	if err != nil {
		return r, err
	}
	if got != n {
		return r, fmt.Errorf("indices %s-* hold %d documents, want %d", pipelineTopic, got, n)
	}
	indices, err := es.IndexNames()
	if err != nil {
		return r, err
	}
	for _, ix := range indices {
		if !strings.HasPrefix(ix, pipelineTopic+"-") {
			continue
		}
		// Dynamic mapping would make kafka.partition a long.
		if typ := node.FieldTypes(t, ix)["kafka.partition"]; typ != "integer" {
			return r, fmt.Errorf("index %s: kafka.partition is %q, not the template's integer: logtransfer's template does not apply", ix, typ)
		}
	}
	return r, deleteIndices(es, pipelineTopic+"-*")
}

// ceilingBulk sends one bulk body and fails unless every item was indexed.
func ceilingBulk(ctx context.Context, client *http.Client, url, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("bulk: %s: %.500s", resp.Status, data)
	}
	var a struct {
		Items []map[string]struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(data, &a); err != nil {
		return fmt.Errorf("bulk answer: %w", err)
	}
	if want := bytes.Count([]byte(body), []byte("\n")) / 2; len(a.Items) != want {
		return fmt.Errorf("bulk answer has %d items for %d documents", len(a.Items), want)
	}
	for _, it := range a.Items {
		for _, v := range it {
			if v.Status >= 300 {
				return fmt.Errorf("bulk item: status %d: %s", v.Status, v.Error)
			}
		}
	}
	return nil
}

func pipelineMarkdown(t *testing.T, esVersion string, docs, runs int, contenders []pipelineContender, all []pipelineRun) string {
	var s strings.Builder
	e := environment(t, bins{})
	s.WriteString(e.header("logtransfer with and without pipelines", pipelineCommand, "bench/pipeline_bench_test.go"))
	fmt.Fprintf(&s, "- Search engine: %s (internal/testenv: one node tuned as a deployment: C2 JIT, G1, 1 GiB heap), logtransfer's index template (1 shard, 0 replicas; `template.overwrite` on, so that each run's template covers the benchmark topic's indices)\n", esVersion)
	fmt.Fprintf(&s, "- Broker: kfake (bench/kfake, its own process, in memory); %d partitions, %s agent-style JSON records (logagent's envelope around an nginx access line, ~%d bytes) preloaded once, zstd; each run reads them with a new consumer group\n",
		transferPartitions, thousands(float64(docs)), recordSize())
	fmt.Fprintf(&s, "- logtransfer: bulk %d actions, %d MiB, %d concurrent requests, flush %s; wall time = process start until `logtransfer_docs_indexed_total` reaches %s, then SIGTERM and a `_count` check. Its CPU = user+sys from its rusage; peak RSS = its VmHWM.\n",
		benchBulkActions, benchBulkBytes>>20, benchBulkWorkers, benchFlush, thousands(float64(docs)))
	fmt.Fprintf(&s, "- Ceiling loader (`ceiling: ...`): the documents logtransfer makes of the same records with the same pipeline (`pipeline.BuildDocument` plus the `kafka` field; without a pipeline the record plus the `kafka` field), with the same indices, ids and action lines, built into bulk bodies of %d actions before the run and sent from the test process, %d requests at a time, with logtransfer's `filter_path`; wall time = first request until the last answer. Its CPU column is the test process's over the sending.\n",
		benchBulkActions, benchBulkWorkers)
	s.WriteString("- Node CPU: user+sys of the node's JVM (`/proc/PID/stat`) over each run's window (which also holds the index deletion before and after, the refresh and the `_count`); kfake's likewise; test = this test process (the loader, the metrics polling); other = the rest of the machine (`/proc/stat` minus all of those).\n")
	fmt.Fprintf(&s, "- Runs: %d per contender, interleaved, after one uncounted warm-up; the indices are deleted before every run.\n\n", runs)
	s.WriteString("The pipelines, for topic `" + pipelineTopic + "`:\n\n")
	shown := map[string]bool{}
	for _, c := range contenders {
		if c.pipelines != "" && !c.loader && !shown[c.pipelines] {
			shown[c.pipelines] = true
			fmt.Fprintf(&s, "%s:\n\n```yaml\n%s```\n\n", c.name, pipelineYAML(c))
		}
	}
	s.WriteString("The drop condition holds for no line (none asks for /healthz): it is evaluated on every event and every record is indexed.\n\n")
	s.WriteString("**On 2 cores shared by the node, the broker and logtransfer**: the ratio between contenders run back to back is the meaningful figure.\n\n")

	type stat struct{ rate, cpu, node, kfake, self, other, busy []float64 }
	stats := map[string]*stat{}
	for _, r := range all {
		st := stats[r.contender]
		if st == nil {
			st = &stat{}
			stats[r.contender] = st
		}
		st.rate = append(st.rate, r.rate())
		st.cpu = append(st.cpu, cpuPerMillion(r.transferRun))
		st.node = append(st.node, perMillion(r.nodeCPU, r.docs))
		st.kfake = append(st.kfake, perMillion(r.kfakeCPU, r.docs))
		st.self = append(st.self, perMillion(r.selfCPU, r.docs))
		st.other = append(st.other, perMillion(r.otherCPU, r.docs))
		st.busy = append(st.busy, r.machineCPU.Seconds()/(2*r.window.Seconds()))
	}
	rateOf := func(name string) float64 {
		if st := stats[name]; st != nil {
			return median(st.rate)
		}
		return 0
	}
	base := rateOf(pipelineContenders[0].name)
	ceilBase := rateOf(pipelineContenders[1].name)
	s.WriteString("CPU columns are seconds per 1,000,000 documents, medians; \"machine busy\" is the share of the 2 cores in use over the run's window.\n\n")
	s.WriteString("| contender | docs/s median (min–max) | vs no pipeline | vs its ceiling | logtransfer (loader: test process) CPU s | node CPU s | kfake CPU s | other CPU s | machine busy |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, c := range contenders {
		st := stats[c.name]
		if st == nil {
			fmt.Fprintf(&s, "| %s | failed | - | - | - | - | - | - | - |\n", c.name)
			continue
		}
		vsBase, vsCeil := "-", "-"
		ref := base
		if c.loader {
			ref = ceilBase
		}
		if ref > 0 {
			vsBase = fmt.Sprintf("%.2f", median(st.rate)/ref)
		}
		if ceil := rateOf(ceilingOf(c)); ceil > 0 && !c.loader {
			vsCeil = fmt.Sprintf("%.2f", median(st.rate)/ceil)
		}
		fmt.Fprintf(&s, "| %s | %s (%s–%s) | %s | %s | %.2f | %.2f | %.2f | %.2f | %.0f%% |\n", c.name,
			thousands(median(st.rate)), thousands(slices.Min(st.rate)), thousands(slices.Max(st.rate)), vsBase, vsCeil,
			median(st.cpu), median(st.node), median(st.kfake), median(st.other), 100*median(st.busy))
	}
	s.WriteString("\n\"vs no pipeline\" compares a logtransfer contender with logtransfer without a pipeline, a ceiling with the no-pipeline documents' ceiling (the node's own cost of the shape); \"vs its ceiling\" compares a logtransfer contender with the ceiling loader of the same documents (where there is one).\n")
	s.WriteString("\nTarget (issue 16): the nginx preset + timestamp + drop pipeline at ≥ 0.85 of the throughput without pipelines.\n")
	s.WriteString("\n## Runs\n\n| contender | run | docs | wall s | docs/s | logtransfer / loader CPU s | node CPU s | kfake CPU s | test CPU s | other CPU s | peak RSS MiB | load avg | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range all {
		rss := "-"
		if r.maxRSS > 0 {
			rss = fmt.Sprintf("%.1f", mib(r.maxRSS))
		}
		fmt.Fprintf(&s, "| %s | %d | %d | %.3f | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %.1f | %s |\n", r.contender, r.run, r.docs,
			r.wall.Seconds(), thousands(r.rate()), r.cpu.Seconds(), r.nodeCPU.Seconds(), r.kfakeCPU.Seconds(), r.selfCPU.Seconds(),
			r.otherCPU.Seconds(), rss, r.load, r.busy)
	}
	fmt.Fprintf(&s, "\nLoad average at the end: %.1f.\n", loadavg1())
	return s.String()
}

// selectContenders returns the pipelineContenders that list (indices,
// comma-separated) names, all of them when it is empty.
func selectContenders(t *testing.T, list string) []pipelineContender {
	t.Helper()
	if list == "" {
		return pipelineContenders
	}
	var cs []pipelineContender
	for f := range strings.SplitSeq(list, ",") {
		i, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || i < 0 || i >= len(pipelineContenders) {
			t.Fatalf("BENCH_PIPELINE_CONTENDERS=%q: want indices 0 to %d, comma-separated", list, len(pipelineContenders)-1)
		}
		cs = append(cs, pipelineContenders[i])
	}
	return cs
}

// ceilingOf is the name of the ceiling contender with c's documents, "" if
// there is none.
func ceilingOf(c pipelineContender) string {
	i := slices.IndexFunc(pipelineContenders, func(o pipelineContender) bool { return o.loader && o.pipelines == c.pipelines })
	if i < 0 {
		return ""
	}
	return pipelineContenders[i].name
}
