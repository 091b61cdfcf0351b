//go:build bench

package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcollect/logcollect/internal/testenv"
	"github.com/logcollect/logcollect/transfer"
)

// TestTransferMemory measures logtransfer's peak RSS while it indexes a
// backlog preloaded into the real Kafka broker of internal/testenv
// ($BENCH_MEM_DOCS records, 300k by default, over transferPartitions
// partitions), with the throughput benchmark's bulk settings. Each run is a
// new consumer group, so each indexes the whole backlog. Runs alternate
// between this tree's logtransfer and, if $BENCH_MEM_BASELINE names one,
// another logtransfer binary (such as one built from main), with the same
// config. Then, if $BENCH_MEM_PROFILE names a directory, it runs the transfer
// once in this process with kafka.fetch_max_bytes = $BENCH_MEM_FETCH (the
// default if unset) and writes heap profiles there as the live heap reaches
// new highs (BENCH_MEM_PROFILE_ONLY=1: only that). It asserts nothing about
// the figures.
//
//	BENCH_MEM_BASELINE=/tmp/logtransfer-main go test -tags bench -run TestTransferMemory -v ./bench/
func TestTransferMemory(t *testing.T) {
	docs := envInt(t, "BENCH_MEM_DOCS", 300_000)
	runs := envInt(t, "BENCH_MEM_RUNS", 2)
	if os.Getenv("BENCH_MEM_PROFILE_ONLY") == "1" {
		runs = 0
	}
	b := buildTransferBins(t)
	contenders := map[string]string{"this tree": b.logtransfer}
	order := []string{"this tree"}
	if base := os.Getenv("BENCH_MEM_BASELINE"); base != "" {
		contenders["baseline"] = base
		order = []string{"baseline", "this tree"}
	}
	node := testenv.StartElasticsearch(t)
	es := benchESClient(t, node.URL())
	kafka := testenv.StartKafka(t)
	const topic = "bench-mem"
	start := time.Now()
	preload(t, kafka.Brokers(), topic, docs)
	t.Logf("preloaded %d records (%d partitions) in %s", docs, transferPartitions, time.Since(start).Round(time.Millisecond))

	n := 0
	for run := 1; run <= runs; run++ {
		for _, c := range order {
			n++
			r, err := runTransfer(t, transferBins{logtransfer: contenders[c]}, es, node.URL(), kafka.Brokers(), topic, "mem-"+string(rune('a'+n)), docs, "", "")
			if err != nil {
				t.Fatalf("%s run %d: %v", c, run, err)
			}
			t.Logf("%-9s run %d: peak RSS %6.1f MiB  %7.0f docs/s  cpu %7.3fs  load %.1f",
				c, run, mib(r.maxRSS), r.rate(), r.cpu.Seconds(), loadavg1())
		}
	}
	if dir := os.Getenv("BENCH_MEM_PROFILE"); dir != "" {
		profileTransfer(t, dir, envInt(t, "BENCH_MEM_FETCH", 0), kafka.Brokers(), node.URL(), topic, docs)
	}
}

// profileTransfer runs the transfer in this process until it has indexed n
// documents of topic, sampling the live heap (as marked by the last GC)
// every 20 ms and writing dir/heap-<fetch>.pprof whenever it is 10% above
// the last profile's: the profile's in-use figures are of that same GC.
func profileTransfer(t *testing.T, dir string, fetch int, brokers []string, esURL, topic string, n int) {
	var cfg transfer.Config
	cfg.Kafka.Brokers, cfg.Kafka.Topics, cfg.Kafka.Group, cfg.Kafka.FetchMaxBytes = brokers, []string{topic}, "mem-profile", fetch
	cfg.Elasticsearch.URLs = []string{esURL}
	zero := 0
	cfg.Template.Replicas = &zero
	cfg.Bulk.Actions, cfg.Bulk.Bytes, cfg.Bulk.Workers = benchBulkActions, benchBulkBytes, benchBulkWorkers
	cfg.Metrics.Listen = testenv.FreeAddr(t)
	reg := prometheus.NewRegistry()
	tr, err := transfer.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()

	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}}
	var peak, profiled, goal uint64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for indexedDocs(t, reg) < float64(n) {
		<-tick.C
		metrics.Read(sample)
		if live := sample[0].Value.Uint64(); live > peak {
			peak, goal = live, sample[1].Value.Uint64()
			if live > profiled+profiled/10 {
				profiled = live
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("heap-%d.pprof", fetch)))
				if err != nil {
					t.Fatal(err)
				}
				if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
					t.Fatal(err)
				}
				_ = f.Close()
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("in process, kafka.fetch_max_bytes %d (0: default): live heap peak %.1f MiB (GC goal then %.1f MiB); profile at %.1f MiB in %s",
		fetch, mib(int64(peak)), mib(int64(goal)), mib(int64(profiled)), dir)
}

func indexedDocs(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "logtransfer_docs_indexed_total" {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
