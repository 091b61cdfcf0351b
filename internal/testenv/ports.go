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
