package transfer

import (
	"context"
	"strings"
	"time"

	"github.com/logcollect/logcollect/internal/esindex"
)

// retentionLoop runs retention once Run has connected, then every
// retention.interval until ctx is done.
//
// Every instance of the group runs it, unsynchronised: each one lists the
// indices and deletes the old ones by exact name, and an index another
// instance deleted first is simply absent (esindex.Delete reports it, and
// it is neither counted nor an error). An index is deleted only when all
// three hold:
//   - logtransfer's `index` setting makes exactly its name, for a date
//     (esindex.Template.Match: not a hidden or system index, not another
//     date format, not a name with text around it);
//   - its topic is one this instance consumes (the configured topics, those
//     topic_regex matched, those added from etcd): a daily index of another
//     tool with a look-alike name ("filebeat-7.17.0-2026.01.01") is left
//     alone;
//   - every document it can hold is older than retention.max_age
//     (esindex.Index.OlderThan: its period ended that long ago).
//
// A late record for a deleted day (a backlog older than max_age) creates the
// index again, and the next run deletes it again.
func (t *Transfer) retentionLoop(ctx context.Context) {
	tick := time.NewTicker(t.cfg.Retention.Interval.D())
	defer tick.Stop()
	for {
		t.applyRetention(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// applyRetention deletes the indices retention.max_age makes old (see
// retentionLoop), logging and counting each deletion and each failure. Each
// request is bounded by elasticsearch.timeout.
func (t *Transfer) applyRetention(ctx context.Context) {
	es := t.es.Load()
	if es == nil {
		return
	}
	maxAge := t.cfg.Retention.MaxAge
	infos, err := esindex.List(ctx, es, t.namer)
	if err != nil {
		if ctx.Err() == nil {
			t.m.RetentionErrors.Inc()
			t.log.Warn("retention: cannot list the indices; trying again next interval", "interval", t.cfg.Retention.Interval.String(), "err", err.Error())
		}
		return
	}
	consumed := map[string]bool{}
	for _, tp := range t.kcl.GetConsumeTopics() {
		consumed[strings.ToLower(tp)] = true
	}
	for _, idx := range esindex.Old(infos, maxAge.D(), time.Now()) {
		if !consumed[idx.Topic] {
			continue
		}
		deleted, err := esindex.Delete(ctx, es, idx.Name)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return
			}
			t.m.RetentionErrors.Inc()
			t.log.Warn("retention: cannot delete an old index; trying again next interval", "index", idx.Name, "err", err.Error())
		case deleted:
			t.m.RetentionDeleted.Inc()
			t.log.Info("retention: deleted an index older than retention.max_age", "index", idx.Name, "topic", idx.Topic,
				"docs", idx.Docs, "bytes", idx.Bytes, "max_age", maxAge.String())
		default:
			t.log.Debug("retention: index already deleted (by another instance?)", "index", idx.Name)
		}
	}
}
