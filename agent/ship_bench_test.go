package agent

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
)

// ackProducer acknowledges every record at once, so a benchmark measures the agent's own
// cost per line: reading, encoding, bookkeeping and the promise, without a Kafka client.
type ackProducer struct{ acked atomic.Int64 }

func (p *ackProducer) Produce(_ context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	if r.Timestamp.IsZero() {
		r.Timestamp = time.Now() // as kgo does
	}
	promise(r, nil)
	p.acked.Add(1)
}

// BenchmarkShipJSON tails a file of b.N nginx-style lines with format json into a producer
// that acknowledges at once: ns/op and allocs/op are the agent's per-line overhead on top
// of the Kafka client's (compare with make bench's end-to-end figures).
func BenchmarkShipJSON(b *testing.B) {
	benchShip(b, collect.Task{})
}

// BenchmarkShipJSONFiltered is BenchmarkShipJSON with an exclude_lines regexp
// that drops 3 lines in 17 (their offsets are committed without a record):
// an op is one line, shipped or filtered.
func BenchmarkShipJSONFiltered(b *testing.B) {
	benchShip(b, collect.Task{ExcludeLines: []string{`page=(3|5|7) `}})
}

// benchShip runs b.N lines through an agent running task (its path, topic
// and start position set here).
func benchShip(b *testing.B, task collect.Task) {
	path := filepath.Join(b.TempDir(), "access.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for n := range b.N {
		fmt.Fprintf(w, `10.%d.%d.%d - - [25/Nov/2026:14:23:%02d +0000] "GET /api/v1/items/%d?page=%d HTTP/1.1" 200 %d "https://example.com/list" "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0"`+"\n",
			n%256, n/256%256, n/65536%256, n%60, n, n%17, 512+n%4096)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	id, _ := statID(fi)
	cfg := testConfig(b, []string{"127.0.0.1:1"}, b.TempDir())
	prod := &ackProducer{}
	b.ReportAllocs()
	cpu := cpuTime(b)
	b.ResetTimer()
	task.Path, task.Topic, task.StartPosition = path, "bench", "beginning"
	ra := startAgent(b, cfg, prod, task)
	// Done when the whole file is committed: every record acknowledged,
	// filtered lines included.
	for e := ra.reg.lookup(id); e == nil || e.committed() < fi.Size(); e = ra.reg.lookup(id) {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	// CPU time says more than wall time on a shared machine.
	b.ReportMetric(float64(cpuTime(b)-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
