package sysmon

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"

	"github.com/logcollect/logcollect/internal/retry"
)

// LineWriter writes line-protocol records to InfluxDB in one request and returns when
// InfluxDB has answered. influxdb-client-go's api.WriteAPIBlocking is one; its errors are
// *http.Error (StatusCode 0 when InfluxDB could not be reached). It is called from one
// goroutine.
type LineWriter interface {
	WriteRecord(ctx context.Context, lines ...string) error
}

// WriterConfig configures a Writer.
type WriterConfig struct {
	BatchSize         int           // points per write request; > 0
	Timeout           time.Duration // per write request; > 0
	MinRetryDelay     time.Duration // first backoff after a failed write; default 1s
	MaxRetryDelay     time.Duration // cap of the backoff; > 0
	MaxBufferedPoints int           // > 0
	ShutdownTimeout   time.Duration // how long Run keeps writing after its ctx is done
	Bucket            string        // for messages only
}

// Writer owns a bounded buffer of points (as line protocol, compressed in chunks: see
// pointBuffer) and writes them to InfluxDB in batches, oldest first. Add never waits for
// InfluxDB: when the buffer is full the oldest buffered points are dropped (and counted) to
// make room. Points survive failed writes that may succeed later (InfluxDB unreachable,
// timeout, 5xx, 429): they stay buffered and are retried with a growing backoff. Points
// InfluxDB rejects (other 4xx) are dropped and counted, as retrying cannot help. Add is safe
// for concurrent use; Run is called once.
type Writer struct {
	cfg WriterConfig
	w   LineWriter
	log *slog.Logger
	m   *Metrics

	mu       sync.Mutex
	buf      pointBuffer // buffered points, oldest first, in-flight ones excluded
	inFlight int         // points taken by the write in progress, counted against the limit
	full     bool        // dropped points since the last successful write (logged once)
	added    int64       // points ever added; added = written + dropped + buffered

	wake chan struct{} // size 1: "there is something to write"
}

// NewWriter returns a writer to w. cfg must hold positive values (see Config.Validate).
func NewWriter(cfg WriterConfig, w LineWriter, log *slog.Logger, m *Metrics) *Writer {
	if cfg.MinRetryDelay <= 0 {
		cfg.MinRetryDelay = time.Second
	}
	cfg.MinRetryDelay = min(cfg.MinRetryDelay, cfg.MaxRetryDelay)
	// Keep room for new points while a full batch is in flight, so that overflow drops
	// buffered points, oldest first, rather than the newest.
	cfg.BatchSize = max(1, min(cfg.BatchSize, cfg.MaxBufferedPoints/2))
	return &Writer{cfg: cfg, w: w, log: log.With("component", "influx_writer"), m: m, wake: make(chan struct{}, 1)}
}

// Add buffers points, dropping the oldest buffered ones if the buffer is full, and wakes
// the writer. It never waits for InfluxDB.
func (w *Writer) Add(points []Point) {
	if len(points) == 0 {
		return
	}
	var line []byte
	w.mu.Lock()
	dropped := 0
	for _, p := range points {
		line = p.AppendLine(line[:0])
		if len(line) == 0 {
			continue
		}
		w.added++
		if w.buffered() >= w.cfg.MaxBufferedPoints {
			dropped++
			if w.buf.DropFront(1) == 0 { // everything is in flight: nothing older to drop
				continue
			}
		}
		w.buf.Push(line)
	}
	buffered := w.buffered()
	first := dropped > 0 && !w.full
	w.full = w.full || dropped > 0
	w.mu.Unlock()

	w.m.BufferedPoints.Set(float64(buffered))
	if dropped > 0 {
		w.m.PointsDropped.WithLabelValues(dropOverflow).Add(float64(dropped))
		level := slog.LevelDebug
		if first {
			level = slog.LevelWarn
		}
		w.log.Log(context.Background(), level, "buffer full: dropping the oldest points until InfluxDB takes them",
			"dropped", dropped, "max_buffered_points", w.cfg.MaxBufferedPoints)
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Buffered returns the number of points not yet written, in-flight ones included.
func (w *Writer) Buffered() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buffered()
}

func (w *Writer) buffered() int { return w.buf.Len() + w.inFlight }

// addedPoints returns the number of points ever added (for tests: added = written + dropped +
// buffered).
func (w *Writer) addedPoints() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.added
}

// take removes up to n of the oldest points for a write and counts them as in flight.
func (w *Writer) take(n int) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := w.buf.PopFront(n)
	w.inFlight = len(batch)
	return batch
}

// done ends a write: kept points go back to the front of the buffer, in order.
func (w *Writer) done(batch []string, keep bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight = 0
	if !keep {
		w.full = false
	}
	if keep {
		w.buf.PushFront(batch)
	}
	return w.buffered()
}

// Run writes buffered points until ctx is done, then keeps writing for up to
// cfg.ShutdownTimeout to empty the buffer; points still buffered after that are dropped and
// counted (reason "shutdown"). A write in progress when ctx is done is not cut off (it ends
// within cfg.Timeout), so a stop takes at most Timeout + ShutdownTimeout. It returns nil.
func (w *Writer) Run(ctx context.Context) error {
	var (
		bo    = w.backoff() // its attempts: the consecutive failed writes
		again <-chan time.Time
	)
	for {
		if again == nil {
			select {
			case <-ctx.Done():
				return w.shutdown(ctx)
			case <-w.wake:
			}
		} else {
			select {
			case <-ctx.Done():
				return w.shutdown(ctx)
			case <-again:
				again = nil
			}
		}
		for w.Buffered() > 0 && ctx.Err() == nil {
			// A write in progress when ctx is done completes (within cfg.Timeout): cutting
			// it off could make the shutdown flush write the same points twice.
			delay, ok := w.writeBatch(context.WithoutCancel(ctx), &bo)
			if ok {
				bo.Reset()
				continue
			}
			again = time.After(delay)
			break
		}
	}
}

func (w *Writer) shutdown(ctx context.Context) error {
	if w.Buffered() == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.ShutdownTimeout)
	defer cancel()
	w.log.Info("flushing buffered points", "points", w.Buffered(), "timeout", w.cfg.ShutdownTimeout)
	bo := w.backoff()
	for w.Buffered() > 0 && ctx.Err() == nil {
		delay, ok := w.writeBatch(ctx, &bo)
		if ok {
			bo.Reset()
			continue
		}
		retry.Sleep(ctx, delay)
	}
	if n := w.drain(); n > 0 {
		w.m.PointsDropped.WithLabelValues(dropShutdown).Add(float64(n))
		w.log.Error("shutdown timeout: buffered points were not written", "dropped", n, "timeout", w.cfg.ShutdownTimeout)
	}
	return nil
}

// drain empties the buffer and returns how many points it held.
func (w *Writer) drain() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := w.buf.Reset()
	w.m.BufferedPoints.Set(0)
	return n
}

// writeBatch writes the oldest batch. ok is false when the write failed and the points
// were kept; delay is then how long to wait before the next attempt, from bo, whose
// attempts are the failures before this one.
func (w *Writer) writeBatch(ctx context.Context, bo *retry.Backoff) (delay time.Duration, ok bool) {
	failures := bo.Attempts()
	batch := w.take(w.cfg.BatchSize)
	if len(batch) == 0 {
		return 0, true
	}
	wctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	start := time.Now()
	err := w.w.WriteRecord(wctx, batch...)
	cancel()
	if err == nil {
		buffered := w.done(batch, false)
		w.m.PointsWritten.Add(float64(len(batch)))
		w.m.BufferedPoints.Set(float64(buffered))
		w.m.InfluxUp.Set(1)
		if failures > 0 {
			w.log.Info("influx write recovered", "points", len(batch), "buffered", buffered)
		} else {
			w.log.Debug("wrote points", "points", len(batch), "buffered", buffered, "took", time.Since(start))
		}
		return 0, true
	}

	if ctx.Err() != nil {
		// The shutdown deadline cut the request: the points stay buffered and are counted
		// as dropped by shutdown. (Had they landed, InfluxDB would overwrite identical
		// points if they were written again.)
		w.m.BufferedPoints.Set(float64(w.done(batch, true)))
		return 0, false
	}
	w.m.WriteErrors.Inc()
	w.m.InfluxUp.Set(0)
	werr := classify(err, w.cfg.Bucket)
	switch {
	case werr.Retryable:
		buffered := w.done(batch, true)
		w.m.BufferedPoints.Set(float64(buffered))
		delay = w.retryDelay(bo, werr.RetryAfter)
		// The first failure of an outage is a warning; the retries are debug noise.
		level := slog.LevelDebug
		if failures == 0 {
			level = slog.LevelWarn
		}
		w.log.Log(ctx, level, "influx write failed; points kept for retry", "err", werr, "buffered", buffered, "retry_in", delay)
		return delay, false
	case werr.TooLarge && len(batch) > 1:
		buffered := w.done(batch, true)
		w.m.BufferedPoints.Set(float64(buffered))
		w.cfg.BatchSize = max(1, len(batch)/2)
		w.log.Warn("influx: request too large; halving the batch size", "err", werr, "batch_size", w.cfg.BatchSize)
		return 0, true
	default:
		buffered := w.done(batch, false)
		w.m.BufferedPoints.Set(float64(buffered))
		dropped := len(batch)
		if werr.Dropped > 0 && werr.Dropped < len(batch) { // partial write: the rest were stored
			dropped = werr.Dropped
			w.m.PointsWritten.Add(float64(len(batch) - dropped))
		}
		w.m.PointsDropped.WithLabelValues(dropRejected).Add(float64(dropped))
		w.log.Error("influx rejected points; dropped them", "err", werr, "dropped", dropped)
		return 0, true
	}
}

// backoff returns the backoff of a series of failed writes: MinRetryDelay doubled after
// each, up to MaxRetryDelay.
func (w *Writer) backoff() retry.Backoff {
	return retry.Backoff{Min: w.cfg.MinRetryDelay, Max: w.cfg.MaxRetryDelay}
}

// retryDelay returns the wait after a failed write: bo's next wait, or the server's
// Retry-After if longer, at most MaxRetryDelay.
func (w *Writer) retryDelay(bo *retry.Backoff, retryAfter time.Duration) time.Duration {
	return min(max(bo.Next(), retryAfter), w.cfg.MaxRetryDelay)
}

// WriteError is a failed write, classified.
type WriteError struct {
	Status     int  // HTTP status, 0 if InfluxDB could not be reached
	Retryable  bool // the same points may be accepted later
	TooLarge   bool // 413: split the batch
	RetryAfter time.Duration
	Dropped    int // from a 1.x "partial write: ... dropped=N"
	Err        error
	hint       string
}

func (e *WriteError) Error() string {
	msg := e.Err.Error()
	if e.Status != 0 {
		msg = fmt.Sprintf("HTTP %d: %s", e.Status, msg)
	}
	if e.hint != "" {
		msg += " (" + e.hint + ")"
	}
	return msg
}

func (e *WriteError) Unwrap() error { return e.Err }

// tlsHint returns what to check for a certificate error from InfluxDB's endpoint, "" for
// other errors. They are retryable: the CA file may be fixed, or InfluxDB's certificate.
func tlsHint(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	switch {
	case errors.As(err, &unknown):
		return "InfluxDB's certificate is not signed by a CA in influx.tls.ca_file (or the system roots without one)"
	case errors.As(err, &hostname):
		return "InfluxDB's certificate does not name the host of influx.url; set influx.tls.server_name to a name it holds"
	case errors.As(err, &invalid):
		return "InfluxDB's certificate is not valid (expired or not yet valid?)"
	}
	return ""
}

var partialDropped = regexp.MustCompile(`dropped=(\d+)`)

// classify sorts a LineWriter error: unreachable, timeouts, 5xx and 429 are retryable;
// other 4xx are not (413 says the batch is too large).
func classify(err error, bucket string) *WriteError {
	e := &WriteError{Err: err, Retryable: true}
	var herr *influxhttp.Error
	if !errors.As(err, &herr) || herr.StatusCode == 0 {
		e.hint = tlsHint(err)
		return e // connection refused, DNS, timeout, a certificate InfluxDB's CA did not sign...
	}
	e.Status = herr.StatusCode
	e.RetryAfter = time.Duration(herr.RetryAfter) * time.Second
	switch s := herr.StatusCode; {
	case s == http.StatusTooManyRequests || s >= 500:
	case s == http.StatusRequestEntityTooLarge:
		e.Retryable, e.TooLarge = false, true
	default:
		e.Retryable = false
		switch s {
		case http.StatusUnauthorized, http.StatusForbidden:
			e.hint = "check influx.token: InfluxDB 2.x wants an API token with write access to the bucket, 1.8 \"user:password\""
		case http.StatusNotFound:
			e.hint = fmt.Sprintf("check influx.bucket %q and influx.org: the bucket (1.8: database) must exist", bucket)
		}
		if m := partialDropped.FindStringSubmatch(herr.Message); m != nil {
			e.Dropped, _ = strconv.Atoi(m[1])
		}
	}
	return e
}
