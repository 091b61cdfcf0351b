// Command kfake runs an in-memory franz-go kfake Kafka cluster as its own
// process, so that a benchmark does not count the broker's CPU and memory with
// the producer it measures. It prints the broker address(es), one a line, on
// stdout once it accepts connections, and runs until SIGINT or SIGTERM.
//
//	kfake -listen 127.0.0.1:0 -partitions 1
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "kfake:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("kfake", flag.ContinueOnError)
	var (
		listen     = fs.String("listen", "127.0.0.1:0", "address of the broker; kfake listens on 127.0.0.1 only, port 0 picks a free one")
		partitions = fs.Int("partitions", 1, "partitions of auto-created topics")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", *listen, err)
	}
	if host != "" && host != "127.0.0.1" && host != "localhost" {
		return fmt.Errorf("-listen %q: kfake only listens on 127.0.0.1", *listen)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("-listen %q: invalid port", *listen)
	}
	if *partitions < 1 {
		return errors.New("-partitions must be >= 1")
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(*partitions),
	)
	if err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}
	defer c.Close()
	for _, addr := range c.ListenAddrs() {
		fmt.Println(addr)
	}
	<-ctx.Done()
	return nil
}
