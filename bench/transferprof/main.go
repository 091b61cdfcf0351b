// Command transferprof runs logtransfer (config file, metrics server) with a
// CPU profile and an allocation profile, for the transfer benchmark's
// profiling run (TestTransferProfile). It wires the transfer as
// cmd/logtransfer does and writes the profiles when SIGINT or SIGTERM stops it.
//
//	transferprof -config transfer.yaml -cpuprofile cpu.prof -memprofile alloc.prof
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"

	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/bench/internal/profile"
	"github.com/logcollect/logcollect/metrics"
	"github.com/logcollect/logcollect/transfer"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "transferprof:", err)
		os.Exit(1)
	}
}

func run(args []string) (err error) {
	fs := flag.NewFlagSet("transferprof", flag.ContinueOnError)
	var (
		configPath = fs.String("config", "", "path of the logtransfer YAML config file")
		cpuProfile = fs.String("cpuprofile", "", "write a CPU profile to this file")
		memProfile = fs.String("memprofile", "", "write an allocation profile to this file")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" || *cpuProfile == "" || *memProfile == "" {
		return errors.New("-config, -cpuprofile and -memprofile are required")
	}
	cfg, err := transfer.ReadConfig(*configPath)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config %s: %w", *configPath, err)
	}
	log := cfg.Log.NewLogger(os.Stderr)

	stopProfile, err := profile.CPU(*cpuProfile)
	if err != nil {
		return err
	}
	defer func() {
		if perr := stopProfile(); err == nil {
			err = perr
		}
	}()
	defer func() {
		if perr := writeAllocs(*memProfile); err == nil {
			err = perr
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	reg := metrics.NewRegistry(metrics.DefaultBuildInfo())
	t, err := transfer.New(cfg, log, reg)
	if err != nil {
		return err
	}
	defer t.Close()
	srv, err := metrics.NewServer(metrics.ServerConfig{Listen: cfg.Metrics.Listen, Ready: &metrics.Readiness{}}, reg, log)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	g.Go(func() error { return t.Run(ctx) })
	return g.Wait()
}

// writeAllocs writes the heap profile, whose alloc_space and alloc_objects
// samples count every allocation since the start.
func writeAllocs(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("alloc profile: %w", err)
	}
	return f.Close()
}
