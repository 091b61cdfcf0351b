package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/retry"
)

// topicWatcher follows the etcd key holding extra topics (a JSON list of
// names): the value is read, then watched from the next revision; a new
// topic in it is consumed at once (kgo AddConsumeTopics). A topic removed
// from the list keeps being consumed until restart, and an invalid value is
// logged and ignored.
type topicWatcher struct {
	t       *Transfer
	cli     *clientv3.Client
	key     string
	current map[string]bool // topics consumed (config and etcd)
}

// run follows the key until ctx is done, re-reading it after a watch error
// (compaction, lost leader) and retrying while etcd is down.
func (w *topicWatcher) run(ctx context.Context) {
	log := w.t.log.With("etcd_key", w.key)
	b := retry.Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), 10*time.Second)
		resp, err := w.cli.Get(rctx, w.key)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				d := b.Next()
				log.Warn("cannot read the topics key from etcd; retrying", "retry_in", d.Round(time.Millisecond).String(), "err", err.Error())
				retry.Sleep(ctx, d)
			}
			continue
		}
		b.Reset()
		if len(resp.Kvs) == 0 {
			log.Info("no topics key in etcd yet")
		} else {
			w.apply(resp.Kvs[0].Value)
		}
		for wr := range w.cli.Watch(clientv3.WithRequireLeader(ctx), w.key, clientv3.WithRev(resp.Header.Revision+1)) {
			if err := wr.Err(); err != nil {
				log.Warn("etcd watch failed; reading the key again", "err", err.Error())
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypePut {
					w.apply(ev.Kv.Value)
				} else {
					log.Warn("topics key deleted: the topics keep being consumed until restart")
				}
			}
		}
	}
}

// apply consumes the topics of value not consumed yet.
func (w *topicWatcher) apply(value []byte) {
	topics, err := parseTopics(value)
	if err != nil {
		w.t.log.Error("invalid topics in etcd; ignored", "etcd_key", w.key, "err", err.Error())
		return
	}
	var added []string
	for _, tp := range topics {
		if !w.current[tp] {
			w.current[tp] = true
			added = append(added, tp)
		}
	}
	var removed []string
	for tp := range w.current {
		if !slices.Contains(topics, tp) && !slices.Contains(w.t.cfg.Kafka.Topics, tp) {
			removed = append(removed, tp)
		}
	}
	if len(added) > 0 {
		w.t.kcl.AddConsumeTopics(added...)
		w.t.log.Info("consuming new topics from etcd", "etcd_key", w.key, "topics", added)
	}
	if len(removed) > 0 {
		w.t.log.Warn("topics removed from etcd are consumed until restart", "etcd_key", w.key, "topics", removed)
	}
}

// parseTopics parses a JSON list of valid topic names.
func parseTopics(value []byte) ([]string, error) {
	var topics []string
	if err := json.Unmarshal(value, &topics); err != nil {
		return nil, fmt.Errorf("want a JSON list of topic names: %w", err)
	}
	for _, tp := range topics {
		if !validTopic(tp) {
			return nil, fmt.Errorf("%q: not a valid topic name", tp)
		}
	}
	return topics, nil
}
