package testenv

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/logcollect/logcollect/internal/servers"
)

// childStopTimeout is how long stop waits for a child to exit before it kills it.
const childStopTimeout = 15 * time.Second

// child is a server process that a test runs (a Kafka broker, an Elasticsearch node,
// influxd), started again on the same ports after stop. Its output goes to a log file in the
// test's dir, whose last lines explain a failure. It is not safe for concurrent use.
type child struct {
	name, noun string // in messages, e.g. "kafka" and "broker": "kafka: broker exited: …"
	log        string // path of the log file, appended to by each run
	tailLines  int    // lines of the log that logTail returns
	// cleanExit reports whether cmd.Wait's error after a SIGTERM is a graceful exit; nil means
	// nil or exit status 143 (128+SIGTERM), as a JVM exits.
	cleanExit func(error) bool
	run       *childRun // nil while stopped
}

// childRun is one run of a child.
type childRun struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

func (c *child) running() bool { return c.run != nil }

// start starts cmd with its output appended to the log file, and returns the run, whose done
// closes when it exits.
//
// Setpgid: stop signals the whole group, so nothing the child started survives it. Pdeathsig
// kills the child when the test binary dies, even by SIGKILL or a -timeout panic that skips
// t.Cleanup. It fires when the OS thread that forked exits, not the process, but the Go
// runtime only ends threads of goroutines that exit while locked to them.
func (c *child) start(cmd *exec.Cmd) (*childRun, error) {
	log, err := os.OpenFile(c.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.name, err)
	}
	defer log.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", c.name, c.noun, err)
	}
	r := &childRun{cmd: cmd, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	c.run = r
	return r, nil
}

// stop sends sig to the child's process group and waits until it has exited; after
// childStopTimeout it kills it and returns an error. After a SIGTERM, an exit that cleanExit
// does not accept is an error too. Stopping a stopped child does nothing.
func (c *child) stop(sig syscall.Signal) error {
	r := c.run
	if r == nil {
		return nil
	}
	c.run = nil
	pgid := -r.cmd.Process.Pid
	_ = syscall.Kill(pgid, sig)
	select {
	case <-r.done:
	case <-time.After(childStopTimeout):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-r.done
		return fmt.Errorf("%s: %s still running %s after %s: killed it", c.name, c.noun, childStopTimeout, sig)
	}
	clean := c.cleanExit
	if clean == nil {
		clean = exitedOnTerm
	}
	if sig == syscall.SIGTERM && !clean(r.err) {
		return fmt.Errorf("%s: %s exited: %w\n%s", c.name, c.noun, r.err, c.logTail())
	}
	return nil
}

// exitedOnTerm accepts nil and exit status 143 (128+SIGTERM).
func exitedOnTerm(err error) bool {
	var exit *exec.ExitError
	return err == nil || (errors.As(err, &exit) && exit.ExitCode() == 143)
}

// logFailure logs the last lines of the log if t has failed. Call it before stop, whose lines
// would fill the tail.
func (c *child) logFailure(t testing.TB) {
	if t.Failed() {
		t.Logf("%s: last lines of %s:\n%s", c.name, c.log, c.logTail())
	}
}

// logTail returns the last lines of the log.
func (c *child) logTail() string {
	b, err := os.ReadFile(c.log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-c.tailLines):], "\n")
}

// skipOrFail skips the test when a server or tool is missing, or fails it when CI=true, where
// .ci/run has installed everything.
func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(err)
	}
	t.Skip(err)
}

// cacheDir is where the fetch scripts put the servers (servers.CacheDir).
func cacheDir() (string, error) { return servers.CacheDir() }

// freePorts returns two distinct free loopback ports. Another process could take one before
// the server binds it, but it is unlikely.
func freePorts(t testing.TB) (int, int) {
	t.Helper()
	var ports [2]int
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close() // held until both are chosen, so they differ
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports[0], ports[1]
}
