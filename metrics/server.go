package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const (
	// DefaultReadyTimeout bounds each readiness check when
	// ServerConfig.ReadyTimeout is zero.
	DefaultReadyTimeout = 2 * time.Second
	// shutdownTimeout bounds the graceful shutdown in Run.
	shutdownTimeout = 5 * time.Second
	// maxScrapes caps concurrent /metrics requests.
	maxScrapes = 10
)

// ServerConfig configures the metrics HTTP server.
type ServerConfig struct {
	// Listen is the TCP address to bind, e.g. ":9100" or "127.0.0.1:0".
	// Required.
	Listen string
	// Ready holds the checks /readyz runs. Nil means no checks: /readyz
	// answers 200 like /healthz.
	Ready *Readiness
	// ReadyTimeout bounds each readiness check. Zero means
	// DefaultReadyTimeout.
	ReadyTimeout time.Duration
}

func (c *ServerConfig) validate() error {
	if c.Listen == "" {
		return errors.New("metrics: listen address is empty")
	}
	if c.ReadyTimeout < 0 {
		return fmt.Errorf("metrics: ready timeout %s is negative", c.ReadyTimeout)
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	if c.Ready == nil {
		c.Ready = &Readiness{}
	}
	return nil
}

// Check reports whether one dependency is usable. It must return promptly
// once ctx is done; /readyz gives up waiting for it at that point anyway.
type Check func(ctx context.Context) error

// Readiness is the set of named checks served by /readyz. Checks can be
// added, replaced and removed at any time, also while the server runs, so a
// binary can register its Kafka or etcd check once it has built that client.
// The zero value is an empty set, ready to use. It is safe for concurrent use.
//
// With no checks, /readyz reports ready. A binary that must not look ready
// before its clients exist can Set a placeholder check that fails ("starting")
// and replace it later.
type Readiness struct {
	mu     sync.RWMutex
	checks map[string]Check
}

// Set adds the check under name, replacing any check of that name. A nil
// check removes it.
func (r *Readiness) Set(name string, check Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if check == nil {
		delete(r.checks, name)
		return
	}
	if r.checks == nil {
		r.checks = make(map[string]Check)
	}
	r.checks[name] = check
}

// checkError is one failed readiness check.
type checkError struct {
	Name string
	Err  error
}

// run runs every check concurrently, each bounded by timeout, and returns
// the failures sorted by name; nil means ready. A check still running at its
// deadline is reported as timed out and left to finish in the background.
func (r *Readiness) run(ctx context.Context, timeout time.Duration) []checkError {
	r.mu.RLock()
	checks := make(map[string]Check, len(r.checks))
	for name, c := range r.checks {
		checks[name] = c
	}
	r.mu.RUnlock()

	var (
		mu       sync.Mutex
		failures []checkError
		wg       sync.WaitGroup
	)
	for name, check := range checks {
		wg.Go(func() {
			if err := runCheck(ctx, check, timeout); err != nil {
				mu.Lock()
				failures = append(failures, checkError{Name: name, Err: err})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.SortFunc(failures, func(a, b checkError) int { return strings.Compare(a.Name, b.Name) })
	return failures
}

// runCheck runs check with a deadline. The check runs in its own goroutine
// so that one ignoring ctx cannot hold /readyz past the deadline.
func runCheck(ctx context.Context, check Check, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Buffered so that a check finishing after the deadline does not block
	// forever on a send nobody receives.
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("panic: %v", p)
			}
		}()
		done <- check(ctx)
	}()
	select {
	case err := <-done:
		if err != nil && ctx.Err() != nil {
			// The check gave up because of the deadline; say so plainly
			// rather than echo whatever its client made of it.
			return fmt.Errorf("timed out after %s", timeout)
		}
		return err
	case <-ctx.Done():
		return fmt.Errorf("timed out after %s", timeout)
	}
}

// Server serves /metrics, /healthz and /readyz. Build it with NewServer and
// call Run exactly once: Run releases the listening socket.
type Server struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// NewServer validates cfg, binds cfg.Listen and builds the handlers for reg.
// It registers the promhttp scrape metrics (promhttp_metric_handler_*) with
// reg. A nil log discards log output.
func NewServer(cfg ServerConfig, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, errors.New("metrics: registry is nil")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("component", "metrics_server")

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(log.Handler(), slog.LevelError),
		Registry:            reg,
		MaxRequestsInFlight: maxScrapes,
		EnableOpenMetrics:   true,
	})))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		failures := cfg.Ready.run(r.Context(), cfg.ReadyTimeout)
		if len(failures) == 0 {
			writeText(w, http.StatusOK, "ok\n")
			return
		}
		var b strings.Builder
		for _, f := range failures {
			fmt.Fprintf(&b, "%s: %v\n", f.Name, f.Err)
		}
		writeText(w, http.StatusServiceUnavailable, b.String())
	})

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %q: %w", cfg.Listen, err)
	}
	return &Server{
		srv: &http.Server{
			Handler:           mux,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		ln:  ln,
		log: log,
	}, nil
}

// Addr is the bound address; with port 0 in ServerConfig.Listen it tells the
// port the kernel chose.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Run serves until ctx is done, then shuts down gracefully, giving in-flight
// requests up to 5 s, and returns nil. It returns an error only if serving
// fails before that. Call it once.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("serving metrics", "addr", s.Addr().String())
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("metrics: serve on %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}

	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := s.srv.Shutdown(shutCtx); err != nil {
		// Requests still running after the grace period are cut off; that
		// is not a reason to fail the process's shutdown.
		s.log.Warn("metrics server did not shut down gracefully; closing connections", "err", err)
		_ = s.srv.Close()
	}
	<-served // http.ErrServerClosed
	return nil
}

// Serve is NewServer followed by Run: it binds cfg.Listen, serves until ctx
// is done, shuts down gracefully and returns nil. It returns an error naming
// the address if the address cannot be bound.
func Serve(ctx context.Context, cfg ServerConfig, reg *prometheus.Registry, log *slog.Logger) error {
	s, err := NewServer(cfg, reg, log)
	if err != nil {
		return err
	}
	return s.Run(ctx)
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}
