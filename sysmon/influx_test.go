package sysmon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// fakeInflux is an /api/v2/write endpoint. respond decides each request's answer from its
// lines; nil accepts everything. Accepted lines are recorded in order.
type fakeInflux struct {
	srv *httptest.Server

	mu       sync.Mutex
	respond  func(lines []string) (status int, body string)
	accepted []string
	requests int
}

func newFakeInflux(t *testing.T) *fakeInflux {
	f := &fakeInflux{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		lines := strings.Split(string(body), "\n")
		f.mu.Lock()
		f.requests++
		respond := f.respond
		f.mu.Unlock()
		status, msg := http.StatusNoContent, ""
		if respond != nil {
			status, msg = respond(lines)
		}
		if status == http.StatusNoContent {
			f.mu.Lock()
			f.accepted = append(f.accepted, lines...)
			f.mu.Unlock()
		}
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		if msg != "" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"code":"invalid","message":%q}`, msg)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeInflux) setRespond(respond func(lines []string) (int, string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.respond = respond
}

func (f *fakeInflux) Accepted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.accepted...)
}

// testWriter runs a Writer to url until the test ends.
type testWriter struct {
	*Writer
	m      *Metrics
	cancel context.CancelFunc
	done   chan struct{}
}

func startWriter(t *testing.T, url string, cfg WriterConfig) *testWriter {
	t.Helper()
	client := influxdb2.NewClient(url, "")
	t.Cleanup(client.Close)
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Second
	}
	if cfg.MaxRetryDelay == 0 {
		cfg.MinRetryDelay, cfg.MaxRetryDelay = 10*time.Millisecond, 50*time.Millisecond
	}
	if cfg.MaxBufferedPoints == 0 {
		cfg.MaxBufferedPoints = 1000
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 2 * time.Second
	}
	m := NewMetrics(prometheus.NewRegistry())
	w := NewWriter(cfg, client.WriteAPIBlocking("", "db"), slog.New(slog.DiscardHandler), m)
	ctx, cancel := context.WithCancel(context.Background())
	tw := &testWriter{Writer: w, m: m, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(tw.done)
		_ = w.Run(ctx)
	}()
	t.Cleanup(tw.stop)
	return tw
}

// stop cancels Run and waits for it (including its shutdown flush).
func (tw *testWriter) stop() {
	tw.cancel()
	<-tw.done
}

// points returns n points numbered from first: "m v=<i>i <i>".
func points(first, n int) []Point {
	ps := make([]Point, n)
	for i := range ps {
		ps[i] = Point{Measurement: "m", Fields: []Field{{"v", int64(first + i)}}, Time: time.Unix(0, int64(first+i))}
	}
	return ps
}

func lines(ps []Point) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Line()
	}
	return out
}

// waitWritten waits until the writer has counted n points written.
func waitWritten(t *testing.T, w *testWriter, n float64) {
	t.Helper()
	require.Eventually(t, func() bool { return testutil.ToFloat64(w.m.PointsWritten) == n }, 5*time.Second, 2*time.Millisecond,
		"points written: %v, want %v", testutil.ToFloat64(w.m.PointsWritten), n)
}

func dropped(m *Metrics, reason string) float64 {
	return testutil.ToFloat64(m.PointsDropped.WithLabelValues(reason))
}

func TestWriterBatches(t *testing.T) {
	f := newFakeInflux(t)
	var sizes []int
	f.setRespond(func(l []string) (int, string) {
		sizes = append(sizes, len(l)) // requests are sequential
		return http.StatusNoContent, ""
	})
	w := startWriter(t, f.srv.URL, WriterConfig{BatchSize: 3})
	w.Add(points(0, 10))

	waitWritten(t, w, 10)
	require.Equal(t, lines(points(0, 10)), f.Accepted(), "in order")
	for _, s := range sizes {
		require.LessOrEqual(t, s, 3)
	}
	require.Equal(t, 10.0, testutil.ToFloat64(w.m.PointsWritten))
	require.Equal(t, 0.0, testutil.ToFloat64(w.m.BufferedPoints))
	require.Equal(t, 1.0, testutil.ToFloat64(w.m.InfluxUp))
	require.Equal(t, 0.0, testutil.ToFloat64(w.m.WriteErrors))
}

func TestWriterKeepsPointsWhileInfluxFails(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"503", http.StatusServiceUnavailable},
		{"500", http.StatusInternalServerError},
		{"502", http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeInflux(t)
			f.setRespond(func([]string) (int, string) { return tt.status, "" })
			w := startWriter(t, f.srv.URL, WriterConfig{BatchSize: 4})
			w.Add(points(0, 10))
			require.Eventually(t, func() bool { return testutil.ToFloat64(w.m.WriteErrors) >= 3 }, 5*time.Second, 5*time.Millisecond)
			require.Equal(t, 10, w.Buffered())
			require.Equal(t, 0.0, testutil.ToFloat64(w.m.InfluxUp))
			w.Add(points(10, 5))

			f.setRespond(nil)
			waitWritten(t, w, 15)
			require.Equal(t, lines(points(0, 15)), f.Accepted(), "every point, oldest first")
			require.Equal(t, 1.0, testutil.ToFloat64(w.m.InfluxUp))
			require.Zero(t, dropped(w.m, dropOverflow)+dropped(w.m, dropRejected))
		})
	}
}

func TestWriterUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for connection timeouts")
	}
	f := newFakeInflux(t)
	url := f.srv.URL
	f.srv.Close() // connection refused
	w := startWriter(t, url, WriterConfig{})
	w.Add(points(0, 5))
	require.Eventually(t, func() bool { return testutil.ToFloat64(w.m.WriteErrors) >= 2 }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, 5, w.Buffered())
	require.Equal(t, 5.0, testutil.ToFloat64(w.m.BufferedPoints))
}

func TestWriterRejects(t *testing.T) {
	tests := []struct {
		name         string
		status       int
		message      string
		wantWritten  float64
		wantRejected float64
	}{
		{name: "400 bad request", status: 400, message: "unable to parse", wantRejected: 3},
		{name: "401", status: 401, wantRejected: 3},
		{name: "404 bucket", status: 404, message: `database not found: "db"`, wantRejected: 3},
		{name: "partial write", status: 400, message: `partial write: field type conflict: input field "v" on measurement "m" is type float, already exists as type integer dropped=1`,
			wantWritten: 2, wantRejected: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeInflux(t)
			f.setRespond(func([]string) (int, string) { return tt.status, tt.message })
			w := startWriter(t, f.srv.URL, WriterConfig{})
			w.Add(points(0, 3))
			require.Eventually(t, func() bool { return w.Buffered() == 0 }, 5*time.Second, 5*time.Millisecond)
			require.Equal(t, tt.wantRejected, dropped(w.m, dropRejected))
			require.Equal(t, tt.wantWritten, testutil.ToFloat64(w.m.PointsWritten))
			require.Equal(t, 1.0, testutil.ToFloat64(w.m.WriteErrors))
			require.Equal(t, 0.0, testutil.ToFloat64(w.m.InfluxUp))

			// The writer goes on with new points.
			f.setRespond(nil)
			w.Add(points(3, 2))
			waitWritten(t, w, tt.wantWritten+2)
			require.Equal(t, 1.0, testutil.ToFloat64(w.m.InfluxUp))
		})
	}
}

func TestWriterOverflowDropsOldest(t *testing.T) {
	f := newFakeInflux(t)
	f.setRespond(func([]string) (int, string) { return http.StatusServiceUnavailable, "" })
	// A long backoff: no write is in flight while the points below are added (an
	// in-flight batch is kept, so it would survive the overflow).
	w := startWriter(t, f.srv.URL, WriterConfig{MaxBufferedPoints: 10, MinRetryDelay: 500 * time.Millisecond, MaxRetryDelay: 500 * time.Millisecond})
	w.Add(points(0, 1))
	require.Eventually(t, func() bool { return testutil.ToFloat64(w.m.WriteErrors) == 1 }, 5*time.Second, time.Millisecond)
	for i := 1; i < 25; i++ {
		w.Add(points(i, 1))
	}
	require.Equal(t, 10, w.Buffered())
	require.Equal(t, 15.0, dropped(w.m, dropOverflow))
	require.Equal(t, 10.0, testutil.ToFloat64(w.m.BufferedPoints))

	f.setRespond(nil)
	waitWritten(t, w, 10)
	require.Equal(t, lines(points(15, 10)), f.Accepted(), "the newest 10 survive")
}

func TestWriterSplitsTooLargeBatches(t *testing.T) {
	f := newFakeInflux(t)
	f.setRespond(func(l []string) (int, string) {
		if len(l) > 2 {
			return http.StatusRequestEntityTooLarge, ""
		}
		return http.StatusNoContent, ""
	})
	w := startWriter(t, f.srv.URL, WriterConfig{BatchSize: 8})
	w.Add(points(0, 9))
	waitWritten(t, w, 9)
	require.Equal(t, lines(points(0, 9)), f.Accepted())
	require.Zero(t, dropped(w.m, dropRejected))
}

func TestWriterShutdown(t *testing.T) {
	t.Run("flushes", func(t *testing.T) {
		f := newFakeInflux(t)
		f.setRespond(func([]string) (int, string) { return http.StatusServiceUnavailable, "" })
		w := startWriter(t, f.srv.URL, WriterConfig{BatchSize: 2})
		w.Add(points(0, 7))
		require.Eventually(t, func() bool { return testutil.ToFloat64(w.m.WriteErrors) >= 1 }, 5*time.Second, 5*time.Millisecond)
		f.setRespond(nil)
		w.stop()
		require.Equal(t, lines(points(0, 7)), f.Accepted())
		require.Zero(t, dropped(w.m, dropShutdown))
	})
	t.Run("gives up after the timeout and counts", func(t *testing.T) {
		f := newFakeInflux(t)
		f.setRespond(func([]string) (int, string) { return http.StatusServiceUnavailable, "" })
		w := startWriter(t, f.srv.URL, WriterConfig{ShutdownTimeout: 200 * time.Millisecond})
		w.Add(points(0, 7))
		start := time.Now()
		w.stop()
		require.Less(t, time.Since(start), 2*time.Second)
		require.Equal(t, 7.0, dropped(w.m, dropShutdown))
		require.Equal(t, 0, w.Buffered())
		require.Equal(t, 0.0, testutil.ToFloat64(w.m.BufferedPoints))
	})
}

func TestWriterAddNeverWaits(t *testing.T) {
	f := newFakeInflux(t)
	release := make(chan struct{})
	f.setRespond(func([]string) (int, string) {
		<-release
		return http.StatusNoContent, ""
	})
	w := startWriter(t, f.srv.URL, WriterConfig{MaxBufferedPoints: 100, BatchSize: 10})
	w.Add(points(0, 10))
	require.Eventually(t, func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.requests == 1
	}, 5*time.Second, time.Millisecond)

	start := time.Now()
	for i := 10; i < 500; i++ {
		w.Add(points(i, 1)) // the write hangs; Add must not
	}
	require.Less(t, time.Since(start), time.Second)
	require.Equal(t, 100, w.Buffered(), "in-flight points count against the limit")
	require.Equal(t, 400.0, dropped(w.m, dropOverflow))
	close(release)
	waitWritten(t, w, 100)
	got := f.Accepted()
	require.Equal(t, lines(points(0, 10)), got[:10], "the in-flight batch")
	require.Equal(t, lines(points(410, 90)), got[10:], "then the newest")
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		retryable  bool
		tooLarge   bool
		retryAfter time.Duration
		dropped    int
		msg        string
	}{
		{name: "not an http error", err: errors.New("boom"), retryable: true, msg: "boom"},
		{name: "connection refused", err: influxhttp.NewError(errors.New("dial tcp: connection refused")), retryable: true, msg: "dial tcp: connection refused"},
		{name: "timeout", err: influxhttp.NewError(context.DeadlineExceeded), retryable: true},
		{name: "500", err: &influxhttp.Error{StatusCode: 500, Code: "internal error", Message: "x"}, retryable: true, msg: "HTTP 500: internal error: x"},
		{name: "503", err: &influxhttp.Error{StatusCode: 503}, retryable: true},
		{name: "429 retry after", err: &influxhttp.Error{StatusCode: 429, RetryAfter: 7}, retryable: true, retryAfter: 7 * time.Second},
		{name: "413", err: &influxhttp.Error{StatusCode: 413}, tooLarge: true},
		{name: "400", err: &influxhttp.Error{StatusCode: 400, Code: "invalid", Message: "unable to parse"}, msg: "HTTP 400: invalid: unable to parse"},
		{name: "401 hints at the token", err: &influxhttp.Error{StatusCode: 401}, msg: "HTTP 401: Unexpected status code 401 (check influx.token"},
		{name: "403 hints at the token", err: &influxhttp.Error{StatusCode: 403}, msg: "(check influx.token"},
		{name: "404 hints at the bucket", err: &influxhttp.Error{StatusCode: 404, Code: "404 Not Found", Message: `database not found: "x"`},
			msg: `HTTP 404: 404 Not Found: database not found: "x" (check influx.bucket "db/rp"`},
		{name: "partial write", err: &influxhttp.Error{StatusCode: 400, Message: "partial write: field type conflict dropped=12"}, dropped: 12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := classify(tt.err, "db/rp")
			require.Equal(t, tt.retryable, e.Retryable)
			require.Equal(t, tt.tooLarge, e.TooLarge)
			require.Equal(t, tt.retryAfter, e.RetryAfter)
			require.Equal(t, tt.dropped, e.Dropped)
			require.ErrorIs(t, e, tt.err)
			if tt.msg != "" {
				require.Contains(t, e.Error(), tt.msg)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	w := NewWriter(WriterConfig{BatchSize: 1, MaxBufferedPoints: 10, MinRetryDelay: time.Second, MaxRetryDelay: 30 * time.Second},
		nil, slog.New(slog.DiscardHandler), nil)
	bo := w.backoff()
	for failures, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second} {
		d := w.retryDelay(&bo, 0)
		require.InDelta(t, float64(want), float64(d), float64(want)*0.21, "failures=%d", failures)
		require.LessOrEqual(t, d, 30*time.Second)
	}
	bo = w.backoff()
	require.GreaterOrEqual(t, w.retryDelay(&bo, 10*time.Second), 10*time.Second, "Retry-After wins")
	require.Equal(t, 30*time.Second, w.retryDelay(&bo, time.Hour), "but is capped")
}
