package transfer

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Why a partition is stalled: the values of the reason label of
// logtransfer_stalled_partitions and logtransfer_stall_seconds, a closed
// set.
const (
	// stallES5xx: Elasticsearch answers documents with 5xx (a shard is not
	// available, the node fails the write).
	stallES5xx = "es_5xx"
	// stallESRejected: Elasticsearch answers documents with 429, rejected
	// execution or a circuit breaker: it is overloaded.
	stallESRejected = "es_rejected"
	// stallIndexBlocked: a block refuses writes (403 cluster_block_exception):
	// index.blocks.write or index.blocks.read_only, which operators and
	// lifecycle tools set during shrink, force-merge or restore, or a
	// cluster-wide cluster.blocks.read_only.
	stallIndexBlocked = "index_blocked"
	// stallDiskWatermark: the flood-stage disk watermark made the index
	// read-only-allow-delete (429 cluster_block_exception).
	stallDiskWatermark = "disk_watermark"
	// stallESUnavailable: the bulk request itself failed: no connection, a
	// timeout, a 5xx for the whole request, refused credentials.
	stallESUnavailable = "es_unavailable"
	// stallDLQUnavailable: Kafka does not take the rejected records into
	// the dead-letter topic.
	stallDLQUnavailable = "dlq_unavailable"
)

var stallReasons = []string{stallES5xx, stallESRejected, stallIndexBlocked, stallDiskWatermark, stallESUnavailable, stallDLQUnavailable}

// Stall logging: a partition is logged once it has been stalled for
// stallLogAfter (a retry or two are routine), then at most every
// stallLogEvery while it stays stalled, and once when it flows again.
// Variables for tests.
var (
	stallLogAfter = 10 * time.Second
	stallLogEvery = time.Minute
)

// isBlock reports whether Elasticsearch refused because of a block, the
// index's (or cluster's) state rather than the document's fault.
func isBlock(errType string) bool { return errType == "cluster_block_exception" }

// itemStallReason is the stall reason of a bulk item to retry.
func itemStallReason(it bulkItem) string {
	typ := ""
	if it.Error != nil {
		typ = it.Error.Type
	}
	switch {
	case isBlock(typ) && it.Status == http.StatusForbidden:
		return stallIndexBlocked
	case isBlock(typ) && it.Status == http.StatusTooManyRequests:
		return stallDiskWatermark
	case it.Status == http.StatusTooManyRequests:
		return stallESRejected
	}
	return stallES5xx
}

// requestStallReason is the stall reason of a failed bulk request.
func requestStallReason(err error) string {
	if isBlock(requestErrorReason(err)) {
		if statusOf(err) == http.StatusTooManyRequests {
			return stallDiskWatermark
		}
		return stallIndexBlocked
	}
	return stallESUnavailable
}

// partition is a topic partition.
type partition struct {
	topic     string
	partition int32
}

// stalledBy returns the partitions of docs, each with reason.
func stalledBy(docs []document, reason string) map[partition]string {
	out := make(map[partition]string)
	for _, d := range docs {
		out[partition{d.rec.Topic, d.rec.Partition}] = reason
	}
	return out
}

// stall is a stalled partition.
type stall struct {
	since   time.Time // when its oldest waiting record was first retried
	reason  string    // the latest reason
	holders int       // bulk requests retrying records of it
	logged  time.Time // last log line about it; zero before the first
}

// stalls tracks the partitions whose records wait for a retry (Elasticsearch
// or the DLQ does not take them): their offsets are not committed and the
// records behind them wait, which is right (nothing is dropped) but must be
// visible. It keeps logtransfer_stalled_partitions and
// logtransfer_stall_seconds by reason, and logs the stalled partitions
// (topic, partition, reason, how long) a few times, not on every retry.
// Safe for concurrent use: each bulk worker holds its own stallHold.
type stalls struct {
	log     *slog.Logger
	count   *prometheus.GaugeVec // reason
	seconds *prometheus.GaugeVec // reason
	now     func() time.Time

	mu    sync.Mutex
	parts map[partition]*stall
}

func newStalls(log *slog.Logger, m *Metrics) *stalls {
	return &stalls{log: log, count: m.StalledPartitions, seconds: m.StallSeconds, now: time.Now, parts: make(map[partition]*stall)}
}

// stallHold is what one retry loop (one bulk request's documents, or the
// records it sends to the DLQ) stalls. Not safe for concurrent use.
type stallHold struct {
	s    *stalls
	held map[partition]bool
}

func (s *stalls) hold() *stallHold { return &stallHold{s: s} }

// set marks the partitions of reasons as stalled, each for its reason,
// and releases those of the hold that reasons no longer has (their records
// went through).
func (h *stallHold) set(reasons map[partition]string) {
	if len(reasons) == 0 && len(h.held) == 0 {
		return // the common case, a bulk request taken whole: no lock
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	for p := range h.held {
		if _, ok := reasons[p]; !ok {
			s.releaseLocked(p, t)
		}
	}
	now := make(map[partition]bool, len(reasons))
	for p, reason := range reasons {
		now[p] = true
		st := s.parts[p]
		if st == nil {
			st = &stall{since: t}
			s.parts[p] = st
		}
		if !h.held[p] {
			st.holders++
		}
		if st.reason != reason && !st.logged.IsZero() {
			st.logged = time.Time{} // a new reason is logged at once
		}
		st.reason = reason
		s.logLocked(p, st, t)
	}
	h.held = now
	s.refreshLocked(t)
}

// release ends the hold: its partitions flow again (unless another hold
// still has them).
func (h *stallHold) release() {
	if len(h.held) == 0 {
		return
	}
	s := h.s
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	for p := range h.held {
		s.releaseLocked(p, t)
	}
	h.held = nil
	s.refreshLocked(t)
}

// logLocked logs that p is stalled if it is due: stalled for stallLogAfter
// and not logged for stallLogEvery.
func (s *stalls) logLocked(p partition, st *stall, t time.Time) {
	if d := t.Sub(st.since); d >= stallLogAfter && t.Sub(st.logged) >= stallLogEvery {
		st.logged = t
		s.log.Warn("partition stalled: its records wait for a retry; nothing is committed after them nor dropped meanwhile",
			"topic", p.topic, "partition", p.partition, "reason", st.reason, "stalled_for", d.Round(time.Second).String())
	}
}

func (s *stalls) releaseLocked(p partition, t time.Time) {
	st := s.parts[p]
	if st == nil {
		return
	}
	if st.holders--; st.holders > 0 {
		return
	}
	delete(s.parts, p)
	if !st.logged.IsZero() {
		s.log.Info("partition flows again", "topic", p.topic, "partition", p.partition, "reason", st.reason,
			"stalled_for", t.Sub(st.since).Round(time.Second).String())
	}
}

// refresh updates logtransfer_stall_seconds, which grows while a partition
// stays stalled, and logs the stalls that are due (retries can be minutes
// apart); lagLoop calls it every lagInterval.
func (s *stalls) refresh() {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.now()
	for p, st := range s.parts {
		s.logLocked(p, st, t)
	}
	s.refreshLocked(t)
}

func (s *stalls) refreshLocked(t time.Time) {
	count := make(map[string]int, len(stallReasons))
	longest := make(map[string]time.Duration, len(stallReasons))
	for _, st := range s.parts {
		count[st.reason]++
		longest[st.reason] = max(longest[st.reason], t.Sub(st.since))
	}
	for _, r := range stallReasons {
		s.count.WithLabelValues(r).Set(float64(count[r]))
		s.seconds.WithLabelValues(r).Set(longest[r].Seconds())
	}
}
