// Command rawproducer is the ceiling of the agent throughput benchmark: it
// reads a file line by line and produces each line, as it is, as one record
// with franz-go configured as logagent configures it (acks=all, idempotent,
// same compression, linger and buffering limits, one fixed key so that every
// line goes to one partition). It exits once Kafka has acknowledged every
// record.
//
//	rawproducer -brokers 127.0.0.1:9092 -topic bench -file access.log
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/agent"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "rawproducer:", err)
		os.Exit(1)
	}
}

func run(args []string) (err error) {
	fs := flag.NewFlagSet("rawproducer", flag.ContinueOnError)
	var (
		brokers     = fs.String("brokers", "127.0.0.1:9092", "comma-separated Kafka brokers")
		topic       = fs.String("topic", "bench", "topic to produce to")
		path        = fs.String("file", "", "file whose lines are produced")
		compression = fs.String("compression", "zstd", "none|gzip|snappy|lz4|zstd")
		linger      = fs.Duration("linger", 10*time.Millisecond, "producer linger")
		maxRecords  = fs.Int("max-buffered-records", 10000, "records buffered in the client, not yet acknowledged")
		maxBytes    = fs.Int("max-buffered-bytes", 16<<20, "bytes buffered in the client, not yet acknowledged")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile to this file")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *path == "" {
		return errors.New("-file is required")
	}
	// The agent's own client options, so that both compress and batch alike;
	// the client's buffer limits stand in for the agent's limiter.
	opts, err := agent.ProducerOpts(agent.KafkaConfig{
		Brokers:            strings.Split(*brokers, ","),
		ClientID:           "rawproducer",
		Compression:        *compression,
		Linger:             agent.Duration(*linger),
		MaxBufferedRecords: *maxRecords,
		MaxBufferedBytes:   *maxBytes,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}

	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := pf.Close(); err == nil {
				err = cerr
			}
		}()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	f, err := os.Open(*path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	// The agent keys a file's records by device-inode; so does this.
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("stat %s: no device and inode", *path)
	}
	key := fmt.Appendf(nil, "%d-%d", uint64(st.Dev), st.Ino) //nolint:unconvert // Dev is int32 on some platforms

	cl, err := kgo.NewClient(append(opts,
		kgo.DefaultProduceTopic(*topic),
		kgo.MaxBufferedRecords(*maxRecords),
		kgo.MaxBufferedBytes(*maxBytes),
	)...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	var (
		mu      sync.Mutex
		prodErr error
	)
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			if prodErr == nil {
				prodErr = err
			}
			mu.Unlock()
		}
	}

	br := bufio.NewReaderSize(f, 1<<20)
	var n int
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("line %d longer than the 1 MiB buffer", n+1)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", *path, err)
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		if len(line) > 0 || err == nil {
			// ReadSlice's slice is overwritten by the next read; the
			// record keeps its value until acknowledged.
			val := make([]byte, len(line))
			copy(val, line)
			cl.Produce(ctx, &kgo.Record{Key: key, Value: val}, promise)
			n++
		}
		if err != nil { // io.EOF
			break
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if prodErr != nil {
		return fmt.Errorf("produce: %w", prodErr)
	}
	fmt.Fprintf(os.Stderr, "rawproducer: %d records acknowledged\n", n)
	return nil
}
