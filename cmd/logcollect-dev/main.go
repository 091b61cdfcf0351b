// Command logcollect-dev is what `make run` runs: the whole pipeline on this machine
// (internal/devstack) until interrupted. It is a developer's tool, apart from logctl so that
// the operator's binary links no test servers (embedded etcd, kfake, the JVM launchers).
// This file only wires flags, environment and signals.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/logcollect/logcollect/internal/devstack"
)

const usage = `Usage: logcollect-dev [flags]

Run the whole pipeline on this machine until Ctrl-C: embedded etcd, a real Kafka broker (or
kfake with --embedded), Elasticsearch, a generator of nginx lines in <dir>/demo, and the
logagent, logtransfer and sysmon binaries from --bin (make build). All state is in --dir: a
second run resumes. sysmon always runs; it writes to InfluxDB when one is given (--influx,
$INFLUX_URL) or answers on 127.0.0.1:8086, and otherwise serves its metrics only. Needs the
fetched servers: make run fetches them.

Flags:
`

func main() { os.Exit(logcollectDev(os.Args[1:], os.Stdout, os.Stderr)) }

// logcollectDev runs the stack until it is interrupted (SIGINT, SIGTERM: everything is
// stopped, status 0) and returns the exit status: 2 on a bad command line, 1 after printing
// the error.
func logcollectDev(args []string, stdout, stderr io.Writer) int {
	fs, cfg := flags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package printed the error and the usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "logcollect-dev: unexpected argument %q: it takes flags only (-h)\n", fs.Arg(0))
		return 2
	}
	return serve(*cfg, stdout, stderr)
}

// serve runs the stack of cfg until SIGINT or SIGTERM and returns the exit status.
//
// SIGPIPE is ignored: with `make run | tee run.log`, Ctrl-C ends tee at once, and the next
// write to stdout would kill this process (Go's default for a broken pipe on fds 1 and 2),
// and with it the daemons (Pdeathsig) before they drain and leave the consumer group, so
// the next run would index nothing until the group's session timeout. Ignored, the write
// fails with EPIPE, and the stack is stopped as on a terminal; the stop report also goes to
// <dir>/log/logcollect-dev.log.
func serve(cfg devstack.Config, stdout, stderr io.Writer) int {
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, stdout); err != nil {
		fmt.Fprintln(stderr, "logcollect-dev:", err)
		return 1
	}
	return 0
}

// flags returns the command line, which sets the returned config; it prints its usage and
// errors to stderr.
func flags(stderr io.Writer) (*flag.FlagSet, *devstack.Config) {
	var cfg devstack.Config
	fs := flag.NewFlagSet("logcollect-dev", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Dir, "dir", "var", "directory of all state (servers' data, offsets, demo logs, process logs)")
	fs.StringVar(&cfg.BinDir, "bin", "bin", "directory of the logagent, logtransfer and sysmon binaries")
	fs.BoolVar(&cfg.Embedded, "embedded", false, "run kfake (in-process Kafka) instead of the real broker")
	fs.BoolVar(&cfg.Prometheus, "prometheus", false, "also run the prometheus binary on PATH with deploy/prometheus/prometheus.yml")
	fs.StringVar(&cfg.InfluxURL, "influx", os.Getenv("INFLUX_URL"), "sysmon's InfluxDB URL (env INFLUX_URL)")
	fs.StringVar(&cfg.InfluxBucket, "influx-bucket", os.Getenv("INFLUX_BUCKET"), "sysmon's bucket, db/rp on InfluxDB 1.x (env INFLUX_BUCKET; default telegraf/autogen)")
	fs.StringVar(&cfg.InfluxToken, "influx-token", os.Getenv("INFLUX_TOKEN"), "sysmon's InfluxDB token (env INFLUX_TOKEN)")
	fs.IntVar(&cfg.Rate, "rate", 50, "demo lines per second")
	return fs, &cfg
}

// run starts the stack, prints what runs where and a progress line until ctx is done, then
// stops everything.
func run(ctx context.Context, cfg devstack.Config, out io.Writer) error {
	start := time.Now()
	fmt.Fprintln(out, "starting the local stack…")
	s, err := devstack.Start(ctx, cfg)
	if err != nil && ctx.Err() != nil { // Ctrl-C while starting: what started is stopped
		fmt.Fprintln(out, "interrupted: stopped.")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	s.PrintSummary(out)
	runErr := s.Run(ctx, out, 10*time.Second)
	// The report goes to the log file first: stdout may be a closed pipe.
	if f, err := os.OpenFile(filepath.Join(s.Dir(), "log", "logcollect-dev.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
		defer f.Close()
		fmt.Fprintf(f, "%s: stopping after %s\n", time.Now().Format(time.RFC3339), time.Since(start).Round(time.Second))
		out = io.MultiWriter(f, out)
	}
	fmt.Fprintln(out, "stopping…")
	if err := s.StopReport(out); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("stop: %w", err))
	}
	if runErr != nil {
		return runErr
	}
	fmt.Fprintln(out, "stopped.")
	return nil
}
