package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// startServer runs a server on a free loopback port until the test ends and
// returns its base URL.
func startServer(t *testing.T, cfg ServerConfig) string {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := NewServer(cfg, NewRegistry(BuildInfo{Version: "test"}), nil)
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return "http://" + s.Addr().String()
}

// fetch GETs url with a client that keeps no idle connections, so no
// goroutines outlive the test. It is safe to call from any goroutine.
func fetch(url string, header http.Header) (int, http.Header, string, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body), err
}

// get is fetch for the test goroutine.
func get(t *testing.T, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	code, h, body, err := fetch(url, header)
	require.NoError(t, err)
	return code, h, body
}

func TestServerEndpoints(t *testing.T) {
	// unblock releases checks that ignore their context, once the test ends.
	unblock := make(chan struct{})
	t.Cleanup(func() { close(unblock) })

	ok := func(context.Context) error { return nil }
	fail := func(msg string) Check { return func(context.Context) error { return errors.New(msg) } }
	honorsCtx := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
	ignoresCtx := func(context.Context) error { <-unblock; return nil }

	tests := []struct {
		name     string
		checks   map[string]Check
		path     string
		wantCode int
		wantBody string // exact, unless wantSub is set
		wantSub  []string
	}{
		{name: "healthz", path: "/healthz", wantCode: http.StatusOK, wantBody: "ok\n"},
		{name: "healthz ignores failing checks", checks: map[string]Check{"kafka": fail("down")}, path: "/healthz", wantCode: http.StatusOK, wantBody: "ok\n"},
		{name: "readyz without checks", path: "/readyz", wantCode: http.StatusOK, wantBody: "ok\n"},
		{name: "readyz all pass", checks: map[string]Check{"kafka": ok, "etcd": ok}, path: "/readyz", wantCode: http.StatusOK, wantBody: "ok\n"},
		{
			name:     "readyz lists each failing check sorted",
			checks:   map[string]Check{"kafka": fail("no brokers"), "etcd": fail("no leader"), "es": ok},
			path:     "/readyz",
			wantCode: http.StatusServiceUnavailable,
			wantBody: "etcd: no leader\nkafka: no brokers\n",
		},
		{
			name:     "readyz check honoring ctx times out",
			checks:   map[string]Check{"slow": honorsCtx, "fine": ok},
			path:     "/readyz",
			wantCode: http.StatusServiceUnavailable,
			wantBody: "slow: timed out after 100ms\n",
		},
		{
			name:     "readyz check ignoring ctx times out",
			checks:   map[string]Check{"stuck": ignoresCtx},
			path:     "/readyz",
			wantCode: http.StatusServiceUnavailable,
			wantBody: "stuck: timed out after 100ms\n",
		},
		{
			name:     "readyz panicking check fails",
			checks:   map[string]Check{"bad": func(context.Context) error { panic("oops") }},
			path:     "/readyz",
			wantCode: http.StatusServiceUnavailable,
			wantBody: "bad: panic: oops\n",
		},
		{
			name:     "metrics",
			path:     "/metrics",
			wantCode: http.StatusOK,
			wantSub: []string{
				`logcollect_build_info{goversion="`,
				"\ngo_goroutines ",
				"\nprocess_cpu_seconds_total ",
				"\npromhttp_metric_handler_requests_total{code=\"200\"}",
			},
		},
		{name: "unknown path", path: "/nope", wantCode: http.StatusNotFound, wantSub: []string{"404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ready := &Readiness{}
			for name, c := range tt.checks {
				ready.Set(name, c)
			}
			base := startServer(t, ServerConfig{Ready: ready, ReadyTimeout: 100 * time.Millisecond})

			code, _, body := get(t, base+tt.path, nil)
			require.Equal(t, tt.wantCode, code, body)
			if tt.wantSub == nil {
				require.Equal(t, tt.wantBody, body)
			}
			for _, s := range tt.wantSub {
				require.Contains(t, body, s)
			}
		})
	}
}

func TestMetricsOpenMetrics(t *testing.T) {
	base := startServer(t, ServerConfig{})
	code, header, body := get(t, base+"/metrics", http.Header{"Accept": {"application/openmetrics-text; version=1.0.0"}})
	require.Equal(t, http.StatusOK, code)
	require.True(t, strings.HasPrefix(header.Get("Content-Type"), "application/openmetrics-text"), header.Get("Content-Type"))
	require.Contains(t, body, "logcollect_build_info{")
	require.True(t, strings.HasSuffix(body, "# EOF\n"))
}

func TestReadinessChangesWhileServing(t *testing.T) {
	ready := &Readiness{}
	base := startServer(t, ServerConfig{Ready: ready})

	code, _, _ := get(t, base+"/readyz", nil)
	require.Equal(t, http.StatusOK, code)

	ready.Set("kafka", func(context.Context) error { return errors.New("starting") })
	code, _, body := get(t, base+"/readyz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Equal(t, "kafka: starting\n", body)

	ready.Set("kafka", func(context.Context) error { return nil })
	code, _, _ = get(t, base+"/readyz", nil)
	require.Equal(t, http.StatusOK, code)

	ready.Set("etcd", func(context.Context) error { return errors.New("no leader") })
	ready.Set("etcd", nil) // removes
	code, _, _ = get(t, base+"/readyz", nil)
	require.Equal(t, http.StatusOK, code)
}

func TestRunShutsDownOnCancel(t *testing.T) {
	s, err := NewServer(ServerConfig{Listen: "127.0.0.1:0"}, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	addr := s.Addr().String()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	code, _, _ := get(t, "http://"+addr+"/healthz", nil)
	require.Equal(t, http.StatusOK, code)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "listener still open after Run returned")
}

func TestRunWithDoneContextReleasesListener(t *testing.T) {
	s, err := NewServer(ServerConfig{Listen: "127.0.0.1:0"}, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.NoError(t, s.Run(ctx))

	_, err = net.DialTimeout("tcp", s.Addr().String(), time.Second)
	require.Error(t, err)
}

func TestServeErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })
	busyAddr := busy.Addr().String()

	tests := []struct {
		name    string
		cfg     ServerConfig
		reg     *prometheus.Registry
		wantErr string
	}{
		{name: "address in use", cfg: ServerConfig{Listen: busyAddr}, reg: prometheus.NewRegistry(), wantErr: `metrics: listen on "` + busyAddr + `"`},
		{name: "bad address", cfg: ServerConfig{Listen: "not-an-address"}, reg: prometheus.NewRegistry(), wantErr: `metrics: listen on "not-an-address"`},
		{name: "empty address", cfg: ServerConfig{}, reg: prometheus.NewRegistry(), wantErr: "metrics: listen address is empty"},
		{name: "negative timeout", cfg: ServerConfig{Listen: "127.0.0.1:0", ReadyTimeout: -time.Second}, reg: prometheus.NewRegistry(), wantErr: "metrics: ready timeout -1s is negative"},
		{name: "nil registry", cfg: ServerConfig{Listen: "127.0.0.1:0"}, wantErr: "metrics: registry is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Serve(ctx, tt.cfg, tt.reg, nil)
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestRunFinishesInFlightRequests(t *testing.T) {
	started := make(chan struct{})
	ready := &Readiness{}
	ready.Set("slow", func(context.Context) error {
		close(started)
		time.Sleep(300 * time.Millisecond)
		return nil
	})
	s, err := NewServer(ServerConfig{Listen: "127.0.0.1:0", Ready: ready}, prometheus.NewRegistry(), nil)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	type result struct {
		code int
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		code, _, body, err := fetch("http://"+s.Addr().String()+"/readyz", nil)
		res <- result{code, body, err}
	}()
	<-started
	cancel() // shut down while /readyz is in flight

	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, http.StatusOK, r.code)
	require.Equal(t, "ok\n", r.body)
	require.NoError(t, <-done)
}
