// Command logagent tails log files and ships their lines to Kafka, with its
// collect tasks from etcd (or its config file) and at-least-once delivery.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/metrics"
	"github.com/logcollect/logcollect/sysmon"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "logagent:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("logagent", flag.ContinueOnError)
	var (
		configPath  = fs.String("config", "", "path of the YAML config file")
		version     = fs.Bool("version", false, "print the version and exit")
		checkConfig = fs.Bool("check-config", false, "validate the config and exit")
		brokers     = fs.String("kafka.brokers", "", "comma-separated Kafka brokers (overrides kafka.brokers)")
		endpoints   = fs.String("etcd.endpoints", "", "comma-separated etcd endpoints (overrides etcd.endpoints)")
		collectKey  = fs.String("etcd.collect-key", "", "etcd key of the collect config (overrides etcd.collect_key)")
		dataDir     = fs.String("data-dir", "", "offset registry and config cache directory (overrides data_dir)")
		listen      = fs.String("metrics.listen", "", "metrics address (overrides metrics.listen)")
		hostIP      = fs.String("host.ip", "", "IP reported and used in etcd keys (overrides host.ip)")
		hostName    = fs.String("host.name", "", "host name reported (overrides host.name)")
		logLevel    = fs.String("log.level", "", "debug|info|warn|error (overrides log.level)")
		logFormat   = fs.String("log.format", "", "text|json (overrides log.format)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		bi := metrics.DefaultBuildInfo()
		fmt.Printf("logagent %s (revision %s)\n", bi.Version, bi.Revision)
		return nil
	}

	var cfg agent.Config
	if *configPath != "" {
		var err error
		if cfg, err = agent.ReadConfig(*configPath); err != nil {
			return err
		}
	}
	split := func(s string) []string { return strings.Split(s, ",") }
	for _, o := range []struct {
		flag string
		set  func(string)
	}{
		{*brokers, func(v string) { cfg.Kafka.Brokers = split(v) }},
		{*endpoints, func(v string) { cfg.Etcd.Endpoints = split(v) }},
		{*collectKey, func(v string) { cfg.Etcd.CollectKey = v }},
		{*dataDir, func(v string) { cfg.DataDir = v }},
		{*listen, func(v string) { cfg.Metrics.Listen = v }},
		{*hostIP, func(v string) { cfg.Host.IP = v }},
		{*hostName, func(v string) { cfg.Host.Name = v }},
		{*logLevel, func(v string) { cfg.Log.Level = v }},
		{*logFormat, func(v string) { cfg.Log.Format = v }},
	} {
		if o.flag != "" {
			o.set(o.flag)
		}
	}
	if err := cfg.Validate(); err != nil {
		if *configPath != "" {
			return fmt.Errorf("config %s: %w", *configPath, err)
		}
		return fmt.Errorf("config: %w", err)
	}
	if *checkConfig {
		fmt.Printf("config ok: %d kafka broker(s), etcd %v, %d task(s) in the file, data_dir %s\n",
			len(cfg.Kafka.Brokers), cfg.Etcd.Endpoints, len(cfg.Tasks), cfg.DataDir)
		return nil
	}

	log := cfg.Log.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

func serve(ctx context.Context, cfg agent.Config, log *slog.Logger) error {
	reg := metrics.NewRegistry(metrics.DefaultBuildInfo())
	m := agent.NewMetrics(reg)

	kafka, err := agent.NewKafkaClient(cfg.Kafka, log)
	if err != nil {
		return err
	}
	defer kafka.Close()
	a, err := agent.New(cfg, kafka, log, m)
	if err != nil {
		return err
	}
	ready := &metrics.Readiness{}
	ready.Set("kafka", kafka.Ping)
	var sm *sysmon.Sysmon // the host sampler, when the config has a sysmon section
	if cfg.Sysmon != nil {
		if sm, err = sysmon.New(*cfg.Sysmon, nil, log.With("component", "sysmon"), reg); err != nil {
			return err
		}
		ready.Set("influx", sm.Ping)
		log.Info("sysmon enabled", "host", sm.Host(), "influx", cfg.Sysmon.Influx.URL, "bucket", cfg.Sysmon.Influx.Bucket, "interval", cfg.Sysmon.Interval)
	}
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: cfg.Metrics.Listen, Ready: ready}, reg, log)
	if err != nil {
		return err
	}
	log.Info("logagent starting", "version", metrics.DefaultBuildInfo().Version, "host", a.HostName(), "ip", a.HostIP(),
		"brokers", cfg.Kafka.Brokers, "data_dir", cfg.DataDir, "metrics", srv.Addr().String())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return a.Run(ctx) })
	if sm != nil {
		g.Go(func() error { return sm.Run(ctx) })
	}

	if len(cfg.Etcd.Endpoints) == 0 {
		reg.Unregister(m.EtcdUp) // no etcd: no "etcd down" alert
		log.Info("no etcd configured: running the tasks of the config file", "tasks", len(cfg.Tasks))
		g.Go(func() error { return ignoreStopped(a.Apply(cfg.Tasks, "file")) })
		return g.Wait()
	}

	key := cfg.ExpandCollectKey(a.HostIP(), a.HostName())
	if len(cfg.Tasks) > 0 {
		log.Warn("tasks in the config file are ignored: the etcd key is the source of truth", "key", key, "ignored_tasks", len(cfg.Tasks))
	}
	cli, err := agent.NewEtcdClient(cfg.Etcd)
	if err != nil {
		return err
	}
	defer cli.Close()
	ready.Set("etcd", func(ctx context.Context) error {
		_, err := cli.Get(ctx, key)
		return err
	})
	registrar := agent.NewRegistrar(cli, 15*time.Second, log)
	info := agent.AgentInfo{
		Hostname: a.HostName(), IP: a.HostIP(), Version: metrics.DefaultBuildInfo().Version,
		StartTime: time.Now().UTC(), MetricsURL: "http://" + srv.Addr().String() + "/metrics",
	}
	registrar.Update(info)
	src := agent.NewEtcdSource(cli, agent.EtcdSourceConfig{Key: key, CacheFile: filepath.Join(cfg.DataDir, "collect_config.json")}, log, m)
	g.Go(func() error { return registrar.Run(ctx) })
	g.Go(func() error {
		return src.Run(ctx, func(tasks []agent.Task, source string) error {
			if err := a.Apply(tasks, source); err != nil {
				return ignoreStopped(err)
			}
			info.Tasks = len(tasks)
			registrar.Update(info)
			return nil
		})
	})
	return g.Wait()
}

func ignoreStopped(err error) error {
	if errors.Is(err, agent.ErrStopped) {
		return nil
	}
	return err
}
