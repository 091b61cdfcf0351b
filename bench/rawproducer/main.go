// Command rawproducer is the ceiling of the agent throughput benchmark: it
// reads files line by line, one after the other, and produces each line, as
// it is, as one record with franz-go configured as logagent configures it
// (acks=all, idempotent, same compression, linger and buffering limits, one
// key per file, the file's device-inode). It exits once Kafka has
// acknowledged every record.
//
//	rawproducer -brokers 127.0.0.1:9092 -topic bench -file access.log
//	rawproducer -brokers 127.0.0.1:9092 -topic bench -file a.log,b.log
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

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/kafkaclient"
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
		paths       = fs.String("file", "", "comma-separated files whose lines are produced, one file after the other")
		compression = fs.String("compression", "zstd", "none|gzip|snappy|lz4|zstd")
		linger      = fs.Duration("linger", 10*time.Millisecond, "producer linger")
		maxRecords  = fs.Int("max-buffered-records", 10000, "records buffered in the client, not yet acknowledged")
		maxBytes    = fs.Int("max-buffered-bytes", 16<<20, "bytes buffered in the client, not yet acknowledged")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile to this file")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *paths == "" {
		return errors.New("-file is required")
	}
	// The agent's own client options, so that both compress and batch alike;
	// the client's buffer limits stand in for the agent's limiter.
	opts, err := kafkaclient.ProducerOpts(kafkaclient.ProducerConfig{
		Config:             kafkaclient.Config{Brokers: strings.Split(*brokers, ","), ClientID: "rawproducer"},
		Compression:        *compression,
		Linger:             config.Duration(*linger),
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

	var n int
	for _, path := range strings.Split(*paths, ",") {
		m, err := produceFile(ctx, cl, path, promise)
		n += m
		if err != nil {
			return err
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

// produceFile produces each line of the file at path as one record keyed by
// the file's device-inode, as the agent keys them, and returns how many.
func produceFile(ctx context.Context, cl *kgo.Client, path string, promise func(*kgo.Record, error)) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, fmt.Errorf("stat %s: no device and inode", path)
	}
	key := fmt.Appendf(nil, "%d-%d", uint64(st.Dev), st.Ino) //nolint:unconvert // Dev is int32 on some platforms

	br := bufio.NewReaderSize(f, 1<<20)
	var n int
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return n, fmt.Errorf("%s: line %d longer than the 1 MiB buffer", path, n+1)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return n, fmt.Errorf("read %s: %w", path, err)
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
			return n, nil
		}
	}
}
