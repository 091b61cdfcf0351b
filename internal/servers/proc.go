package servers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStopTimeout is how long Stop waits for a child to exit before it kills it.
const procStopTimeout = 15 * time.Second

// Proc is a server process (a Kafka broker, an Elasticsearch node, Prometheus), started again
// with the same command line after Stop. Its output goes to a log file, whose last lines
// explain a failure. It is not safe for concurrent use.
type Proc struct {
	Name, Noun string // in messages, e.g. "kafka" and "broker": "kafka: broker exited: …"
	Log        string // path of the log file, appended to by each run
	TailLines  int    // lines of the log that LogTail returns
	// CleanExit reports whether cmd.Wait's error after a SIGTERM is a graceful exit; nil means
	// nil or exit status 143 (128+SIGTERM), as a JVM exits.
	CleanExit func(error) bool
	run       *Run // nil while stopped
}

// Run is one run of a Proc.
type Run struct {
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	err      error         // cmd.Wait's result, set before done is closed
	logStart int64         // the size of the log when this run started: its lines follow
}

// ErrPortInUse is wrapped by a server's Start error when the server exited because a port it
// was given is taken (its log says "Address already in use"): ports are chosen free, then
// bound seconds later by a JVM, and another process can take one in between, or still hold
// it on a restart. The caller can wait for the port and start again, or choose other ports.
var ErrPortInUse = errors.New("a port is in use")

// portInUseLog is what a JVM server logs when it cannot bind a port (java.net.BindException).
const portInUseLog = "Address already in use"

// Done is closed when the process has exited.
func (r *Run) Done() <-chan struct{} { return r.done }

// Err is cmd.Wait's result; call it after Done is closed.
func (r *Run) Err() error { return r.err }

// Running reports whether the process was started and not stopped.
func (p *Proc) Running() bool { return p.run != nil }

// Start starts cmd with its output appended to the log file, and returns the run, whose Done
// closes when it exits.
//
// Setpgid: Stop signals the whole group, so nothing the child started survives it. Pdeathsig
// kills the child when its parent dies, even by SIGKILL or a test's -timeout panic. It fires
// when the OS thread that forked exits, not the process, but the Go runtime only ends threads
// of goroutines that exit while locked to them.
func (p *Proc) Start(cmd *exec.Cmd) (*Run, error) {
	log, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	defer log.Close() // the child has its own copy
	st, err := log.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.Name, err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", p.Name, p.Noun, err)
	}
	r := &Run{cmd: cmd, done: make(chan struct{}), logStart: st.Size()}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	p.run = r
	return r, nil
}

// Stop sends sig to the child's process group and waits until it has exited; after 15 s it
// kills it and returns an error. After a SIGTERM, an exit that CleanExit does not accept is an
// error too. Stopping a stopped child does nothing.
func (p *Proc) Stop(sig syscall.Signal) error {
	r := p.run
	if r == nil {
		return nil
	}
	p.run = nil
	pgid := -r.cmd.Process.Pid
	_ = syscall.Kill(pgid, sig)
	select {
	case <-r.done:
	case <-time.After(procStopTimeout):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-r.done
		return fmt.Errorf("%s: %s still running %s after %s: killed it", p.Name, p.Noun, procStopTimeout, sig)
	}
	clean := p.CleanExit
	if clean == nil {
		clean = exitedOnTerm
	}
	if sig == syscall.SIGTERM && !clean(r.err) {
		return fmt.Errorf("%s: %s exited: %w\n%s", p.Name, p.Noun, r.err, p.LogTail())
	}
	return nil
}

// Signal sends sig to the running child's process group, such as SIGSTOP and SIGCONT.
func (p *Proc) Signal(sig syscall.Signal) error {
	if p.run == nil {
		return fmt.Errorf("%s: %s not running", p.Name, p.Noun)
	}
	if err := syscall.Kill(-p.run.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("%s: signal %s: %w", p.Name, sig, err)
	}
	return nil
}

// exitedOnTerm accepts nil and exit status 143 (128+SIGTERM).
func exitedOnTerm(err error) bool {
	var exit *exec.ExitError
	return err == nil || (errors.As(err, &exit) && exit.ExitCode() == 143)
}

// startError is the error of a start that failed after the process was started (run r),
// err saying why: wrapped in ErrPortInUse when r's log says that a port was taken.
func (p *Proc) startError(r *Run, err error) error {
	if p.portInUse(r) {
		err = fmt.Errorf("%w: %w", ErrPortInUse, err)
	}
	return fmt.Errorf("%s: %w\n%s", p.Name, err, p.LogTail())
}

// portInUse reports whether the lines that run r wrote to the log (its last 1 MiB) say that a
// port could not be bound.
func (p *Proc) portInUse(r *Run) bool {
	f, err := os.Open(p.Log)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false
	}
	from := max(r.logStart, st.Size()-1<<20)
	b, err := io.ReadAll(io.NewSectionReader(f, from, st.Size()-from))
	return err == nil && strings.Contains(string(b), portInUseLog)
}

// WaitPortsFree waits until every one of ports can be bound on 127.0.0.1, for a restart on
// the same ports after ErrPortInUse: a server that just exited, or a client connection, may
// hold one for a moment. It gives up after timeout or when ctx is done.
func WaitPortsFree(ctx context.Context, timeout time.Duration, ports ...int) error {
	deadline := time.Now().Add(timeout)
	for {
		var busy error
		for _, port := range ports {
			l, err := net.Listen("tcp", loopback(port))
			if err != nil {
				busy = err
				break
			}
			l.Close()
		}
		if busy == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ports %v still in use after %s: %w", ports, timeout, busy)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// LogTail returns the last TailLines lines of the log.
func (p *Proc) LogTail() string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-p.TailLines):], "\n")
}

// CacheDir is where the fetch scripts put the servers:
// ${LOGCOLLECT_CACHE:-$HOME/.cache/logcollect}.
func CacheDir() (string, error) {
	if dir := os.Getenv("LOGCOLLECT_CACHE"); dir != "" {
		return dir, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".cache", "logcollect"), nil
}

// loopback returns "127.0.0.1:port".
func loopback(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func writeFile(name, data string) error {
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// fastStartJVMFlags are the JVM flags of the Java servers (Kafka, Elasticsearch) started for
// tests: C1 only (TieredStopAtLevel=1) and the serial GC, since C2's and G1's threads fight the
// server's own for 2 cores during startup (Kafka: 4.3 s → 3.4 s), and a 512 MiB heap.
// Benchmarks start them Tuned, with the flags of a deployment instead.
var fastStartJVMFlags = []string{"-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"}

// jvmFlags returns, in a new slice, fastStartJVMFlags or, when tuned, tunedFlags, followed
// by rest.
func jvmFlags(tuned bool, tunedFlags []string, rest ...string) []string {
	flags := fastStartJVMFlags
	if tuned {
		flags = tunedFlags
	}
	return slices.Concat(flags, rest)
}
