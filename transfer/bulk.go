package transfer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logcollect/logcollect/internal/config"
	"github.com/logcollect/logcollect/internal/retry"
)

// outcome is what to do with one bulk item.
type outcome int

const (
	outcomeOK     outcome = iota // accepted: ack
	outcomeRetry                 // 429, 5xx, a block: send again later
	outcomeReject                // other 4xx (mapping conflict…): DLQ, then ack
)

// classify maps a bulk item's HTTP status and error type to an outcome. A
// block (cluster_block_exception: 403 for index.blocks.write or read_only,
// 429 for the flood-stage watermark's read_only_allow_delete) is the
// index's state, not the document's fault: the document is retried until
// the block is lifted, never sent to the DLQ.
func classify(it bulkItem) outcome {
	switch status := it.Status; {
	case status >= 200 && status < 300:
		return outcomeOK
	case status == http.StatusTooManyRequests || status >= 500 || status < 200:
		return outcomeRetry
	case it.Error != nil && isBlock(it.Error.Type):
		return outcomeRetry
	default:
		return outcomeReject
	}
}

// connect builds the Elasticsearch client and installs the index template,
// retrying with backoff until both succeed or ctx is done.
func (t *Transfer) connect(ctx context.Context) error {
	b := retry.Backoff{Min: t.cfg.Bulk.RetryBackoff.D(), Max: t.cfg.Bulk.RetryMaxBackoff.D()}
	for {
		err := t.tryConnect(ctx)
		if err == nil {
			t.m.ESUp.Set(1)
			t.setAuthFailing(false, nil)
			return nil
		}
		t.m.ESUp.Set(0)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := b.Next()
		if isAuthError(err) {
			t.setAuthFailing(true, err)
		} else {
			t.log.Error("elasticsearch is not usable yet; retrying", "urls", config.RedactURLs(t.cfg.Elasticsearch.URLs), "retry_in", d.Round(time.Millisecond).String(), "err", err.Error())
		}
		if !retry.Sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

func (t *Transfer) tryConnect(ctx context.Context) error {
	es := t.es.Load()
	if es == nil {
		var err error
		if es, err = elastic.NewClient(t.esOpts...); err != nil {
			return fmt.Errorf("elasticsearch client: %w", err)
		}
		t.es.Store(es)
	}
	if err := t.installTemplate(ctx, es); err != nil {
		return err
	}
	t.connected.Store(true)
	return nil
}

// indexChunk sends docs in one bulk request and retries what Elasticsearch
// could not take (the failed subset only) with backoff, calling pause before
// the first retry. Rejected documents go to the DLQ. It returns the records
// acknowledged: all of them unless ctx was cancelled first.
func (t *Transfer) indexChunk(ctx context.Context, docs []document, pause func()) []*kgo.Record {
	acked := make([]*kgo.Record, 0, len(docs))
	b := retry.Backoff{Min: t.cfg.Bulk.RetryBackoff.D(), Max: t.cfg.Bulk.RetryMaxBackoff.D()}
	stalled := t.stalls.hold()
	defer stalled.release()
	pending := docs
	for len(pending) > 0 {
		start := time.Now()
		items, err := bulk(ctx, t.es.Load(), pending)
		t.m.BulkDuration.Observe(time.Since(start).Seconds())
		t.m.BulkSize.Observe(float64(len(pending)))
		if err != nil {
			if ctx.Err() != nil {
				return acked
			}
			reason := requestErrorReason(err)
			for _, d := range pending {
				t.m.IndexErrors.WithLabelValues(d.rec.Topic, reason).Inc()
			}
			if statusOf(err) == http.StatusRequestEntityTooLarge {
				// Elasticsearch answered: it is up, the request is too big.
				t.m.ESUp.Set(1)
				return append(acked, t.splitTooLarge(ctx, pending, pause)...)
			}
			t.m.ESUp.Set(0)
			auth := isAuthError(err)
			t.setAuthFailing(auth, err)
			stalled.set(stalledBy(pending, requestStallReason(err)))
			pause()
			wait := b.Next()
			if !auth { // an auth failure is logged once, by setAuthFailing
				t.logRetry(b.Attempts(), "bulk request failed; retrying", "docs", len(pending), "retry_in", wait.Round(time.Millisecond).String(), "err", err.Error())
			}
			if !retry.Sleep(ctx, wait) {
				return acked
			}
			continue
		}
		t.m.ESUp.Set(1)
		t.setAuthFailing(false, nil)
		var again, reject []document
		var reasons []*elastic.ErrorDetails
		firstRetry := ""
		var stalls map[partition]string // the partitions of again
		now := time.Now()
		for i, item := range items {
			d := pending[i]
			switch classify(item) {
			case outcomeOK:
				acked = append(acked, d.rec)
				t.indexed.get(d.rec.Topic).Inc()
				t.m.EndToEnd.Observe(now.Sub(d.ts).Seconds())
			case outcomeRetry:
				typ := errorType(item)
				t.m.IndexErrors.WithLabelValues(d.rec.Topic, typ).Inc()
				if len(again) == 0 {
					firstRetry = typ
					stalls = map[partition]string{}
				}
				again = append(again, d)
				stalls[partition{d.rec.Topic, d.rec.Partition}] = itemStallReason(item)
			case outcomeReject:
				t.m.IndexErrors.WithLabelValues(d.rec.Topic, errorType(item)).Inc()
				reject = append(reject, d)
				reasons = append(reasons, item.Error)
			}
		}
		if len(reject) > 0 {
			if !t.sendDLQ(ctx, reject, reasons) {
				return acked
			}
			for _, d := range reject {
				acked = append(acked, d.rec)
			}
		}
		pending = again
		stalled.set(stalls)
		if len(again) > 0 {
			pause()
			wait := b.Next()
			t.logRetry(b.Attempts(), "elasticsearch did not take every document; retrying those", "docs", len(again), "retry_in", wait.Round(time.Millisecond).String(), "reason", firstRetry)
			if !retry.Sleep(ctx, wait) {
				return acked
			}
		} else if b.Attempts() > 0 {
			t.log.Info("elasticsearch took the documents after retries", "retries", b.Attempts())
			b.Reset()
		}
	}
	return acked
}

// logRetry logs a retry: the first of a series and every tenth at warn
// level, the others at debug level, so that an outage does not flood the log.
func (t *Transfer) logRetry(attempt int, msg string, args ...any) {
	level := slog.LevelDebug
	if attempt == 1 || attempt%10 == 0 {
		level = slog.LevelWarn
		args = append(args, "attempt", attempt)
	}
	t.log.Log(context.Background(), level, msg, args...)
}

// errorType is the Elasticsearch error type of an item, a bounded label.
func errorType(it bulkItem) string {
	switch {
	case it.Error != nil && it.Error.Type != "":
		return it.Error.Type
	case it.Status == 0:
		return "unknown"
	}
	return fmt.Sprintf("status_%d", it.Status)
}

// splitTooLarge handles a bulk request Elasticsearch refused with 413
// (larger than its http.max_content_length): it indexes each half of docs
// as its own request, halving again as long as they are refused, and
// returns the records acknowledged. A single document that is still too
// large can never be indexed: it goes to the DLQ. Retrying the same request
// would block the partitions forever.
func (t *Transfer) splitTooLarge(ctx context.Context, docs []document, pause func()) []*kgo.Record {
	size := 0
	for _, d := range docs {
		size += d.bulkSize()
	}
	if len(docs) == 1 {
		d := docs[0]
		details := &elastic.ErrorDetails{
			Type:   "request_entity_too_large",
			Reason: fmt.Sprintf("the document alone makes a bulk request of about %d bytes, over Elasticsearch's http.max_content_length", size),
		}
		if !t.sendDLQ(ctx, docs, []*elastic.ErrorDetails{details}) {
			return nil
		}
		return []*kgo.Record{d.rec}
	}
	if last := t.tooLargeLogged.Load(); time.Since(time.Unix(0, last)) >= time.Minute && t.tooLargeLogged.CompareAndSwap(last, time.Now().UnixNano()) {
		t.log.Warn("elasticsearch refused a bulk request as too large (413, http.max_content_length); splitting it in halves. Lower bulk.bytes below that limit",
			"docs", len(docs), "bytes", size, "bulk_bytes", t.cfg.Bulk.Bytes)
	}
	half := len(docs) / 2
	acked := t.indexChunk(ctx, docs[:half], pause)
	if ctx.Err() != nil {
		return acked
	}
	return append(acked, t.indexChunk(ctx, docs[half:], pause)...)
}

// isAuthError reports whether a request failed because Elasticsearch
// refused the credentials (401) or the user's privileges (403); a 403 for a
// cluster-wide block (cluster.blocks.read_only) is no auth error.
func isAuthError(err error) bool {
	s := statusOf(err)
	return s == http.StatusUnauthorized || (s == http.StatusForbidden && !isBlock(requestErrorReason(err)))
}

// statusOf is the HTTP status of an Elasticsearch error, wrapped or not; 0
// for other errors (connection failures).
func statusOf(err error) int {
	var ee *elastic.Error
	if errors.As(err, &ee) {
		return ee.Status
	}
	return 0
}

// setAuthFailing records whether Elasticsearch refuses the credentials, and
// logs when that changes (not on every retry): requests keep being retried,
// because dropping the records would lose them.
func (t *Transfer) setAuthFailing(failing bool, err error) {
	if t.authFailing.Swap(failing) == failing {
		return
	}
	if failing {
		t.log.Error("elasticsearch refuses the credentials or their privileges; retrying until it accepts them, "+
			"nothing is dropped or committed meanwhile. Check elasticsearch.username/password or api_key, and the user's index privileges",
			"urls", config.RedactURLs(t.cfg.Elasticsearch.URLs), "status", statusOf(err), "err", err.Error())
	} else {
		t.log.Info("elasticsearch accepts the credentials again")
	}
}

// requestErrorReason labels a failed bulk request.
func requestErrorReason(err error) string {
	var ee *elastic.Error
	if !errors.As(err, &ee) {
		return "connection"
	}
	if ee.Details != nil && isBlock(ee.Details.Type) {
		return ee.Details.Type
	}
	switch ee.Status {
	case http.StatusUnauthorized:
		return "unauthorized"
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusRequestEntityTooLarge:
		return "request_entity_too_large"
	}
	if ee.Details != nil && ee.Details.Type != "" {
		return ee.Details.Type
	}
	return fmt.Sprintf("status_%d", ee.Status)
}

// sendDLQ produces the rejected documents' records to the DLQ, with the
// error in headers, retrying until Kafka acknowledges them all or ctx is
// done; it reports whether they were all acknowledged.
func (t *Transfer) sendDLQ(ctx context.Context, docs []document, reasons []*elastic.ErrorDetails) bool {
	recs := make([]*kgo.Record, len(docs))
	for i, d := range docs {
		typ, reason := "unknown", "unknown"
		if e := reasons[i]; e != nil {
			typ, reason = e.Type, e.Reason
			if e.CausedBy != nil {
				if c, ok := e.CausedBy["reason"].(string); ok {
					reason += ": " + c
				}
			}
		}
		r := d.rec
		headers := append([]kgo.RecordHeader(nil), r.Headers...)
		headers = append(headers,
			kgo.RecordHeader{Key: "error.type", Value: []byte(typ)},
			kgo.RecordHeader{Key: "error.reason", Value: []byte(reason)},
			kgo.RecordHeader{Key: "source.id", Value: []byte(d.id)},
			kgo.RecordHeader{Key: "source.topic", Value: []byte(r.Topic)},
			kgo.RecordHeader{Key: "source.partition", Value: strconv.AppendInt(nil, int64(r.Partition), 10)},
			kgo.RecordHeader{Key: "source.offset", Value: strconv.AppendInt(nil, r.Offset, 10)},
		)
		recs[i] = &kgo.Record{
			Topic:     strings.ReplaceAll(t.cfg.DLQ.Topic, "{topic}", r.Topic),
			Key:       r.Key,
			Value:     r.Value,
			Headers:   headers,
			Timestamp: r.Timestamp,
		}
		t.log.Warn("document rejected; sending the record to the DLQ", "id", d.id, "dlq", recs[i].Topic, "error_type", typ, "error_reason", reason)
	}
	b := retry.Backoff{Min: t.cfg.Bulk.RetryBackoff.D(), Max: t.cfg.Bulk.RetryMaxBackoff.D()}
	stalled := t.stalls.hold()
	defer stalled.release()
	source := make(map[*kgo.Record]document, len(recs))
	for i, r := range recs {
		source[r] = docs[i]
	}
	for {
		// With kafka.create_topics, a DLQ topic is created before its
		// first record (once: Ensure remembers it).
		for _, r := range recs {
			if err := t.topics.Ensure(ctx, r.Topic); err != nil && ctx.Err() == nil {
				t.log.Error("cannot create the DLQ topic", "topic", r.Topic, "err", err)
			}
		}
		var failed []*kgo.Record
		var firstErr error
		stalls := map[partition]string{}
		for _, pr := range t.kcl.ProduceSync(ctx, recs...) {
			if pr.Err != nil {
				t.topics.Failed(pr.Record.Topic, pr.Err)
				failed = append(failed, pr.Record)
				firstErr = pr.Err
				d := source[pr.Record]
				stalls[partition{d.rec.Topic, d.rec.Partition}] = stallDLQUnavailable
				continue
			}
			t.topics.Acked(pr.Record.Topic)
			t.m.DLQRecords.WithLabelValues(docTopic(pr.Record)).Inc()
		}
		if len(failed) == 0 {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		stalled.set(stalls)
		wait := b.Next()
		t.logRetry(b.Attempts(), "DLQ produce failed; retrying", "records", len(failed), "dlq", failed[0].Topic, "retry_in", wait.Round(time.Millisecond).String(), "err", firstErr.Error())
		if !retry.Sleep(ctx, wait) {
			return false
		}
		recs = failed
	}
}

// docTopic is the source topic of a DLQ record, from its source.topic header.
func docTopic(r *kgo.Record) string {
	for _, h := range r.Headers {
		if h.Key == "source.topic" {
			return string(h.Value)
		}
	}
	return r.Topic
}
