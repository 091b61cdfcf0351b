// Command sysmon samples host statistics (cpu, mem, swap, system, disk, diskio, net,
// processes) every interval and writes them to InfluxDB in Telegraf's schema.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/metrics"
	"github.com/logcollect/logcollect/sysmon"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "sysmon:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var cfg sysmon.FileConfig
	fl := config.NewFlags("sysmon")
	fl.Override("interval", "sampling interval, e.g. 10s (overrides interval)", func(v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("-interval: %w", err)
		}
		cfg.Interval = sysmon.Duration(d)
		return nil
	})
	fl.String("host", "host tag (overrides host)", &cfg.Host)
	fl.String("influx.url", "InfluxDB URL (overrides influx.url); without one, samples are not stored", &cfg.Influx.URL)
	fl.String("influx.org", "InfluxDB 2.x organization (overrides influx.org)", &cfg.Influx.Org)
	fl.String("influx.bucket", "bucket, or db/rp for InfluxDB 1.8 (overrides influx.bucket)", &cfg.Influx.Bucket)
	fl.MetricsAndLog(&cfg.Metrics.Listen, &cfg.Log)
	// The token has no flag: command lines are visible to every user (ps).
	// Use the config file with ${INFLUX_TOKEN}.
	bi := metrics.DefaultBuildInfo()
	ok, err := config.Startup[sysmon.FileConfig]{
		Version: bi.Version, Revision: bi.Revision,
		Read: sysmon.ReadConfig, Validate: (*sysmon.FileConfig).Validate,
		Summary: func(c *sysmon.FileConfig) string {
			if !c.Stores() {
				return fmt.Sprintf("no influx.url: samples are not stored, interval %s, metrics %s", c.Interval, c.Metrics.Listen)
			}
			return fmt.Sprintf("influx %s bucket %q, interval %s, max_buffered_points %d, metrics %s",
				config.RedactURL(c.Influx.URL), c.Influx.Bucket, c.Interval, c.Influx.MaxBufferedPoints, c.Metrics.Listen)
		},
	}.Run(fl, args, &cfg, os.Stdout)
	if !ok || err != nil {
		return err
	}

	log := cfg.Log.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

func serve(ctx context.Context, cfg sysmon.FileConfig, log *slog.Logger) error {
	reg := metrics.NewRegistry(metrics.DefaultBuildInfo())
	s, err := sysmon.New(cfg.Config, nil, log, reg)
	if err != nil {
		return err
	}
	ready := &metrics.Readiness{}
	if s.Stores() {
		ready.Set("influx", s.Ping)
	}
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: cfg.Metrics.Listen, Ready: ready}, reg, log)
	if err != nil {
		return err
	}
	attrs := []any{"version", metrics.DefaultBuildInfo().Version, "host", s.Host(), "interval", cfg.Interval, "metrics", srv.Addr().String()}
	if s.Stores() { // else Run says that nothing is stored
		attrs = append(attrs, "influx", config.RedactURL(cfg.Influx.URL), "bucket", cfg.Influx.Bucket)
	}
	log.Info("sysmon starting", attrs...)

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return s.Run(ctx) })
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("sysmon stopped")
	return nil
}
