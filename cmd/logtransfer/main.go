// Command logtransfer consumes log records from Kafka in a consumer group and
// indexes them into Elasticsearch, at least once and without duplicates in
// the index (deterministic document ids).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sync/errgroup"

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
	fs := flag.NewFlagSet("logtransfer", flag.ContinueOnError)
	var (
		configPath  = fs.String("config", "", "path of the YAML config file")
		version     = fs.Bool("version", false, "print the version and exit")
		checkConfig = fs.Bool("check-config", false, "validate the config and exit")
		brokers     = fs.String("kafka.brokers", "", "comma-separated Kafka brokers (overrides kafka.brokers)")
		group       = fs.String("kafka.group", "", "consumer group (overrides kafka.group)")
		topics      = fs.String("kafka.topics", "", "comma-separated topics (overrides kafka.topics)")
		endpoints   = fs.String("etcd.endpoints", "", "comma-separated etcd endpoints for the topics key (overrides etcd.endpoints)")
		esURLs      = fs.String("elasticsearch.urls", "", "comma-separated Elasticsearch URLs (overrides elasticsearch.urls)")
		listen      = fs.String("metrics.listen", "", "metrics address (overrides metrics.listen)")
		logLevel    = fs.String("log.level", "", "debug|info|warn|error (overrides log.level)")
		logFormat   = fs.String("log.format", "", "text|json (overrides log.format)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version {
		bi := metrics.DefaultBuildInfo()
		fmt.Printf("logtransfer %s (revision %s)\n", bi.Version, bi.Revision)
		return nil
	}

	var cfg transfer.Config
	if *configPath != "" {
		var err error
		if cfg, err = transfer.ReadConfig(*configPath); err != nil {
			return err
		}
	}
	split := func(s string) []string { return strings.Split(s, ",") }
	for _, o := range []struct {
		flag string
		set  func(string)
	}{
		{*brokers, func(v string) { cfg.Kafka.Brokers = split(v) }},
		{*group, func(v string) { cfg.Kafka.Group = v }},
		{*topics, func(v string) { cfg.Kafka.Topics = split(v) }},
		{*endpoints, func(v string) { cfg.Etcd.Endpoints = split(v) }},
		{*esURLs, func(v string) { cfg.Elasticsearch.URLs = split(v) }},
		{*listen, func(v string) { cfg.Metrics.Listen = v }},
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
		fmt.Printf("config ok: %d kafka broker(s), group %s, topics %v, topic_regex %q, etcd %v, elasticsearch %v, index %s\n",
			len(cfg.Kafka.Brokers), cfg.Kafka.Group, cfg.Kafka.Topics, cfg.Kafka.TopicRegex, cfg.Etcd.Endpoints, cfg.Elasticsearch.URLs, cfg.Index)
		return nil
	}

	log := cfg.Log.NewLogger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	return serve(ctx, cfg, log)
}

func serve(ctx context.Context, cfg transfer.Config, log *slog.Logger) error {
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
		"group", cfg.Kafka.Group, "topics", cfg.Kafka.Topics, "topic_regex", cfg.Kafka.TopicRegex,
		"elasticsearch", cfg.Elasticsearch.URLs, "index", cfg.Index, "metrics", srv.Addr().String())

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return t.Run(ctx) })
	err = g.Wait()
	log.Info("logtransfer stopped")
	return err
}
