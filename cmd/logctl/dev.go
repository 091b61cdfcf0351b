package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/logcollect/logcollect/internal/devstack"
)

// devCmd is `logctl dev`, what `make run` runs: the whole pipeline on this machine
// (internal/devstack) until interrupted.
func devCmd() *cobra.Command {
	var cfg devstack.Config
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole pipeline locally (etcd, Kafka, Elasticsearch, demo logs, the daemons) until Ctrl-C",
		Long: `Run the whole pipeline on this machine: embedded etcd, a real Kafka broker (or kfake with
--embedded), Elasticsearch, a generator of nginx lines in <dir>/demo, and the logagent,
logtransfer and sysmon binaries from --bin (make build). All state is in --dir: a second run
resumes. sysmon always runs; it writes to InfluxDB when one is given (--influx, $INFLUX_URL)
or answers on 127.0.0.1:8086, and otherwise serves its metrics only. Needs the fetched
servers: make run fetches them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return dev(cmd.Context(), cmd, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", "var", "directory of all state (servers' data, offsets, demo logs, process logs)")
	f.StringVar(&cfg.BinDir, "bin", "bin", "directory of the logagent, logtransfer and sysmon binaries")
	f.BoolVar(&cfg.Embedded, "embedded", false, "run kfake (in-process Kafka) instead of the real broker")
	f.BoolVar(&cfg.Prometheus, "prometheus", false, "also run the prometheus binary on PATH with deploy/prometheus/prometheus.yml")
	f.StringVar(&cfg.InfluxURL, "influx", os.Getenv("INFLUX_URL"), "sysmon's InfluxDB URL (env INFLUX_URL)")
	f.StringVar(&cfg.InfluxBucket, "influx-bucket", os.Getenv("INFLUX_BUCKET"), "sysmon's bucket, db/rp on InfluxDB 1.x (env INFLUX_BUCKET; default telegraf/autogen)")
	f.StringVar(&cfg.InfluxToken, "influx-token", os.Getenv("INFLUX_TOKEN"), "sysmon's InfluxDB token (env INFLUX_TOKEN)")
	f.IntVar(&cfg.Rate, "rate", 50, "demo lines per second")
	return cmd
}

func dev(ctx context.Context, cmd *cobra.Command, cfg devstack.Config) error {
	out := cmd.OutOrStdout()
	start := time.Now()
	fmt.Fprintln(out, "starting the local stack…")
	s, err := devstack.Start(ctx, cfg)
	if err != nil && ctx.Err() != nil { // Ctrl-C while starting: what started is stopped
		fmt.Fprintln(out, "interrupted: stopped.")
		return nil
	}
	if err != nil {
		return fmt.Errorf("dev: %w", err)
	}
	fmt.Fprintf(out, "ready in %s\n", time.Since(start).Round(100*time.Millisecond))
	s.PrintSummary(out)
	runErr := s.Run(ctx, out, 10*time.Second)
	fmt.Fprintln(out, "stopping…")
	if err := s.Stop(); err != nil {
		runErr = errors.Join(runErr, fmt.Errorf("dev: stop: %w", err))
	}
	if runErr != nil {
		return runErr
	}
	fmt.Fprintln(out, "stopped.")
	return nil
}
