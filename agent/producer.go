package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
	"github.com/twmb/franz-go/plugin/kslog"
)

// Producer is the part of the Kafka client the agent uses. Promises are called
// serially, in produce order per partition, and must not block.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

var _ Producer = (*kgo.Client)(nil)

// maxRecordBytes caps an encoded record below the client's default
// ProducerBatchMaxBytes (1,000,012) and the broker's default message.max.bytes,
// so that no record is rejected as too large: longer events are truncated and
// flagged instead.
const maxRecordBytes = 1_000_000 - 4096

// NewKafkaClient builds the franz-go client for cfg: acks=all and idempotent
// (the franz-go defaults), retried forever, keyed partitioning so that one
// file's lines keep their order in one partition.
func NewKafkaClient(cfg KafkaConfig, log *slog.Logger) (*kgo.Client, error) {
	opts, err := ProducerOpts(cfg, log)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	return cl, nil
}

// KafkaCheck returns a readiness check of Kafka: a metadata request with
// cl, whose error names the brokers, such as "kafka [10.0.0.1:9093]: remote
// error: tls: bad certificate".
func KafkaCheck(cl interface{ Ping(context.Context) error }, brokers []string) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := cl.Ping(ctx); err != nil {
			return fmt.Errorf("kafka %v: %w", brokers, err)
		}
		return nil
	}
}

// ProducerOpts are the client options NewKafkaClient uses; the benchmark's
// raw-producer ceiling uses them too, so that both produce alike.
func ProducerOpts(cfg KafkaConfig, log *slog.Logger) ([]kgo.Opt, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(cfg.Linger.D()),
		// The agent's own limiter bounds what is in flight; the client's
		// limit sits above it so that Produce never blocks uncancellably.
		kgo.MaxBufferedRecords(cfg.MaxBufferedRecords + 1),
		kgo.ProducerBatchMaxBytes(1_000_012),
		// The seed brokers on every line: the client names a broker by its
		// id ("seed_0") in some errors, such as a failed SASL handshake.
		kgo.WithLogger(kslog.New(slog.New(quietHandler{log.Handler()}).With("component", "kafka", "brokers", cfg.Brokers))),
		kgo.AllowAutoTopicCreation(),
	}
	codec, err := compressionCodec(cfg.Compression)
	if err != nil {
		return nil, err
	}
	opts = append(opts, kgo.ProducerBatchCompression(codec))
	tlsCfg, err := cfg.TLS.Build()
	if err != nil {
		return nil, fmt.Errorf("kafka.tls: %w", err)
	}
	if tlsCfg != nil {
		opts = append(opts, kgo.Dialer((&tls.Dialer{NetDialer: &net.Dialer{Timeout: 10 * time.Second}, Config: tlsCfg}).DialContext))
	}
	if m := saslMechanism(cfg.SASL); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

// quietHandler keeps the Kafka client's routine info messages (metadata
// refreshes, producer ids) out of the log unless debug logging is on;
// warnings and errors pass.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if h.Handler.Enabled(ctx, slog.LevelDebug) {
		return true
	}
	return l >= slog.LevelWarn && h.Handler.Enabled(ctx, l)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

func compressionCodec(name string) (kgo.CompressionCodec, error) {
	switch strings.ToLower(name) {
	case "", "zstd":
		// The fastest level: on application hosts CPU matters more than
		// the last percent of ratio (log lines compress well anyway).
		return kgo.ZstdCompression().WithLevel(int(zstd.SpeedFastest)), nil
	case "none":
		return kgo.NoCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "lz4":
		return kgo.Lz4Compression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("kafka.compression: unknown codec %q", name)
}

func saslMechanism(c SASLConfig) sasl.Mechanism {
	switch strings.ToUpper(c.Mechanism) {
	case "PLAIN":
		return plain.Auth{User: c.Username, Pass: c.Password}.AsMechanism()
	case "SCRAM-SHA-256":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha256Mechanism()
	case "SCRAM-SHA-512":
		return scram.Auth{User: c.Username, Pass: c.Password}.AsSha512Mechanism()
	}
	return nil
}

// limiter bounds the records and bytes handed to Kafka and not yet
// acknowledged. Harvesters wait in acquire (backpressure) and can be
// cancelled while waiting, which a blocking kgo Produce cannot offer without
// failing already buffered records.
type limiter struct {
	maxRecords, maxBytes int64

	mu      sync.Mutex
	records int64
	bytes   int64
	wake    chan struct{} // closed and replaced when a waiter may proceed
	waiting bool
}

func newLimiter(maxRecords, maxBytes int) *limiter {
	return &limiter{maxRecords: int64(maxRecords), maxBytes: int64(maxBytes), wake: make(chan struct{})}
}

// acquire reserves room for one record of n bytes. A record larger than the
// byte limit is let through when nothing else is in flight.
func (l *limiter) acquire(ctx context.Context, n int) error {
	for {
		l.mu.Lock()
		if l.records == 0 || (l.records < l.maxRecords && l.bytes+int64(n) <= l.maxBytes) {
			l.records++
			l.bytes += int64(n)
			l.mu.Unlock()
			return nil
		}
		l.waiting = true
		w := l.wake
		l.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *limiter) release(n int) {
	l.mu.Lock()
	l.records--
	l.bytes -= int64(n)
	if l.waiting {
		close(l.wake)
		l.wake = make(chan struct{})
		l.waiting = false
	}
	l.mu.Unlock()
}

func (l *limiter) buffered() (records, bytes int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records, l.bytes
}

// shipper hands records to the producer within the in-flight limits and
// turns acknowledgements into committed offsets.
type shipper struct {
	prod    Producer
	lim     *limiter
	log     *slog.Logger
	promise func(*kgo.Record, error) // s.acked, bound once: a method value per record would allocate
}

func newShipper(prod Producer, lim *limiter, log *slog.Logger) *shipper {
	s := &shipper{prod: prod, lim: lim, log: log}
	s.promise = s.acked
	return s
}

// inflight is a record on its way to Kafka with what its acknowledgement
// updates. The record's Context is the inflight itself (a context.Context
// through the embedded Background), so one promise serves every record, and
// harvesters take inflights from an arena: nothing is allocated per line.
type inflight struct {
	context.Context
	rec kgo.Record
	hdr [1]kgo.RecordHeader // rec.Headers: the event id
	tm  *taskMetrics
	e   *entry
	gen uint64
	end int64 // file offset committed once Kafka acknowledges the record
}

// send waits for room in the in-flight limits (or ctx), then produces in.rec.
// Once Kafka acknowledges it, in.end becomes the committed offset of in.e (for
// generation in.gen); if Kafka fails it, the generation is marked failed and
// the harvester re-reads from the committed offset.
//
// Records are produced with a context that is never cancelled: cancelling a
// buffered record fails every record buffered for its partition, including
// other files'. A stopped task's records are still delivered and committed.
func (s *shipper) send(ctx context.Context, in *inflight) error {
	if err := s.lim.acquire(ctx, len(in.rec.Value)); err != nil {
		return err
	}
	in.Context = context.Background()
	in.rec.Context = in
	s.prod.Produce(in.Context, &in.rec, s.promise)
	return nil
}

func (s *shipper) acked(r *kgo.Record, err error) {
	in := r.Context.(*inflight)
	s.lim.release(len(r.Value))
	if err != nil {
		in.tm.sendErrors.Inc()
		if in.e.fail(in.gen) {
			s.log.Warn("kafka did not acknowledge a record", "topic", r.Topic, "file", in.e.ID.String(), "err", err)
		}
	} else {
		in.e.ack(in.gen, in.end)
		in.tm.recordsSent.Inc()
		in.tm.bytesSent.Add(float64(len(r.Value)))
		in.tm.latency.Observe(time.Since(r.Timestamp).Seconds())
	}
	// The arena block that holds in lives on until all its records are
	// acknowledged; it need not keep this record's bytes alive meanwhile.
	r.Key, r.Value, r.Context = nil, nil, nil
	in.hdr[0].Value = nil
}

// arena hands out inflights and record value buffers in blocks, so shipping
// a backlog costs a few allocations per block of lines instead of three per
// line. Blocks grow from arenaMinBlock while a read pass goes on, and reset
// drops them when it ends, so an idle file holds no block: a trickle of
// lines gets small blocks, a backlog large ones.
type arena struct {
	recs  []inflight
	buf   []byte
	block int // records in the next block
}

const (
	arenaMinBlock = 4
	arenaMaxBlock = 256
	arenaBufPer   = 512 // value bytes reserved per record of a block
)

func (a *arena) reset() { *a = arena{} }

// next returns a zeroed inflight.
func (a *arena) next() *inflight {
	if len(a.recs) == 0 {
		a.block = min(max(a.block*2, arenaMinBlock), arenaMaxBlock)
		a.recs = make([]inflight, a.block)
	}
	in := &a.recs[0]
	a.recs = a.recs[1:]
	return in
}

// value returns an empty buffer with room for about need bytes. After
// appending to it, the caller passes the result to used.
func (a *arena) value(need int) []byte {
	if need > arenaMaxBlock*arenaBufPer/4 {
		return make([]byte, 0, need) // a huge line gets its own buffer
	}
	if cap(a.buf)-len(a.buf) < need {
		a.buf = make([]byte, 0, max(a.block*arenaBufPer, need))
	}
	return a.buf[len(a.buf):]
}

// used records that v, built by appending to a.value's buffer, is taken, and
// returns it with its capacity cut to its length so that nothing appends
// into the next record's bytes. If appending outgrew the buffer, v lives in
// its own allocation and the arena's buffer is left as it was.
func (a *arena) used(v []byte) []byte {
	free := a.buf[len(a.buf):]
	if len(v) > 0 && cap(v) == cap(free) && &v[:1][0] == &free[:1][0] {
		a.buf = a.buf[:len(a.buf)+len(v)]
	}
	return v[:len(v):len(v)]
}
