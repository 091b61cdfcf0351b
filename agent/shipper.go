package agent

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/kafkaclient"
)

// Producer is the part of the Kafka client the agent uses. Promises are called
// serially, in produce order per partition, and must not block.
type Producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
}

var _ Producer = (*kgo.Client)(nil)

// maxRecordBytes caps an encoded record below the producer's batch limit
// (kafkaclient.MaxBatchBytes) and the broker's default message.max.bytes,
// with room for the batch and record overhead, so that no record is rejected
// as too large: longer events are truncated and flagged instead.
const maxRecordBytes = 1_000_000 - 4096

// shipper hands records to the producer within the in-flight limits and
// turns acknowledgements into committed offsets.
type shipper struct {
	prod    Producer
	lim     *limiter
	up      *kafkaUp
	topics  *kafkaclient.Topics // told of acknowledgements and failures (missing topics)
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

func newShipper(prod Producer, lim *limiter, up *kafkaUp, topics *kafkaclient.Topics, log *slog.Logger) *shipper {
	s := &shipper{prod: prod, lim: lim, up: up, topics: topics, log: log}
	s.promise = s.acked
	return s
}

// inflight is a record on its way to Kafka with what its acknowledgement
// updates. The record's Context is the inflight itself, so one promise serves
// every record, and harvesters take inflights from an arena: nothing is
// allocated per line.
//
// As a context.Context it is context.Background, and its methods read none of
// its fields: kgo may still call the first record's Done after that record's
// promise (the goroutine that waits for a new topic's metadata selects on it
// once more), when the arena may have handed the inflight out again.
type inflight struct {
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
	in.rec.Context = in
	s.prod.Produce(context.Background(), &in.rec, s.promise)
	return nil
}

// The context.Context of a record: never done, no values, no field read.

func (*inflight) Deadline() (time.Time, bool) { return time.Time{}, false }
func (*inflight) Done() <-chan struct{}       { return nil }
func (*inflight) Err() error                  { return nil }
func (*inflight) Value(any) any               { return nil }

var _ context.Context = (*inflight)(nil)

func (s *shipper) acked(r *kgo.Record, err error) {
	in := r.Context.(*inflight)
	s.lim.release(len(r.Value))
	if err != nil {
		in.tm.sendErrors.Inc()
		s.up.fail()
		s.topics.Failed(r.Topic, err)
		if in.e.fail(in.gen) {
			s.log.Warn("kafka did not acknowledge a record", "topic", r.Topic, "file", in.e.ID.String(), "err", err)
		}
	} else {
		in.e.ack(in.gen, in.end)
		s.up.ack()
		s.topics.Acked(r.Topic)
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
