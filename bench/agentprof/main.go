// Command agentprof runs the logagent code path (config file tasks, no etcd,
// no metrics server) with a CPU profile, for the benchmarks' profiling runs.
// It builds the agent as cmd/logagent does and writes the CPU profile when
// SIGINT or SIGTERM stops it. With -heapprofile, each SIGUSR1 writes a heap
// profile (after a GC) there, and the runtime's memory figures beside it
// (path + ".txt"): the footprint benchmark takes one at the end of its idle
// window, with the files still open. With -windowprofile, SIGUSR2 starts a
// CPU profile there and the next SIGUSR2 (or the end) stops it: a profile of
// one window alone, such as an idle agent's, which a profile of the whole
// run drowns in the backfill's work.
//
//	agentprof -config agent.yaml -cpuprofile agent.prof -heapprofile heap.prof
//	agentprof -config agent.yaml -windowprofile idle.prof   # kill -USR2 twice
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
		configPath  = fs.String("config", "", "path of the logagent YAML config file")
		cpuProfile  = fs.String("cpuprofile", "", "write a CPU profile to this file")
		heapProfile = fs.String("heapprofile", "", "write a heap profile to this file on each SIGUSR1")
		winProfile  = fs.String("windowprofile", "", "write a CPU profile of the window between two SIGUSR2 to this file (not with -cpuprofile)")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return errors.New("-config is required")
	}
	if *cpuProfile != "" && *winProfile != "" {
		return errors.New("-cpuprofile and -windowprofile: one CPU profile at a time")
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
	cfg.ApplyMemoryLimit()

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
	if *heapProfile != "" {
		usr1 := make(chan os.Signal, 1)
		signal.Notify(usr1, syscall.SIGUSR1)
		defer signal.Stop(usr1)
		go func() {
			for {
				select {
				case <-usr1:
					if err := profile.Heap(*heapProfile); err != nil {
						log.Error("heap profile", "err", err)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	if *winProfile != "" {
		stopWindow := profileWindows(*winProfile, log)
		defer func() {
			if perr := stopWindow(); err == nil {
				err = perr
			}
		}()
	}

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

// profileWindows starts a CPU profile written to path at a SIGUSR2 and stops
// it at the next; stop ends the signal handling and a profile still running.
func profileWindows(path string, log *slog.Logger) (stop func() error) {
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	quit, done := make(chan struct{}), make(chan struct{})
	var running func() error // stops the running profile; nil: none
	go func() {
		defer close(done)
		for {
			select {
			case <-usr2:
			case <-quit:
				return
			}
			var err error
			if running != nil {
				err, running = running(), nil
			} else {
				running, err = profile.CPU(path)
			}
			if err != nil {
				log.Error("window profile", "err", err)
			}
		}
	}()
	return func() error {
		signal.Stop(usr2)
		close(quit)
		<-done // running is ours now
		if running == nil {
			return nil
		}
		return running()
	}
}
