//go:build bench

package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// proc is a subprocess under measurement, shared by every harness: the
// contenders of TestAgentThroughput and TestPeers (measure), logtransfer and
// logagent in TestTransferThroughput, sysmon and Telegraf in TestSysmonCost.
//
// It measures:
//   - peak RSS: the sum of VmHWM of the process and its descendants, read
//     from /proc every interval (and when stopped). Not rusage's ru_maxrss:
//     os/exec starts the child with vfork, so until it execs the child shares
//     the test's memory, and Linux carries the test's high-water mark into
//     the child's ru_maxrss (the test's own peak, often larger than the
//     contender's, would be reported);
//   - CPU: user+sys from the process's rusage once it has exited, which
//     includes the children it waited for; cpuNow reads it from /proc while
//     it runs;
//   - wall time: from just before the start to the exit (until returns the
//     time to a condition instead).
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   string // the path of its stdout and stderr
	every time.Duration
	start time.Time

	done    chan struct{} // closed once exited and reaped
	waitErr error         // set before done is closed
	cpu     time.Duration // set before done is closed: rusage user+sys
	wall    time.Duration // set before done is closed: start → exit
	peak    atomic.Int64  // bytes: the largest tree VmHWM sampled
	once    sync.Once
}

// startProc starts cmd with its output in the file logPath (created, with
// its directory) and samples its tree's VmHWM every interval until it exits.
// The child is killed if the test process dies (Pdeathsig). Callers stop it
// with stop or kill.
func startProc(name string, cmd *exec.Cmd, logPath string, every time.Duration) (*proc, error) {
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, log: logPath, every: every, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = lf, lf
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	p.start = time.Now()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		err := cmd.Wait()
		p.wall = time.Since(p.start)
		lf.Close()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			p.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
		p.waitErr = err
		close(p.done)
	}()
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			p.sample()
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	}()
	return p, nil
}

// sample reads the tree's VmHWM now (while the process runs) into peak.
func (p *proc) sample() {
	if p.exited() {
		return // reaped: its pid may be another process's now
	}
	_, hwm := treeMem(p.cmd.Process.Pid)
	for {
		old := p.peak.Load()
		if hwm <= old || p.peak.CompareAndSwap(old, hwm) {
			return
		}
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// maxRSS is the peak RSS sampled so far, in bytes.
func (p *proc) maxRSS() int64 { return p.peak.Load() }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// cpuNow is the process's user+sys CPU so far (its threads, not its
// children), from /proc, in 10 ms ticks; 0 once it has exited.
func (p *proc) cpuNow() time.Duration { return procCPU(p.pid()) }

// memNow is the current VmRSS and the VmHWM of the process and its
// descendants, in bytes.
func (p *proc) memNow() (rss, hwm int64) {
	p.sample()
	return treeMem(p.pid())
}

// withLog adds the end of the process's output to err.
func (p *proc) withLog(err error) error {
	return fmt.Errorf("%w\n%s", err, tail(p.log, 30))
}

// until calls check every interval until it reports done and returns the
// time from the start to that moment. It fails when check fails, when the
// process exits with an error, when it exited (with 0) more than grace ago
// and check is still not done, after timeout, or when ctx is done. It does
// not stop the process.
func (p *proc) until(ctx context.Context, timeout, grace time.Duration, check func() (bool, error)) (time.Duration, error) {
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	done := p.done // nil once exited
	var exitedAt time.Time
	for {
		ok, err := check()
		if err != nil {
			return 0, p.withLog(err)
		}
		if ok {
			return time.Since(p.start), nil
		}
		if !exitedAt.IsZero() && time.Since(exitedAt) > grace {
			return 0, p.withLog(fmt.Errorf("%s exited before it was done", p.name))
		}
		select {
		case <-done:
			if p.waitErr != nil {
				return 0, p.withLog(fmt.Errorf("%s exited before it was done: %w", p.name, p.waitErr))
			}
			exitedAt, done = time.Now(), nil
		case <-tick.C:
		case <-deadline.C:
			return 0, p.withLog(fmt.Errorf("%s not done after %s", p.name, timeout))
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// stop samples the tree's memory a last time, sends SIGTERM (if term and it
// still runs) and waits up to timeout for the exit, then kills it. It fails
// if the process did not exit by itself, or exited with an error.
func (p *proc) stop(term bool, timeout time.Duration) error {
	p.sample()
	if term && !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
		what := "after SIGTERM"
		if !term {
			what = "after it was done"
		}
		return p.withLog(fmt.Errorf("%s still running %s %s: killed", p.name, timeout, what))
	}
	if p.waitErr != nil {
		return p.withLog(fmt.Errorf("%s: %w", p.name, p.waitErr))
	}
	return nil
}

// kill kills the process if it still runs and waits for it; safe to call
// more than once, and after stop.
func (p *proc) kill() {
	p.once.Do(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
		}
		<-p.done
	})
}

// clockTick is USER_HZ, the unit of /proc/stat and /proc/PID/stat: 100 on
// every Linux architecture Go supports.
const clockTick = 10 * time.Millisecond

// procCPU is the user+sys time of process pid (all its threads), 0 if unknown.
func procCPU(pid int) time.Duration {
	f := procStat(pid)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, _ := strconv.ParseUint(f[12], 10, 64) // field 15
	return time.Duration(utime+stime) * clockTick
}

// treeCPU is the CPU time of process pid and its descendants so far, at
// nanosecond resolution: the sum of the first field of
// /proc/PID/task/TID/schedstat (time on a CPU) over their threads. Threads
// that have exited are no longer counted, which the Go runtime's rarely do.
// For short windows, where procCPU's 10 ms ticks are too coarse.
func treeCPU(pid int) time.Duration {
	var sum time.Duration
	for _, p := range tree(pid) {
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", p))
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			if fields := strings.Fields(string(b)); len(fields) > 0 {
				if ns, err := strconv.ParseInt(fields[0], 10, 64); err == nil {
					sum += time.Duration(ns)
				}
			}
		}
	}
	return sum
}

// ppid is the parent pid of process pid, 0 if unknown.
func ppid(pid int) int {
	f := procStat(pid)
	if len(f) < 2 {
		return 0
	}
	pp, _ := strconv.Atoi(f[1]) // field 4
	return pp
}

// procStat is /proc/PID/stat from field 3 (state) on: the command name
// (field 2) is in parentheses and may hold spaces.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// treeMem is the sum of VmRSS and of VmHWM (peak RSS) of process pid and of
// its descendants, in bytes; 0, 0 if pid is gone.
func treeMem(pid int) (rss, hwm int64) {
	for _, p := range tree(pid) {
		r, h := procMem(p)
		rss += r
		hwm += h
	}
	return rss, hwm
}

// tree is process pid and its descendants.
func tree(pid int) []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		p, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if pp := ppid(p); pp != 0 {
			children[pp] = append(children[pp], p)
		}
	}
	var all []int
	for todo := []int{pid}; len(todo) > 0; {
		p := todo[len(todo)-1]
		todo = append(todo[:len(todo)-1], children[p]...)
		all = append(all, p)
	}
	return all
}

// procMem returns VmRSS and VmHWM of process pid in bytes (0 for a zombie).
func procMem(pid int) (rss, hwm int64) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(status)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm
}

// childPID returns the pid of a child of this process whose command line
// contains arg, 0 if there is none.
func childPID(arg string) int {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil || ppid(pid) != os.Getpid() {
			continue
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		if bytes.Contains(cmdline, []byte(arg)) {
			return pid
		}
	}
	return 0
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
