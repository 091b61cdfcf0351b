package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/kafkaclient"
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

// run follows the key until ctx is done (see watchKey).
func (w *topicWatcher) run(ctx context.Context) {
	watchKey(ctx, w.cli, w.key, "topics", w.t.log, func(k keyState) {
		switch {
		case k.exists:
			w.apply(k.value)
		case k.read:
			w.t.log.Info("no topics key in etcd yet", "etcd_key", w.key)
		default:
			w.t.log.Warn("topics key deleted: the topics keep being consumed until restart", "etcd_key", w.key)
		}
	}, nil)
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
		if !kafkaclient.ValidTopic(tp) {
			return nil, fmt.Errorf("%q: not a valid topic name", tp)
		}
	}
	return topics, nil
}
