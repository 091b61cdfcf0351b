// Command logtransfer consumes log records from Kafka in a consumer group and
// indexes them into Elasticsearch, at least once and without duplicates in
// the index (deterministic document ids).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/metrics"
	"github.com/logcollect/logcollect/transfer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "logtransfer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var cfg transfer.Config
	var fileCfg transfer.Config // the -config file as read, before flags: SIGHUP compares with it
	fl := config.NewFlags("logtransfer")
	fl.List("kafka.brokers", "Kafka brokers (overrides kafka.brokers)", &cfg.Kafka.Brokers)
	fl.String("kafka.group", "consumer group (overrides kafka.group)", &cfg.Kafka.Group)
	fl.List("kafka.topics", "topics (overrides kafka.topics)", &cfg.Kafka.Topics)
	fl.List("etcd.endpoints", "etcd endpoints for the topics key (overrides etcd.endpoints)", &cfg.Etcd.Endpoints)
	fl.List("elasticsearch.urls", "Elasticsearch URLs (overrides elasticsearch.urls)", &cfg.Elasticsearch.URLs)
	fl.MetricsAndLog(&cfg.Metrics.Listen, &cfg.Log)
	bi := metrics.DefaultBuildInfo()
	ok, err := config.Startup[transfer.Config]{
		Version: bi.Version, Revision: bi.Revision,
		Read: func(path string) (transfer.Config, error) {
			c, err := transfer.ReadConfig(path)
			if err == nil {
				// A copy of its own: flags and defaults change c, and slices
				// or pointers shared with it could change with it.
				fileCfg, err = transfer.ReadConfig(path)
			}
			return c, err
		},
		Validate: (*transfer.Config).Validate,
		Summary: func(c *transfer.Config) string {
			return fmt.Sprintf("%d kafka broker(s), group %s, topics %v, topic_regex %q, etcd %v, elasticsearch %v, index %s",
				len(c.Kafka.Brokers), c.Kafka.Group, c.Kafka.Topics, c.Kafka.TopicRegex, c.Etcd.Endpoints, config.RedactURLs(c.Elasticsearch.URLs), c.Index)
		},
	}.Run(fl, args, &cfg, os.Stdout)
	if !ok || err != nil {
		return err
	}

	log := cfg.Log.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log, fl.ConfigPath, fileCfg)
}

// serve runs logtransfer with cfg; path is the config file ("" when flags
// alone configure it) and fileCfg that file as read at start, for SIGHUP.
func serve(ctx context.Context, cfg transfer.Config, log *slog.Logger, path string, fileCfg transfer.Config) error {
	reg := metrics.NewRegistry(metrics.DefaultBuildInfo())
	t, err := transfer.New(cfg, log, reg)
	if err != nil {
		return err
	}
	defer t.Close()
	ready := &metrics.Readiness{}
	ready.Set("kafka", t.CheckKafka)
	ready.Set("elasticsearch", t.CheckElasticsearch)
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: cfg.Metrics.Listen, Ready: ready}, reg, log)
	if err != nil {
		return err
	}
	log.Info("logtransfer starting", "version", metrics.DefaultBuildInfo().Version, "brokers", cfg.Kafka.Brokers,
		"group", cfg.Kafka.Group, "instance_id", *cfg.Kafka.InstanceID, "topics", cfg.Kafka.Topics, "topic_regex", cfg.Kafka.TopicRegex,
		"elasticsearch", config.RedactURLs(cfg.Elasticsearch.URLs), "index", cfg.Index, "metrics", srv.Addr().String())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return t.Run(ctx) })
	g.Go(func() error { reloadOnHangup(ctx, t, log, path, fileCfg); return nil })
	err = g.Wait()
	log.Info("logtransfer stopped")
	return err
}

// reloadOnHangup reloads the pipelines of the config file on each SIGHUP
// until ctx is done: the pipelines alone; a change to any other key is
// logged and applies at the next restart. A file that cannot be read or
// whose pipelines do not compile is refused, and the running pipelines stay
// (and the etcd key's, when it defines them, keep precedence).
func reloadOnHangup(ctx context.Context, t *transfer.Transfer, log *slog.Logger, path string, fileCfg transfer.Config) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		if path == "" {
			log.Warn("SIGHUP: no config file (-config): no pipelines to reload")
			continue
		}
		restart, err := t.ReloadFile(path, fileCfg)
		if err != nil {
			log.Error("SIGHUP: pipelines not reloaded; the running ones stay", "err", err.Error())
			continue
		}
		if len(restart) > 0 {
			log.Warn("SIGHUP: keys other than pipelines changed in the config file; they apply at the next restart", "keys", restart)
		}
	}
}
