// Command etcdserver runs one embedded etcd member (internal/servers) as its own process, so
// that a benchmark measures etcd's CPU and memory apart from the clients it serves (the fleet
// benchmark's simulated agents). It prints its client endpoint on stdout once it serves
// requests, and runs until SIGINT or SIGTERM; started again on the same ports and data dir,
// it comes back with its data (an etcd restart).
//
//	etcdserver -dir /tmp/etcd -client-port 2379 -peer-port 2380
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/logcollect/logcollect/internal/servers"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "etcdserver:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("etcdserver", flag.ContinueOnError)
	var (
		dir        = fs.String("dir", "", "data dir (kept: a restart comes back with the data)")
		clientPort = fs.Int("client-port", 0, "client port on 127.0.0.1")
		peerPort   = fs.Int("peer-port", 0, "peer port on 127.0.0.1")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("-dir is required")
	}
	e, err := servers.NewEtcd(servers.EtcdConfig{Dir: *dir, ClientPort: *clientPort, PeerPort: *peerPort})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := e.Start(); err != nil {
		return err
	}
	defer e.Stop()
	fmt.Println(e.Endpoints()[0])
	<-ctx.Done()
	return nil
}
