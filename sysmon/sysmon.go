package sysmon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/logcollect/logcollect/internal/config"
)

// Sysmon samples the host every interval and writes the points to InfluxDB. Build it with
// New and call Run once.
type Sysmon struct {
	cfg       Config
	log       *slog.Logger
	m         *Metrics
	collector *Collector
	writer    *Writer          // nil without InfluxDB (cfg.Stores() false)
	client    influxdb2.Client // nil without InfluxDB
}

// New validates cfg (setting its defaults), resolves the host name when cfg.Host is empty,
// registers sysmon's metrics with reg and builds the InfluxDB client; nothing is sampled
// or written before Run. A nil stats means NewHostStats(); a nil log discards.
func New(cfg Config, stats HostStats, log *slog.Logger, reg prometheus.Registerer) (*Sysmon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("host name (set host:): %w", err)
		}
		cfg.Host = h
	}
	if stats == nil {
		stats = NewHostStats()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := NewMetrics(reg)
	s := &Sysmon{cfg: cfg, log: log.With("component", "sysmon"), m: m, collector: NewCollector(cfg, stats)}
	if !cfg.Stores() {
		reg.Unregister(m.InfluxUp) // no InfluxDB: no "InfluxDB down" alert
		return s, nil
	}
	in := cfg.Influx
	tlsCfg, err := in.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("influx.tls: %w", err)
	}
	// The client's own retries and batching are not used: WriteAPIBlocking never retries,
	// the Writer does (see Writer).
	opts := influxdb2.DefaultOptions().SetHTTPRequestTimeout(uint(max(1, in.Timeout.D()/time.Second)))
	if tlsCfg != nil {
		opts.SetTLSConfig(tlsCfg)
		if in.TLS.InsecureSkipVerify {
			s.log.Warn("influx.tls.insecure_skip_verify is set: InfluxDB's certificate is not verified, so anyone on the path can read the token and the points",
				"influx", config.RedactURL(in.URL))
		}
	}
	client := influxdb2.NewClientWithOptions(in.URL, in.Token, opts)
	s.client = client
	s.writer = NewWriter(WriterConfig{
		BatchSize:         in.BatchSize,
		Timeout:           in.Timeout.D(),
		MaxRetryDelay:     in.MaxRetryDelay.D(),
		MaxBufferedPoints: in.MaxBufferedPoints,
		ShutdownTimeout:   cfg.ShutdownTimeout.D(),
		Bucket:            in.Bucket,
	}, client.WriteAPIBlocking(in.Org, in.Bucket), log, m)
	return s, nil
}

// Host is the host tag of the points.
func (s *Sysmon) Host() string { return s.cfg.Host }

// Stores reports whether the samples are written to InfluxDB; see Config.Stores.
func (s *Sysmon) Stores() bool { return s.writer != nil }

// Ping checks that InfluxDB answers (/ping); for a readiness check, only when Stores.
func (s *Sysmon) Ping(ctx context.Context) error {
	if s.client == nil {
		return errNoInflux
	}
	ok, err := s.client.Ping(ctx)
	if err == nil && !ok {
		err = errors.New("ping failed")
	}
	if err == nil {
		return nil
	}
	if hint := tlsHint(err); hint != "" {
		return fmt.Errorf("influx %s: %w (%s)", config.RedactURL(s.cfg.Influx.URL), err, hint)
	}
	return fmt.Errorf("influx %s: %w", config.RedactURL(s.cfg.Influx.URL), err)
}

// Run samples at every multiple of the interval until ctx is done, handing the points to
// the writer without waiting for InfluxDB. Then it stops sampling, lets the writer flush
// for up to cfg.ShutdownTimeout, closes the client and returns nil.
//
// Without InfluxDB (an empty influx.url) it logs that once, then samples for its metrics
// and discards the points.
func (s *Sysmon) Run(ctx context.Context) error {
	if s.writer == nil {
		s.log.Warn("no InfluxDB output configured (influx.url is empty): samples are taken and counted in /metrics but not stored; set influx.url (or -influx.url) to store them",
			"host", s.cfg.Host, "interval", s.cfg.Interval)
		s.sampleLoop(ctx)
		return nil
	}
	defer s.client.Close()
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWriter()
	written := make(chan struct{})
	go func() {
		defer close(written)
		_ = s.writer.Run(wctx)
	}()

	s.log.Info("sysmon sampling", "host", s.cfg.Host, "interval", s.cfg.Interval, "influx", config.RedactURL(s.cfg.Influx.URL), "bucket", s.cfg.Influx.Bucket)
	s.sampleLoop(ctx)
	stopWriter() // sources stop first, then the sink drains
	<-written
	return nil
}

func (s *Sysmon) sampleLoop(ctx context.Context) {
	iv := s.cfg.Interval.D()
	lastErr := make(map[string]string)
	// A first reading gives the cpu usage and diskio rates a baseline, so that the first
	// aligned sample already has them; its points are discarded.
	_, _ = s.collector.Sample(time.Now())
	next := time.Now().Truncate(iv).Add(iv)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		s.sample(next, lastErr)
		now := time.Now()
		next = next.Add(iv)
		if !next.After(now) { // overran one or more intervals (or the clock jumped)
			s.log.Warn("sampling fell behind; skipping to the next interval", "behind", now.Sub(next).Round(time.Millisecond))
			next = now.Truncate(iv).Add(iv)
		}
		timer.Reset(time.Until(next))
	}
}

// sample takes one sample stamped t. An input's error is logged when it first occurs or
// changes, and counted every time.
func (s *Sysmon) sample(t time.Time, lastErr map[string]string) {
	start := time.Now()
	points, err := s.collector.Sample(t)
	s.m.SampleDuration.Observe(time.Since(start).Seconds())
	s.m.Samples.Inc()
	failed := make(map[string]bool)
	if err != nil {
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var ie *InputError
			if !errors.As(e, &ie) {
				continue
			}
			failed[ie.Input] = true
			s.m.InputErrors.WithLabelValues(ie.Input).Inc()
			if msg := ie.Err.Error(); lastErr[ie.Input] != msg {
				lastErr[ie.Input] = msg
				s.log.Warn("input failed; its points are missing until it recovers", "input", ie.Input, "err", ie.Err)
			}
		}
	}
	for in := range lastErr {
		if !failed[in] {
			delete(lastErr, in)
			s.log.Info("input recovered", "input", in)
		}
	}
	if s.writer != nil {
		s.writer.Add(points)
	}
}

var errNoInflux = errors.New("no InfluxDB configured (influx.url is empty)")
