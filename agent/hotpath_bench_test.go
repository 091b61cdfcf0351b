package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/record"
)

// Micro-benchmarks of the agent's per-line hot paths, for benchstat:
//
//	go test -run '^$' -bench . -benchmem -count 6 ./agent/ > old.txt
//
// Each op is one line (one record, one acknowledgement), except the
// registry saves, where an op is one Save.

// benchNginxLines returns n nginx "combined" lines of about 200 bytes, each
// ending in "\n", varied like bench/'s generator.
func benchNginxLines(n int) []byte {
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
		"curl/8.5.0",
	}
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `10.%d.%d.%d - - [25/Nov/2026:14:23:%02d +0000] "GET /api/v1/items/%d?page=%d HTTP/1.1" %d %d "https://example.com/list" "%s"`+"\n",
			i%256, i/256%256, i/65536%256, i%60, i*7919%100000, i%17, []int{200, 200, 200, 304, 404, 500}[i%6], 512+i%4096, agents[i%len(agents)])
	}
	return b.Bytes()
}

// BenchmarkLineReader splits a buffer of lines with the harvester's line
// reader: ns/op and B/s per line.
func BenchmarkLineReader(b *testing.B) {
	long := bytes.Repeat([]byte("x"), 20<<10)
	for _, bc := range []struct {
		name string
		data []byte
		max  int
	}{
		{"nginx", benchNginxLines(4096), 1 << 20},
		{"nginx_crlf", bytes.ReplaceAll(benchNginxLines(4096), []byte("\n"), []byte("\r\n")), 1 << 20},
		{"20KiB_cut_at_16KiB", bytes.Repeat(append(long, '\n'), 64), 16 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			lines := bytes.Count(bc.data, []byte("\n"))
			r := bytes.NewReader(bc.data)
			lr := newLineReader(r, 0, bc.max)
			b.SetBytes(int64(len(bc.data) / lines))
			b.ReportAllocs()
			for b.Loop() {
				_, _, _, err := lr.next()
				if errors.Is(err, io.EOF) { // start over: the line is taken next
					r.Reset(bc.data)
					lr.br.Reset(r)
					_, _, _, err = lr.next()
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeRecord encodes one line as a record value in each format
// (BenchmarkEncodeJSON in encode_test.go is the plain json case alone).
func BenchmarkEncodeRecord(b *testing.B) {
	line := bytes.TrimSuffix(benchNginxLines(1), []byte("\n"))
	escaped := []byte(`{"level":"info","msg":"user \"bob\" logged in","path":"C:\\temp\\x","tab":"a	b"}`)
	invalid := append(bytes.Clone(line[:100]), "\xff\xfe caf\xe9"...)
	ts := appendTime(nil, time.Date(2026, 11, 25, 14, 23, 0, 123456789, time.UTC))
	path := record.AppendJSONString(nil, []byte("/var/log/nginx/access.log"))
	fields := map[string]string{"env": "prod", "service": "checkout", "region": "eu-west-1"}
	for _, bc := range []struct {
		name   string
		format string
		fields map[string]string
		ev     Event
	}{
		{"json", FormatJSON, nil, Event{Text: line}},
		{"json_fields", FormatJSON, fields, Event{Text: line}},
		{"json_escaped", FormatJSON, nil, Event{Text: escaped}},
		{"json_invalid_utf8", FormatJSON, nil, Event{Text: invalid}},
		{"raw", FormatRaw, nil, Event{Text: line}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			enc := newEncoder(bc.format, "web-1", "10.0.0.7", bc.fields)
			buf := make([]byte, 0, 1024)
			b.SetBytes(int64(len(bc.ev.Text)))
			b.ReportAllocs()
			for b.Loop() {
				buf = enc.encode(buf[:0], bc.ev, path, ts, 123456)
			}
		})
	}
}

// BenchmarkLineFilter decides whether one event (an nginx line) is kept by a
// task's include_lines / exclude_lines. A task without filters has no
// lineFilter: its cost is a nil check in the harvester.
func BenchmarkLineFilter(b *testing.B) {
	lines := bytes.Split(bytes.TrimSuffix(benchNginxLines(600), []byte("\n")), []byte("\n"))
	for _, bc := range []struct {
		name             string
		include, exclude []string
	}{
		{name: "exclude", exclude: []string{`GET /healthz `}},
		{name: "exclude_anchored", exclude: []string{`^10\.0\.`}},
		{name: "include", include: []string{`" [45]\d\d `}},
		{name: "include_exclude", include: []string{`" [45]\d\d `, `(?i)error`}, exclude: []string{`curl/`}},
		{name: "exclude_case_insensitive", exclude: []string{`(?i)healthz|readyz`}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newLineFilter(validTask(b, collect.Task{Path: "/a.log", Topic: "t", IncludeLines: bc.include, ExcludeLines: bc.exclude}))
			b.SetBytes(int64(len(lines[0])))
			b.ReportAllocs()
			kept := 0
			for i := 0; b.Loop(); i++ {
				if f.keep(lines[i%len(lines)]) {
					kept++
				}
			}
			b.ReportMetric(float64(kept)/float64(b.N), "kept/op")
		})
	}
}

// BenchmarkRegistryAck is the registry's part of one acknowledgement: the
// file's committed offset moves (entry.ack).
func BenchmarkRegistryAck(b *testing.B) {
	e := &entry{ID: fileID{Dev: 1, Ino: 2}, Task: "/var/log/*.log"}
	gen := e.begin(0)
	var off int64
	b.ReportAllocs()
	for b.Loop() {
		off += 200
		if !e.ack(gen, off) {
			b.Fatal("ack refused")
		}
	}
}

// BenchmarkShipperSendAck is the agent's bookkeeping around one record, with
// a producer that acknowledges at once: the in-flight limits (acquire and
// release), the produce call, and the acknowledgement (committed offset,
// metrics, latency histogram).
func BenchmarkShipperSendAck(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry())
	tm := newTaskMetrics(m, "/var/log/*.log", "bench")
	prod := &ackProducer{}
	s := newShipper(prod, newLimiter(10000, 16<<20), newKafkaUp(m.KafkaUp), nil, testLog(b))
	e := &entry{ID: fileID{Dev: 1, Ino: 2}, Task: "/var/log/*.log"}
	gen := e.begin(0)
	key := []byte(e.ID.String())
	val := bytes.TrimSuffix(benchNginxLines(1), []byte("\n"))
	ctx := context.Background()
	var in inflight
	var off int64
	b.ReportAllocs()
	for b.Loop() {
		off += int64(len(val)) + 1
		in.rec = kgo.Record{Topic: "bench", Key: key, Value: val}
		in.tm, in.e, in.gen, in.end = tm, e, gen, off
		if err := s.send(ctx, &in); err != nil {
			b.Fatal(err)
		}
	}
	if e.committed() != off {
		b.Fatalf("committed %d, want %d", e.committed(), off)
	}
}

// BenchmarkRegistrySave writes the registry to disk (JSON, temp file, fsync,
// rename, fsync of the directory) with one offset changed since the last
// save, for registries of 1, 100 and 1000 files; "unchanged" is a save that
// finds nothing changed (one flag, anyDirty, unset).
func BenchmarkRegistrySave(b *testing.B) {
	for _, files := range []int{1, 100, 1000} {
		for _, changed := range []bool{true, false} {
			name := fmt.Sprintf("files=%d", files)
			if !changed {
				name += "/unchanged"
			}
			b.Run(name, func(b *testing.B) {
				r, err := OpenRegistry(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				r.knownTask("/var/log/app/*.log")
				entries := make([]*entry, files)
				now := time.Date(2026, 11, 25, 14, 0, 0, 0, time.UTC)
				for i := range entries {
					e := &entry{ID: fileID{Dev: 2049, Ino: uint64(100000 + i)}, Task: "/var/log/app/*.log"}
					e.update(fmt.Sprintf("/var/log/app/service-%04d.log", i), fingerprintMax, uint64(i)*0x9e3779b97f4a7c15, now)
					e.begin(int64(i) * 4096)
					r.put(e)
					entries[i] = e
				}
				if err := r.Save(); err != nil {
					b.Fatal(err)
				}
				gen := entries[0].gen
				off := entries[0].committed()
				b.ReportAllocs()
				for b.Loop() {
					if changed {
						off += 200
						entries[0].ack(gen, off)
					}
					if err := r.Save(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
