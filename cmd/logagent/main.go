// Command logagent tails log files and ships their lines to Kafka, with its
// collect tasks from etcd (or its config file) and at-least-once delivery.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/etcdclient"
	"github.com/logcollect/logcollect/internal/kafkaclient"
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
	var cfg fileConfig
	fl := config.NewFlags("logagent")
	fl.List("kafka.brokers", "Kafka brokers (overrides kafka.brokers)", &cfg.Kafka.Brokers)
	fl.List("etcd.endpoints", "etcd endpoints (overrides etcd.endpoints)", &cfg.Etcd.Endpoints)
	fl.String("etcd.collect-key", "etcd key of the collect config (overrides etcd.collect_key)", &cfg.Etcd.CollectKey)
	fl.String("data-dir", "offset registry and config cache directory (overrides data_dir)", &cfg.DataDir)
	fl.MetricsAndLog(&cfg.Metrics.Listen, &cfg.Log)
	fl.String("host.ip", "IP reported and used in etcd keys (overrides host.ip)", &cfg.Host.IP)
	fl.String("host.name", "host name reported (overrides host.name)", &cfg.Host.Name)
	bi := metrics.DefaultBuildInfo()
	ok, err := config.Startup[fileConfig]{
		Version: bi.Version, Revision: bi.Revision,
		Read: config.Read[fileConfig], Validate: (*fileConfig).validate,
		Summary: func(c *fileConfig) string {
			return fmt.Sprintf("%d kafka broker(s), etcd %v, %d task(s) in the file, data_dir %s",
				len(c.Kafka.Brokers), c.Etcd.Endpoints, len(c.Tasks), c.DataDir)
		},
	}.Run(fl, args, &cfg, os.Stdout)
	if !ok || err != nil {
		return err
	}

	log := cfg.Log.NewLogger(os.Stderr)
	if limit, source := cfg.ApplyMemoryLimit(); limit < math.MaxInt64 {
		log.Info("Go memory limit", "bytes", limit, "from", source)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

func serve(ctx context.Context, cfg fileConfig, log *slog.Logger) error {
	reg := metrics.NewRegistry(metrics.DefaultBuildInfo())

	kafka, err := kafkaclient.NewProducer(cfg.Kafka.ProducerConfig, log)
	if err != nil {
		return err
	}
	defer kafka.Close()
	a, err := agent.New(cfg.Config, kafka, log, reg)
	if err != nil {
		return err
	}
	m := a.Metrics()
	ready := &metrics.Readiness{}
	ready.Set("kafka", kafkaclient.Check(kafka, cfg.Kafka.Brokers))
	var sm *sysmon.Sysmon // the host sampler, when the config has a sysmon section
	if cfg.Sysmon != nil {
		if sm, err = sysmon.New(*cfg.Sysmon, nil, log.With("component", "sysmon"), reg); err != nil {
			return err
		}
		if sm.Stores() {
			ready.Set("influx", sm.Ping)
		}
		log.Info("sysmon enabled", "host", sm.Host(), "influx", config.RedactURL(cfg.Sysmon.Influx.URL), "bucket", cfg.Sysmon.Influx.Bucket, "interval", cfg.Sysmon.Interval)
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
	cli, err := etcdclient.New(cfg.Etcd.Config)
	if err != nil {
		return err
	}
	defer cli.Close()
	ready.Set("etcd", func(ctx context.Context) error {
		// Within the readiness deadline, so that the reason (a failed TLS
		// handshake, say) is shown rather than "timed out".
		ctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer cancel()
		if _, err := cli.Get(ctx, key); err != nil {
			return fmt.Errorf("etcd %v: %w", cfg.Etcd.Endpoints, err)
		}
		return nil
	})
	registrar := agent.NewRegistrar(cli, 15*time.Second, log)
	info := collect.AgentInfo{
		Hostname: a.HostName(), IP: a.HostIP(), Version: metrics.DefaultBuildInfo().Version,
		StartTime: time.Now().UTC(), MetricsURL: "http://" + srv.Addr().String() + "/metrics",
	}
	registrar.Update(info)
	src := agent.NewEtcdSource(cli, agent.EtcdSourceConfig{
		Key: key, CacheFile: filepath.Join(cfg.DataDir, "collect_config.json"), Policy: a.Policy(),
	}, log, m)
	g.Go(func() error { return registrar.Run(ctx) })
	g.Go(func() error {
		return src.Run(ctx, func(tasks []collect.Task, source string) error {
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
