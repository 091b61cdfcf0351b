// Command agentprof runs the logagent code path (config file tasks, no etcd,
// no metrics server) with a CPU profile, for the throughput benchmark's
// profiling run. It builds the agent as cmd/logagent does and writes the
// profile when SIGINT or SIGTERM stops it.
//
//	agentprof -config agent.yaml -cpuprofile agent.prof
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/bench/internal/profile"
	"github.com/logcollect/logcollect/internal/kafkaclient"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "agentprof:", err)
		os.Exit(1)
	}
}

func run(args []string) (err error) {
	fs := flag.NewFlagSet("agentprof", flag.ContinueOnError)
	var (
		configPath = fs.String("config", "", "path of the logagent YAML config file")
		cpuProfile = fs.String("cpuprofile", "", "write a CPU profile to this file")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("-config is required")
	}
	cfg, err := agent.ReadConfig(*configPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config %s: %w", *configPath, err)
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level)) // validated
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *cpuProfile != "" {
		stopProfile, err := profile.CPU(*cpuProfile)
		if err != nil {
			return err
		}
		defer func() {
			if perr := stopProfile(); err == nil {
				err = perr
			}
		}()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	kafka, err := kafkaclient.NewProducer(cfg.Kafka.ProducerConfig, log)
	if err != nil {
		return err
	}
	defer kafka.Close()
	a, err := agent.New(cfg, kafka, log, prometheus.NewRegistry())
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return a.Run(ctx) })
	g.Go(func() error {
		if err := a.Apply(cfg.Tasks, "file"); err != nil && !errors.Is(err, agent.ErrStopped) {
			return err
		}
		return nil
	})
	return g.Wait()
}
