package agent

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
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
	if isZstd(cfg.Compression) {
		// The agent's own zstd compressor (compress.go) replaces
		// franz-go's; the other codecs are franz-go's.
		opts = append(opts, kgo.WithCompressor(newZstdCompressor()))
	} else {
		opts = append(opts, kgo.ProducerBatchCompression(codec))
	}
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

func isZstd(name string) bool {
	name = strings.ToLower(name)
	return name == "" || name == "zstd"
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
//
// It runs twice per line, on the harvester and on the promise goroutine, so
// while there is room it costs one atomic add each way; the mutex is only
// taken to wait and to wake waiters.
type limiter struct {
	maxRecords, maxBytes int64

	// state packs the records (high 24 bits) and bytes (low 40 bits) in
	// flight, so that one atomic add reserves or releases both.
	state atomic.Uint64
	armed atomic.Bool // an acquire waits (or is about to) on wake

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when a waiter may proceed
}

const (
	limiterBytesBits = 40
	limiterBytesMask = 1<<limiterBytesBits - 1
	limiterRecord    = 1 << limiterBytesBits
	// limiterMaxRecords and limiterMaxBytes are what state can count;
	// newLimiter caps the limits below them (with room for one record of
	// any size above the byte limit).
	limiterMaxRecords = 1<<(64-limiterBytesBits) - 2
	limiterMaxBytes   = 1 << (limiterBytesBits - 2)
)

func newLimiter(maxRecords, maxBytes int) *limiter {
	return &limiter{
		maxRecords: min(int64(maxRecords), limiterMaxRecords),
		maxBytes:   min(int64(maxBytes), limiterMaxBytes),
		wake:       make(chan struct{}),
	}
}

func unpackLimiter(s uint64) (records, bytes int64) {
	return int64(s >> limiterBytesBits), int64(s & limiterBytesMask)
}

// tryAcquire reserves room for one record of n bytes if there is room. A
// record larger than the byte limit is let through when nothing else is in
// flight.
func (l *limiter) tryAcquire(n int64) bool {
	for {
		s := l.state.Load()
		records, bytes := unpackLimiter(s)
		if records != 0 && (records >= l.maxRecords || bytes+n > l.maxBytes) {
			return false
		}
		if l.state.CompareAndSwap(s, s+limiterRecord+uint64(n)) {
			return true
		}
	}
}

// acquire reserves room for one record of n bytes, waiting until there is
// some or ctx is done.
func (l *limiter) acquire(ctx context.Context, n int) error {
	_, err := l.acquireWaited(ctx, n)
	return err
}

// acquireWaited is acquire that also reports whether it had to wait.
func (l *limiter) acquireWaited(ctx context.Context, n int) (waited bool, err error) {
	if int64(n) > limiterMaxBytes {
		n = limiterMaxBytes // counted as the largest record state can hold
	}
	if l.tryAcquire(int64(n)) {
		return false, nil
	}
	return true, l.wait(ctx, int64(n))
}

func (l *limiter) wait(ctx context.Context, n int64) error {
	for {
		// Arm the wake-up before checking again: a release that frees
		// room after this check sees armed and closes w (or a later
		// channel, once w is closed).
		l.mu.Lock()
		l.armed.Store(true)
		w := l.wake
		l.mu.Unlock()
		if l.tryAcquire(n) {
			return nil
		}
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		if l.tryAcquire(n) {
			return nil
		}
	}
}

func (l *limiter) release(n int) {
	if int64(n) > limiterMaxBytes {
		n = limiterMaxBytes
	}
	l.state.Add(-(limiterRecord + uint64(n)))
	if l.armed.Load() && l.armed.CompareAndSwap(true, false) {
		l.mu.Lock()
		close(l.wake)
		l.wake = make(chan struct{})
		l.mu.Unlock()
	}
}

func (l *limiter) buffered() (records, bytes int64) {
	return unpackLimiter(l.state.Load())
}

// shipper hands records to the producer within the in-flight limits and
// turns acknowledgements into committed offsets.
type shipper struct {
	prod    Producer
	lim     *limiter
	log     *slog.Logger
	promise func(*kgo.Record, error) // s.acked, bound once: a method value per record would allocate
	clock   ackClock
}

// ackClock measures produce latencies without reading the clock for every
// acknowledgement (time.Now costs up to 200 ns on some virtual machines, as
// much as the rest of acked). Promises come in runs, one per produced batch:
// the clock is read for every ackClockStride-th record, and for any record
// stamped after the last reading (the first of a run after a pause); the
// records between get the last reading. Latencies are in the histogram's
// buckets of 0.5 ms and more, and the timestamps themselves are truncated to
// the millisecond by the client.
type ackClock struct {
	n    atomic.Uint32
	last atomic.Int64 // Unix nanoseconds of the last reading
}

const ackClockStride = 16

// since is time.Since(t), give or take the time since the last reading.
func (c *ackClock) since(t time.Time) time.Duration {
	ts := t.UnixNano()
	if last := c.last.Load(); ts <= last && c.n.Add(1)%ackClockStride != 0 {
		return time.Duration(last - ts)
	}
	now := time.Now().UnixNano()
	c.last.Store(now)
	return time.Duration(now - ts)
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
	end int64       // file offset committed once Kafka acknowledges the record
	blk *arenaBlock // the block in holds, recycled once all its records are done
	// prev is the arena's previous block when in started a new one: the
	// record's bytes may be in it. nil otherwise.
	prev *arenaBlock
}

// send waits for room in the in-flight limits (or ctx), then produces in.rec.
// Once Kafka acknowledges it, in.end becomes the committed offset of in.e (for
// generation in.gen); if Kafka fails it, the generation is marked failed and
// the harvester re-reads from the committed offset.
//
// Records are produced with a context that is never cancelled: cancelling a
// buffered record fails every record buffered for its partition, including
// other files'. A stopped task's records are still delivered and committed.
//
// The record's timestamp (its Kafka CreateTime, and where the produce latency
// is measured from) is the read time the harvester set, which is at most one
// read chunk old; after a wait for room it is the end of the wait. Unset, the
// client sets it (to time.Now, which costs as much as a tenth of a line's
// work on some virtual machines).
func (s *shipper) send(ctx context.Context, in *inflight) error {
	waited, err := s.lim.acquireWaited(ctx, len(in.rec.Value))
	if err != nil {
		return err
	}
	if waited {
		in.rec.Timestamp = time.Now()
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
		in.tm.latency.Observe(s.clock.since(r.Timestamp).Seconds())
	}
	r.Key, r.Value, r.Context = nil, nil, nil
	in.hdr[0].Value = nil
	// Last: once its blocks are recycled, in may be handed out again.
	blk, prev := in.blk, in.prev
	prev.done()
	blk.done()
}

// arena hands out inflights and record value buffers in blocks, so shipping
// a backlog costs no allocation per line. Blocks grow from arenaMinBlock
// while a read pass goes on, and reset drops them when it ends, so an idle
// file holds no block: a trickle of lines gets small blocks, a backlog large
// ones. A full-size block goes back to a pool once the arena has moved on
// and Kafka has acknowledged (or failed) all its records, so a backlog reuses
// the same few blocks instead of allocating (and the GC scanning) one per
// 256 lines.
//
// Blocks change only in next, so the bytes of a record (taken with value and
// used before or after its inflight, in any order) are in the block of its
// inflight or, when next started a new block, in the one before, which the
// inflight then also holds (inflight.prev).
type arena struct {
	blk   *arenaBlock // the current block, nil before the first
	recs  []inflight  // its free inflights
	buf   []byte      // its value buffer: used up to len, free after
	full  bool        // the buffer ran short: the next inflight starts a new block
	block int         // records in the next block
}

// arenaBlock is one block's memory. refs counts its inflights not yet done,
// the arena's free ones included, plus one while it is an arena's current
// block: next hands one out without touching refs, and the arena drops the
// free ones and its own when it moves on.
type arenaBlock struct {
	recs []inflight
	buf  []byte
	refs atomic.Int32
}

const (
	arenaMinBlock = 4
	arenaMaxBlock = 256
	arenaBufPer   = 512 // value bytes reserved per record of a block
)

var arenaPool = sync.Pool{New: func() any {
	return &arenaBlock{recs: make([]inflight, arenaMaxBlock), buf: make([]byte, arenaMaxBlock*arenaBufPer)}
}}

// done drops one reference to b (an inflight's), and recycles b when it was
// the last. A nil b (an inflight not from an arena) is left alone.
func (b *arenaBlock) done() { b.drop(1) }

func (b *arenaBlock) drop(n int32) {
	if b == nil || b.refs.Add(-n) != 0 {
		return
	}
	if len(b.recs) == arenaMaxBlock {
		clear(b.recs) // drop what the records pointed to
		arenaPool.Put(b)
	}
}

func (a *arena) reset() {
	a.leave()
	*a = arena{}
}

// leave drops the arena's references to its current block.
func (a *arena) leave() {
	if a.blk != nil {
		a.blk.drop(int32(len(a.recs)) + 1)
	}
}

// grow moves to a new block.
func (a *arena) grow() {
	a.leave()
	a.block = min(max(a.block*2, arenaMinBlock), arenaMaxBlock)
	var b *arenaBlock
	if a.block == arenaMaxBlock {
		b = arenaPool.Get().(*arenaBlock)
	} else {
		b = &arenaBlock{recs: make([]inflight, a.block), buf: make([]byte, a.block*arenaBufPer)}
	}
	b.refs.Store(int32(len(b.recs)) + 1)
	a.blk, a.recs, a.buf, a.full = b, b.recs, b.buf[:0], false
}

// next returns a zeroed inflight.
func (a *arena) next() *inflight {
	var prev *arenaBlock
	if len(a.recs) == 0 || a.full {
		if prev = a.blk; prev != nil {
			prev.refs.Add(1) // the inflight's: its bytes may be there
		}
		a.grow()
	}
	in := &a.recs[0]
	a.recs = a.recs[1:]
	*in = inflight{blk: a.blk, prev: prev}
	return in
}

// value returns an empty buffer with room for about need bytes. After
// appending to it, the caller passes the result to used. When the block's
// buffer is short, the bytes come from the heap and the next inflight starts
// a new block.
func (a *arena) value(need int) []byte {
	if a.blk == nil {
		a.grow()
	}
	if cap(a.buf)-len(a.buf) < need {
		a.full = true
		return make([]byte, 0, need)
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
