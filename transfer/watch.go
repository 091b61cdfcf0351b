package transfer

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/internal/retry"
)

// keyState is what watchKey reports about its key: its value, or that it
// does not exist; read is true when it comes from a read of the key (at the
// start, or again after a watch error) rather than from a watch event.
type keyState struct {
	value  []byte
	exists bool
	read   bool
}

// watchKey follows one etcd key until ctx is done, the way logtransfer
// follows its etcd keys (topics, pipelines): read it, report it, then watch
// it from the next revision and report each change; after a watch error
// (compaction, lost leader) read it again; while etcd cannot be read, retry
// with backoff. Every read and event goes to apply, on this goroutine, in
// order. firstRead, when not nil, is called once after the first read
// attempt, whether it succeeded or not.
func watchKey(ctx context.Context, cli *clientv3.Client, key, what string, log *slog.Logger, apply func(keyState), firstRead func()) {
	log = log.With("etcd_key", key)
	b := retry.Backoff{Min: 500 * time.Millisecond, Max: 10 * time.Second}
	done := func() {
		if firstRead != nil {
			firstRead()
			firstRead = nil
		}
	}
	defer done()
	for ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(clientv3.WithRequireLeader(ctx), 10*time.Second)
		resp, err := cli.Get(rctx, key)
		cancel()
		if err != nil {
			done()
			if ctx.Err() == nil {
				d := b.Next()
				log.Warn("cannot read the "+what+" key from etcd; retrying", "retry_in", d.Round(time.Millisecond).String(), "err", err.Error())
				retry.Sleep(ctx, d)
			}
			continue
		}
		b.Reset()
		if len(resp.Kvs) == 0 {
			apply(keyState{read: true})
		} else {
			apply(keyState{value: resp.Kvs[0].Value, exists: true, read: true})
		}
		done()
		for wr := range cli.Watch(clientv3.WithRequireLeader(ctx), key, clientv3.WithRev(resp.Header.Revision+1)) {
			if err := wr.Err(); err != nil {
				log.Warn("etcd watch failed; reading the key again", "err", err.Error())
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == clientv3.EventTypePut {
					apply(keyState{value: ev.Kv.Value, exists: true})
				} else {
					apply(keyState{})
				}
			}
		}
	}
}
