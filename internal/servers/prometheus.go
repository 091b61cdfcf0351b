package servers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

const (
	prometheusReadyTimeout = 30 * time.Second
	prometheusLogTail      = 40
	prometheusHint         = "install Debian's prometheus package (apt-get install prometheus), as .ci/run does"
)

// PrometheusConfig says where a Prometheus keeps its TSDB, which port it listens on and what
// it loads.
type PrometheusConfig struct {
	// Dir holds prometheus.yml, prometheus.log and data/ (the TSDB, reused by a later run).
	// Required.
	Dir string
	// Port is the web port on 127.0.0.1. Required.
	Port int
	// Config is the text of prometheus.yml; relative rule_files are relative to Dir, so give
	// absolute paths (deploy.PrometheusConfig makes them so).
	Config []byte
	// Binary is the prometheus binary; "" means PrometheusBinary().
	Binary string
}

// Prometheus is a real Prometheus server (Debian's prometheus 2.42) running as a child
// process. Its methods are not safe for concurrent use.
//
// The Debian package may start its own service on :9090; pick another port, and never depend
// on that service being up or down.
type Prometheus struct {
	cfg  PrometheusConfig
	proc Proc
}

// NewPrometheus writes cfg.Config into cfg.Dir; Start runs the server.
func NewPrometheus(cfg PrometheusConfig) (*Prometheus, error) {
	switch {
	case cfg.Dir == "":
		return nil, errors.New("prometheus: no data dir")
	case cfg.Port <= 0:
		return nil, fmt.Errorf("prometheus: bad port %d", cfg.Port)
	}
	if cfg.Binary == "" {
		bin, err := PrometheusBinary()
		if err != nil {
			return nil, err
		}
		cfg.Binary = bin
	}
	p := &Prometheus{cfg: cfg}
	p.proc = Proc{Name: "prometheus", Noun: "server", Log: p.path("prometheus.log"), TailLines: prometheusLogTail}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	if err := writeFile(p.path("prometheus.yml"), string(cfg.Config)); err != nil {
		return nil, fmt.Errorf("prometheus: %w", err)
	}
	return p, nil
}

// PrometheusBinary returns the path of the prometheus binary: $LOGCOLLECT_PROMETHEUS if
// set, else "prometheus" on $PATH.
func PrometheusBinary() (string, error) {
	if bin := os.Getenv("LOGCOLLECT_PROMETHEUS"); bin != "" {
		return bin, nil
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return "", fmt.Errorf("prometheus: %w: %s", err, prometheusHint)
	}
	return bin, nil
}

// PromtoolBinary returns the path of promtool, which comes with the same package.
func PromtoolBinary() (string, error) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		return "", fmt.Errorf("promtool: %w: %s", err, prometheusHint)
	}
	return bin, nil
}

// URL returns the server's base URL, e.g. "http://127.0.0.1:9090".
func (p *Prometheus) URL() string { return "http://" + loopback(p.cfg.Port) }

// LogTail returns the last lines of the server's log, which explain a failure.
func (p *Prometheus) LogTail() string { return p.proc.LogTail() }

// Start starts the server and waits until /-/ready answers. If ctx ends first, it kills the
// server.
func (p *Prometheus) Start(ctx context.Context) error {
	if p.proc.Running() {
		return errors.New("prometheus: server already running")
	}
	cmd := exec.Command(p.cfg.Binary,
		"--config.file="+p.path("prometheus.yml"),
		"--storage.tsdb.path="+p.path("data"),
		"--web.listen-address="+loopback(p.cfg.Port),
		"--log.level=warn",
	)
	cmd.Dir = p.cfg.Dir
	r, err := p.proc.Start(cmd)
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, r); err != nil {
		_ = p.proc.Stop(syscall.SIGKILL)
		return fmt.Errorf("prometheus: %w\n%s", err, p.proc.LogTail())
	}
	return nil
}

// Stop stops the server gracefully (SIGTERM) and waits until it has exited.
func (p *Prometheus) Stop() error { return p.proc.Stop(syscall.SIGTERM) }

func (p *Prometheus) path(name string) string { return filepath.Join(p.cfg.Dir, name) }

func (p *Prometheus) waitReady(ctx context.Context, r *Run) error {
	return r.WaitReady(ctx, "server", prometheusReadyTimeout, 50*time.Millisecond,
		HTTPStatus(http.DefaultClient, p.URL()+"/-/ready", http.StatusOK))
}
