package testenv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/servers"
)

// A JVM server binds its ports seconds after freePorts chose them, and another process can
// take one in between (a listener, or a client connection's local port); a restarted server
// can find its port still held for a moment. Both end in servers.ErrPortInUse, which is
// retried here rather than failing the test.
const (
	// portAttempts is how many times a server is started while a port it was given is taken.
	portAttempts = 3
	// portFreeTimeout bounds the wait for a restarted server's ports.
	portFreeTimeout = 30 * time.Second
)

// jvmServer is a Kafka or Elasticsearch of this package, as startJVM starts it.
type jvmServer interface {
	Log() string
	LogTail() string
	Stop() error
	startOnce() error
}

// startJVM starts the server that newServer makes on two ports that choose (nil: freePorts)
// returns, again on fresh ports while a port is taken (startOnFreshPorts), and fails t if it
// does not start. t.Cleanup stops every server it made, and logs the end of its log if t
// failed. name prefixes that log's lines.
func startJVM[S jvmServer](t testing.TB, name string, choose func(testing.TB) (int, int), newServer func(port1, port2 int) (S, error)) S {
	t.Helper()
	if choose == nil {
		choose = freePorts
	}
	var s S
	err := startOnFreshPorts(t, func() error {
		attempt, err := newServer(choose(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s: last lines of %s:\n%s", name, attempt.Log(), attempt.LogTail())
			}
			if err := attempt.Stop(); err != nil {
				t.Log(err)
			}
		})
		s = attempt
		return attempt.startOnce()
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startOnFreshPorts calls start, which chooses ports afresh and starts a server on them, up
// to portAttempts times while it fails with servers.ErrPortInUse.
func startOnFreshPorts(t testing.TB, start func() error) error {
	t.Helper()
	var err error
	for attempt := 1; attempt <= portAttempts; attempt++ {
		if err = start(); !errors.Is(err, servers.ErrPortInUse) {
			return err
		}
		t.Logf("start %d of %d: %s; again on other ports", attempt, portAttempts, firstLine(err))
	}
	return err
}

// restartOnSamePorts calls start, which starts a server again on ports, up to portAttempts
// times while it fails with servers.ErrPortInUse, each time after waiting until the ports can
// be bound.
func restartOnSamePorts(t testing.TB, start func() error, ports []int) error {
	t.Helper()
	for attempt := 1; ; attempt++ {
		err := start()
		if !errors.Is(err, servers.ErrPortInUse) || attempt == portAttempts {
			return err
		}
		t.Logf("restart %d of %d: %s; waiting for ports %v", attempt, portAttempts, firstLine(err), ports)
		if werr := servers.WaitPortsFree(context.Background(), portFreeTimeout, ports...); werr != nil {
			return fmt.Errorf("%w\n(then: %v)", err, werr)
		}
	}
}

// firstLine is err's message without the log tail that follows it.
func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
