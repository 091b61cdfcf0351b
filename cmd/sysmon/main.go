// Command sysmon samples host statistics (cpu, mem, swap, system, disk, diskio, net,
// processes) every interval and writes them to InfluxDB in Telegraf's schema.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

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
	fs := flag.NewFlagSet("sysmon", flag.ContinueOnError)
	var (
		configPath  = fs.String("config", "", "path of the YAML config file")
		version     = fs.Bool("version", false, "print the version and exit")
		checkConfig = fs.Bool("check-config", false, "validate the config and exit")
		interval    = fs.String("interval", "", "sampling interval, e.g. 10s (overrides interval)")
		host        = fs.String("host", "", "host tag (overrides host)")
		url         = fs.String("influx.url", "", "InfluxDB URL (overrides influx.url)")
		org         = fs.String("influx.org", "", "InfluxDB 2.x organization (overrides influx.org)")
		bucket      = fs.String("influx.bucket", "", "bucket, or db/rp for InfluxDB 1.8 (overrides influx.bucket)")
		listen      = fs.String("metrics.listen", "", "metrics address (overrides metrics.listen)")
		logLevel    = fs.String("log.level", "", "debug|info|warn|error (overrides log.level)")
		logFormat   = fs.String("log.format", "", "text|json (overrides log.format)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		bi := metrics.DefaultBuildInfo()
		fmt.Printf("sysmon %s (revision %s)\n", bi.Version, bi.Revision)
		return nil
	}

	var cfg sysmon.FileConfig
	if *configPath != "" {
		var err error
		if cfg, err = sysmon.ReadConfig(*configPath); err != nil {
			return err
		}
	}
	if *interval != "" {
		d, err := time.ParseDuration(*interval)
		if err != nil {
			return fmt.Errorf("-interval: %w", err)
		}
		cfg.Interval = sysmon.Duration(d)
	}
	// The token has no flag: command lines are visible to every user (ps). Use the config
	// file with ${INFLUX_TOKEN}.
	for _, o := range []struct {
		flag string
		set  *string
	}{
		{*host, &cfg.Host},
		{*url, &cfg.Influx.URL},
		{*org, &cfg.Influx.Org},
		{*bucket, &cfg.Influx.Bucket},
		{*listen, &cfg.Metrics.Listen},
		{*logLevel, &cfg.Log.Level},
		{*logFormat, &cfg.Log.Format},
	} {
		if o.flag != "" {
			*o.set = o.flag
		}
	}
	if err := cfg.Validate(); err != nil {
		if *configPath != "" {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
		return fmt.Errorf("config: %w", err)
	}
	if *checkConfig {
		fmt.Printf("config ok: influx %s bucket %q, interval %s, max_buffered_points %d, metrics %s\n",
			cfg.Influx.URL, cfg.Influx.Bucket, cfg.Interval, cfg.Influx.MaxBufferedPoints, cfg.Metrics.Listen)
		return nil
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
	ready.Set("influx", s.Ping)
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: cfg.Metrics.Listen, Ready: ready}, reg, log)
	if err != nil {
		return err
	}
	log.Info("sysmon starting", "version", metrics.DefaultBuildInfo().Version, "host", s.Host(),
		"influx", cfg.Influx.URL, "bucket", cfg.Influx.Bucket, "interval", cfg.Interval, "metrics", srv.Addr().String())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return s.Run(ctx) })
	if err := g.Wait(); err != nil {
		return err
	}
	log.Info("sysmon stopped")
	return nil
}
