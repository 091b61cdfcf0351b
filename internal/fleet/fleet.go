// Package fleet simulates logagents on the etcd side, for tests and benchmarks that need many
// of them (issue 17: an etcd cluster losing its leader, a fleet of 1,000 agents): each Agent
// runs the agent's own EtcdSource (the collect config: a read, then a watch from its revision)
// and Registrar (the registration key bound to a kept-alive lease) on an etcd client of its
// own, built as logagent builds it (etcdclient.New), but tails no file and ships nothing. It
// records every config it applied, so that a test can tell a change missed from one applied
// twice, and counts what the source and registrar logged.
package fleet

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/logcollect/logcollect/agent"
	"github.com/logcollect/logcollect/internal/collect"
	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/etcdclient"
)

// Config describes one simulated agent.
type Config struct {
	Endpoints []string      // etcd client endpoints
	IP        string        // the agent's host IP: its registration and collect keys
	TTL       time.Duration // registration lease TTL (0: the agent's default, 15 s)
	// RetryInterval is the EtcdSource's (0: its default, 2 s).
	RetryInterval time.Duration
	// Log receives the source's and registrar's records (nil: discarded); they are counted
	// either way.
	Log slog.Handler
}

// Applied is one config the agent applied.
type Applied struct {
	At    time.Time
	Tasks []collect.Task
}

// Agent is one simulated agent. Run it once; the other methods are safe for concurrent use.
type Agent struct {
	cfg Config
	cli *clientv3.Client
	src *agent.EtcdSource
	reg *agent.Registrar
	log *countingHandler

	mu      sync.Mutex
	applied []Applied
}

// New builds the agent's etcd client, source and registrar; it does not contact etcd.
func New(cfg Config) (*Agent, error) {
	cli, err := etcdclient.New(etcdclient.Config{Endpoints: cfg.Endpoints, DialTimeout: config.Duration(2 * time.Second)})
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", cfg.IP, err)
	}
	h := &countingHandler{next: cfg.Log, mu: &sync.Mutex{}, counts: map[string]int{}}
	log := slog.New(h).With("agent", cfg.IP)
	a := &Agent{cfg: cfg, cli: cli, log: h}
	key := collect.ExpandCollectKey(collect.DefaultCollectKey, cfg.IP, "sim-"+cfg.IP)
	a.src = agent.NewEtcdSource(cli, agent.EtcdSourceConfig{Key: key, RetryInterval: cfg.RetryInterval}, log,
		agent.NewMetrics(prometheus.NewRegistry()))
	a.reg = agent.NewRegistrar(cli, cfg.TTL, log)
	a.reg.Update(collect.AgentInfo{Hostname: "sim-" + cfg.IP, IP: cfg.IP, Version: "fleet", StartTime: time.Now()})
	return a, nil
}

// Run runs the source and the registrar until ctx is done (the registrar then revokes its
// lease), and closes the client.
func (a *Agent) Run(ctx context.Context) error {
	defer a.cli.Close()
	var g errgroup.Group
	g.Go(func() error {
		return a.src.Run(ctx, func(tasks []collect.Task, _ string) error {
			a.mu.Lock()
			a.applied = append(a.applied, Applied{At: time.Now(), Tasks: tasks})
			a.mu.Unlock()
			return nil
		})
	})
	g.Go(func() error { return a.reg.Run(ctx) })
	return g.Wait()
}

// IP is the agent's IP.
func (a *Agent) IP() string { return a.cfg.IP }

// Applied returns the configs applied so far, in order.
func (a *Agent) Applied() []Applied {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Applied(nil), a.applied...)
}

// Logged returns how many records with this message the source and registrar logged, such
// as "registered in etcd".
func (a *Agent) Logged(msg string) int {
	a.log.mu.Lock()
	defer a.log.mu.Unlock()
	return a.log.counts[msg]
}

// countingHandler counts records by message and passes them on to next, if any.
type countingHandler struct {
	next   slog.Handler
	mu     *sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	h.counts[r.Message]++
	h.mu.Unlock()
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *countingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithAttrs(attrs)
	}
	return &c
}

func (h *countingHandler) WithGroup(name string) slog.Handler {
	c := *h
	if h.next != nil {
		c.next = h.next.WithGroup(name)
	}
	return &c
}
