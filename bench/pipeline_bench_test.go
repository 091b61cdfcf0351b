//go:build bench

package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/internal/testenv"
)

const (
	pipelineResultsFile = "pipeline-throughput.md"
	pipelineCommand     = "go test -tags bench -run TestPipelineThroughput -v -timeout 90m ./bench/"
	pipelineTopic       = "bench-pipeline"
)

// pipelineContender is one logtransfer configuration of
// TestPipelineThroughput: its pipelines: section for the benchmark topic
// (%[1]s), none for the baseline.
type pipelineContender struct{ name, pipelines string }

// pipelineContenders: logtransfer without a pipeline; with the nginx preset
// (which parses the line and takes @timestamp from $time_local, the
// timestamp processor's nginx layout) and a drop condition; and the same
// fields built step by step, as a user without a preset would: dissect, a
// timestamp step, convert and the drop. The drop's condition holds for no
// benchmark line (none asks for /healthz): it is evaluated on every event and
// every record is indexed, so the runs compare the same number of documents.
var pipelineContenders = []pipelineContender{
	{name: "no pipeline"},
	{name: "nginx preset + drop", pipelines: `pipelines:
  - name: web
    topics: [%[1]s]
    processors:
      - nginx: {}
      - drop: {if: 'url.original == "/healthz"'}
`},
	{name: "dissect + timestamp + convert + drop", pipelines: `pipelines:
  - name: web
    topics: [%[1]s]
    processors:
      - dissect: {pattern: '%%{source.address} - %%{user.name} [%%{time}] "%%{http.request.method} %%{url.original} HTTP/%%{http.version}" %%{http.response.status_code} %%{http.response.body.bytes} "%%{http.request.referrer}" "%%{user_agent.original}"'}
      - timestamp: {field: time, formats: [nginx]}
      - convert: {fields: {http.response.status_code: integer, http.response.body.bytes: integer}}
      - remove: {fields: [time]}
      - drop: {if: 'url.original == "/healthz"'}
`},
}

// TestPipelineThroughput measures what pipelines cost logtransfer: the same
// records (logagent's envelope around nginx access lines) indexed into the
// same Elasticsearch node with each of pipelineContenders, interleaved, from
// kfake in its own process (never the bottleneck). It writes
// results/pipeline-throughput.md, then profiles one run of the preset
// pipeline into results/logtransfer-pipeline-{cpu,alloc}-top.txt. It asserts
// nothing about the figures; it fails only if documents are missing.
//
// BENCH_TRANSFER_DOCS and BENCH_TRANSFER_RUNS set the records and the runs;
// BENCH_PIPELINE_PROFILE=0 skips the profile.
func TestPipelineThroughput(t *testing.T) {
	docs := envInt(t, "BENCH_TRANSFER_DOCS", transferDocs)
	runs := envInt(t, "BENCH_TRANSFER_RUNS", transferRuns)
	b := buildTransferBins(t)
	node := testenv.StartElasticsearchWithOptions(t, testenv.ElasticsearchOptions{Tuned: true})
	es := benchESClient(t, node.URL())
	brokers, _, stopKfake := startKfake(t, b.kfake)
	defer stopKfake()
	preload(t, brokers, pipelineTopic, docs)
	warmUp(t, b, es, node.URL(), brokers)

	var all []transferRun
	for run := 1; run <= runs; run++ {
		for i, c := range pipelineContenders {
			busy := waitIdle(t)
			load := loadavg1()
			r, err := runTransfer(t, b, es, node.URL(), brokers, pipelineTopic, fmt.Sprintf("pipeline-%d-%d", i, run), docs, pipelineYAML(c), "")
			if err != nil {
				t.Errorf("%s run %d: %v", c.name, run, err)
				continue
			}
			r.contender, r.run, r.load, r.busy = c.name, run, load, busy
			t.Logf("%-38s run %d: %8.0f docs/s  wall %7.3fs  cpu %7.3fs (%.2f s per 1M)  rss %6.1f MiB  load %.1f",
				c.name, run, r.rate(), r.wall.Seconds(), r.cpu.Seconds(), cpuPerMillion(r), mib(r.maxRSS), load)
			all = append(all, r)
		}
	}
	md := pipelineMarkdown(t, node.Version(), docs, runs, all)
	t.Log("\n" + md)
	writeResult(t, pipelineResultsFile, []byte(md))

	if envInt(t, "BENCH_PIPELINE_PROFILE", 1) != 0 {
		c := pipelineContenders[1]
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

func cpuPerMillion(r transferRun) float64 { return r.cpu.Seconds() * 1e6 / float64(r.docs) }

func pipelineMarkdown(t *testing.T, esVersion string, docs, runs int, all []transferRun) string {
	var s strings.Builder
	e := environment(t, bins{})
	s.WriteString(e.header("logtransfer with and without pipelines", pipelineCommand, "bench/pipeline_bench_test.go"))
	fmt.Fprintf(&s, "- Search engine: %s (internal/testenv: one node tuned as a deployment: C2 JIT, G1, 1 GiB heap), index template from logtransfer with 1 shard, 0 replicas\n", esVersion)
	fmt.Fprintf(&s, "- Broker: kfake (bench/kfake, its own process, in memory); %d partitions, %s agent-style JSON records (logagent's envelope around an nginx access line, ~%d bytes) preloaded once, zstd; each run reads them with a new consumer group\n",
		transferPartitions, thousands(float64(docs)), recordSize())
	fmt.Fprintf(&s, "- logtransfer: bulk %d actions, %d MiB, %d concurrent requests, flush %s; wall time = process start until `logtransfer_docs_indexed_total` reaches %s, then SIGTERM and a `_count` check. CPU = user+sys from its rusage; peak RSS = its VmHWM.\n",
		benchBulkActions, benchBulkBytes>>20, benchBulkWorkers, benchFlush, thousands(float64(docs)))
	fmt.Fprintf(&s, "- Runs: %d per contender, interleaved, after one uncounted warm-up; the indices are deleted before every run.\n\n", runs)
	s.WriteString("The pipelines, for topic `" + pipelineTopic + "`:\n\n")
	for _, c := range pipelineContenders[1:] {
		fmt.Fprintf(&s, "%s:\n\n```yaml\n%s```\n\n", c.name, pipelineYAML(c))
	}
	s.WriteString("The drop condition holds for no line (none asks for /healthz): it is evaluated on every event and every record is indexed.\n\n")
	s.WriteString("**On 2 cores shared by the node, the broker and logtransfer**: the ratio between contenders run back to back is the meaningful figure; CPU s per 1M documents is logtransfer's own cost.\n\n")

	rates := map[string][]float64{}
	cpus := map[string][]float64{}
	for _, r := range all {
		rates[r.contender] = append(rates[r.contender], r.rate())
		cpus[r.contender] = append(cpus[r.contender], cpuPerMillion(r))
	}
	base := median(rates[pipelineContenders[0].name])
	s.WriteString("| contender | docs/s median (min–max) | vs no pipeline | logtransfer CPU s per 1M docs, median (min–max) |\n|---|---|---:|---|\n")
	for _, c := range pipelineContenders {
		v, cpu := rates[c.name], cpus[c.name]
		if len(v) == 0 {
			fmt.Fprintf(&s, "| %s | failed | - | - |\n", c.name)
			continue
		}
		ratio := "-"
		if base > 0 {
			ratio = fmt.Sprintf("%.2f", median(v)/base)
		}
		fmt.Fprintf(&s, "| %s | %s (%s–%s) | %s | %.2f (%.2f–%.2f) |\n", c.name, thousands(median(v)), thousands(slices.Min(v)), thousands(slices.Max(v)),
			ratio, median(cpu), slices.Min(cpu), slices.Max(cpu))
	}
	s.WriteString("\nTarget (issue 16): the nginx preset + timestamp + drop pipeline at ≥ 0.85 of the throughput without pipelines.\n")
	s.WriteString("\n## Runs\n\n| contender | run | docs | wall s | docs/s | CPU s | CPU s per 1M | peak RSS MiB | load avg | notes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range all {
		fmt.Fprintf(&s, "| %s | %d | %d | %.3f | %s | %.2f | %.2f | %.1f | %.1f | %s |\n", r.contender, r.run, r.docs,
			r.wall.Seconds(), thousands(r.rate()), r.cpu.Seconds(), cpuPerMillion(r), mib(r.maxRSS), r.load, r.busy)
	}
	return s.String()
}
