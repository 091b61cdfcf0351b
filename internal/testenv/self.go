package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// FreeAddr returns a free 127.0.0.1 address such as "127.0.0.1:41234". Another process could
// take it before the caller binds it, but it is unlikely.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitHealthy waits up to 30 s until GET http://addr/healthz answers 200, and fails t
// otherwise.
func WaitHealthy(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics server %s did not come up", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Scrape GETs http://addr/metrics and returns the value of each metric family: the sum of
// its series (counters and gauges) or of their sample counts (histograms).
func Scrape(addr string) (map[string]float64, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	// Uncompressed: gzip would cost the scraped process more CPU than the
	// rest of the scrape, and benchmarks scrape often.
	req.Header.Set("Accept-Encoding", "identity")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", addr, err)
	}
	out := make(map[string]float64, len(fams))
	for name, f := range fams {
		out[name] = 0
		for _, m := range f.Metric {
			switch {
			case m.Counter != nil:
				out[name] += m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] += m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name] += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out, nil
}

// Metric returns the value of one metric family (see Scrape), or -1 if the scrape fails or
// has no such family.
func Metric(addr, name string) float64 {
	fams, err := Scrape(addr)
	if err != nil {
		return -1
	}
	v, ok := fams[name]
	if !ok {
		return -1
	}
	return v
}

// MainSelf is a TestMain for tests that use StartSelf: when the environment variable env is
// "1" it runs the command, run(os.Args[1:]), and exits (1 after printing "name: err" to
// stderr), else it runs the tests.
func MainSelf(m *testing.M, env, name string, run func(args []string) error) {
	if os.Getenv(env) == "1" {
		if err := run(os.Args[1:]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Self is the test binary re-executed as the command under test: its TestMain runs the
// command instead of the tests when the environment variable it was started with is "1".
// Signals then hit a real process. Its methods are not safe for concurrent use.
type Self struct {
	Cmd     *exec.Cmd
	LogFile string // the command's stdout and stderr
	exited  chan error
}

// StartSelf starts the test binary (see MainSelf) with args and env=1, its output in a log file in
// t.TempDir(). Pdeathsig kills it if the test binary dies. t.Cleanup kills it and, if t
// failed, logs the last tailLines lines of its log (all of it if tailLines <= 0).
func StartSelf(t testing.TB, env string, tailLines int, args ...string) *Self {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env+"=1")
	return start(t, cmd, tailLines)
}

// StartBinary is StartSelf for a built binary, bin, such as the logagent that a test built
// with go build; the returned Self is that process.
func StartBinary(t testing.TB, tailLines int, bin string, args ...string) *Self {
	t.Helper()
	return start(t, exec.Command(bin, args...), tailLines)
}

func start(t testing.TB, cmd *exec.Cmd, tailLines int) *Self {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), filepath.Base(cmd.Path)+".log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		t.Fatal(err)
	}
	s := &Self{Cmd: cmd, LogFile: logFile, exited: make(chan error, 1)}
	go func() {
		s.exited <- cmd.Wait()
		lf.Close()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.exited
		if t.Failed() {
			lines := strings.Split(s.Log(), "\n")
			if tailLines > 0 && len(lines) > tailLines {
				lines = lines[len(lines)-tailLines:]
			}
			t.Logf("log %s (last lines):\n%s", logFile, strings.Join(lines, "\n"))
		}
	})
	return s
}

// Log returns what the command has written so far.
func (s *Self) Log() string {
	b, _ := os.ReadFile(s.LogFile)
	return string(b)
}

// Kill kills the command (SIGKILL), as a crash would, and waits until it has exited.
func (s *Self) Kill() error {
	if err := s.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-s.exited
	s.exited <- nil // for the next wait
	return nil
}

// Stop sends SIGTERM and waits up to timeout for the command to exit. It returns cmd.Wait's
// error (nil for exit status 0), or an error if it is still running after timeout.
func (s *Self) Stop(timeout time.Duration) error {
	if err := s.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-s.exited:
		s.exited <- nil // for the next wait
		return err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running %s after SIGTERM", filepath.Base(s.Cmd.Path), timeout)
	}
}
